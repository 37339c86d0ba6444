"""What the browser tests share: a gated real clip, the appliance wired as `hiitpi serve` wires it
(with two short programs beside the real rules), waiting, reading and screenshots of a page.

The programs are short so that a real clip (16.5 s, 10 squats) runs through a whole Tabata or
circuit: "Tabata test" is 2 rounds of 5 s of squats and 3 s of rest; "Circuit test" is 5 s of
squats, 2 s rest, 3 s of jumping jacks, 2 s rest, 4 s of squats.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

CLIP = "squat/wahoo_squats_trim.mp4"
CLIP_REPS = 10  # manifest gt_reps (hand-counted; gt_min = gt_max = 10)
ARTIFACTS = Path(os.environ.get("HIITPI_TEST_ARTIFACTS") or REPO / "test-artifacts")
PHONE = (390, 844)
LAPTOP = (1280, 800)

TEST_PROGRAMS = {
    "tabata_test": 'name = "tabata_test"\ntitle = "Tabata test"\nrounds = 2\n\n'
    '[[blocks]]\nworkout = "squat"\nwork_s = 5.0\nrest_s = 3.0\n',
    "circuit_test": 'name = "circuit_test"\ntitle = "Circuit test"\nrounds = 1\n\n'
    '[[blocks]]\nworkout = "squat"\nwork_s = 5.0\nrest_s = 2.0\n\n'
    '[[blocks]]\nworkout = "jumping_jack"\nwork_s = 3.0\nrest_s = 2.0\n\n'
    '[[blocks]]\nworkout = "squat"\nwork_s = 4.0\n',
}


class GatedSource:
    """A real `FrameSource` whose frames start when ``gate`` is set and stop (without ending) at its end."""

    def __init__(self, inner, gate: threading.Event, ended: threading.Event):
        self.inner = inner
        self.gate = gate
        self.ended = ended
        self.closed = threading.Event()
        self._opened = False
        self.name = f"gated:{inner.name}"
        # lossless: the engine analyses every frame (none dropped however busy this shared machine
        # is), so the count is exactly what `hiitpi analyze` finds; the frames still come at the
        # clip's own rate. A lossless buffer counts a frame's latency from when the analysis takes it.
        self.live = False

    @property
    def fps(self):
        return self.inner.fps

    def open(self) -> None:
        pass  # the real file is opened when the gate opens, so its pacing starts then

    def read(self):
        from hiitpi.capture.base import EndOfStream, SourceError

        while not self.gate.wait(0.1):
            if self.closed.is_set():
                raise SourceError("closed")
        if not self._opened:
            self.inner.open()
            self._opened = True
        try:
            return self.inner.read()
        except EndOfStream:
            self.ended.set()
            self.closed.wait()
            raise

    def close(self) -> None:
        self.closed.set()
        self.inner.close()


@pytest.fixture()
def appliance(settings_factory, redis_url, shared_data, tmp_path):
    """Engine + recorder + dashboard, wired the way `hiitpi serve` does, on a gated real clip."""
    with run_appliance(
        settings_factory, redis_url, shared_data / "clips" / CLIP, rules_dir=tmp_path / "rules"
    ) as parts:
        yield parts


@contextlib.contextmanager
def run_appliance(
    settings_factory, redis_url, clip, overrides: dict | None = None, *, rules_dir=None, autostart=False
):
    """The appliance of `appliance` on ``clip``: the real rules with the test programs beside them
    in ``rules_dir`` (when given), settings ``overrides`` on top (e.g. another rules folder);
    ``autostart`` starts the configured workout at once (auto mode watching from the start)."""
    from hiitpi.capture.select import create_source_factory
    from hiitpi.engine import Engine
    from hiitpi.store.db import Store
    from hiitpi.store.recorder import SessionRecorder
    from hiitpi.web.app import create_app
    from hiitpi.web.mjpeg import MjpegBroadcaster
    from hiitpi.web.server import WebServer

    extra = {}
    if rules_dir is not None:
        rules = rules_dir
        (rules / "programs").mkdir(parents=True)
        for f in (REPO / "rules").glob("*.toml"):
            (rules / f.name).symlink_to(f)
        for f in (REPO / "rules" / "programs").glob("*.toml"):
            (rules / "programs" / f.name).symlink_to(f)
        for name, text in TEST_PROGRAMS.items():
            (rules / "programs" / f"{name}.toml").write_text(text)
        extra[("referee", "rules_dir")] = str(rules)
    settings = settings_factory(
        {
            **extra,
            ("redis", "url"): redis_url,
            ("capture", "source"): str(clip),
            ("capture", "paced"): True,  # at the clip's own rate, as a camera would deliver
            ("capture", "loop"): False,
            ("capture", "stall_timeout_s"): 120,
            ("referee", "workout"): "squat",
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
            **(overrides or {}),
        }
    )
    gate, ended = threading.Event(), threading.Event()
    real = create_source_factory(settings.capture)
    store = Store.from_settings(settings)
    recorder = SessionRecorder.from_settings(store, settings)
    video = MjpegBroadcaster.from_settings(settings)
    video.start()
    engine = Engine(
        settings,
        source_factory=lambda: GatedSource(real(), gate, ended),
        recorder=recorder,
        autostart=autostart,
        sinks=(video,),
    )
    engine.start()
    app = create_app(settings, store=store, broadcaster=lambda: video, auth=False)
    web = WebServer(settings, app)
    web.start()
    base = f"http://127.0.0.1:{settings.web.port}"
    try:
        yield {
            "base": base,
            "engine": engine,
            "store": store,
            "gate": gate,
            "ended": ended,
            "settings": settings,
        }
    finally:
        web.stop()
        engine.stop()
        video.stop()
        recorder.close()
        store.close()


def text_of(driver, css: str) -> str:
    from selenium.webdriver.common.by import By

    els = driver.find_elements(By.CSS_SELECTOR, css)
    return els[0].text if els else ""


def wait_for(what: str, cond, timeout: float = 20.0, every: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(every)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def pick(driver, dropdown_id: str, label: str) -> None:
    """Choose ``label`` in a Dash dropdown the way a person does: open it, tap the option (a
    program's option also shows its length: "⏱ Tabata test — 0:13")."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.ID, dropdown_id).click()
    opts = wait_for(
        f"the option {label!r} of #{dropdown_id}",
        lambda: [
            o
            for o in driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option")
            if o.text.strip().split(" — ")[0] == label
        ],
    )
    opts[0].click()
    wait_for(f"{label!r} picked", lambda: label in text_of(driver, f"#{dropdown_id}"))


def shot(driver, name: str) -> Path:
    """The window as a person sees it (``name``.png) and the whole page (``name``-full.png)."""
    import base64

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    driver.save_screenshot(str(path))
    full = driver.execute_cdp_cmd(
        "Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True, "fromSurface": True}
    )
    (ARTIFACTS / f"{name}-full.png").write_bytes(base64.b64decode(full["data"]))
    return path


def visible(driver, css: str) -> bool:
    from selenium.webdriver.common.by import By

    els = driver.find_elements(By.CSS_SELECTOR, css)
    return bool(els) and els[0].is_displayed()


def overflow_x(driver) -> int:
    """How many px the page is wider than the window (0: nothing sticks out sideways)."""
    return driver.execute_script(
        "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
    )
