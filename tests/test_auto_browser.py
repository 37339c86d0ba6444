"""Auto mode on the phone page, in real headless Chromium: the recognised workout with its
confidence, and the one-tap correction, against the real engine on a real clip."""

from __future__ import annotations

import threading

import pytest

from tests.browserkit import PHONE, GatedSource, shot
from tests.browserkit import text_of as _text
from tests.browserkit import wait_for as _wait
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP = "jumping_jack/unknown550_jj_1.mp4"


@pytest.fixture()
def auto_appliance(settings_factory, redis_url, shared_data):
    """Engine (watching in auto mode from the start) + recorder + dashboard on a gated real clip."""
    from hiitpi.capture.select import create_source_factory
    from hiitpi.engine import Engine
    from hiitpi.store.db import Store
    from hiitpi.store.recorder import SessionRecorder
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = settings_factory(
        {
            ("redis", "url"): redis_url,
            ("capture", "source"): str(shared_data / "clips" / CLIP),
            ("capture", "paced"): True,
            ("capture", "loop"): False,
            ("capture", "stall_timeout_s"): 120,
            ("referee", "workout"): "auto",
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        }
    )
    gate, ended = threading.Event(), threading.Event()
    real = create_source_factory(settings.capture)
    store = Store.from_settings(settings)
    recorder = SessionRecorder.from_settings(store, settings)
    engine = Engine(settings, source_factory=lambda: GatedSource(real(), gate, ended), recorder=recorder)
    engine.start()
    web = WebServer(settings, create_app(settings, store=store, auth=False))
    web.start()
    yield {"base": f"http://127.0.0.1:{settings.web.port}", "engine": engine, "store": store, "gate": gate}
    web.stop()
    engine.stop()
    recorder.close()
    store.close()


def test_the_page_shows_the_recognised_workout_and_corrects_it_with_one_tap(auto_appliance, browser):
    from selenium.webdriver.common.by import By

    from hiitpi.store.queries import list_sessions, session_detail

    d = browser
    d.set_window_size(*PHONE)  # 390 px: the workout screen and auto mode's panel together
    d.get(auto_appliance["base"] + "/")
    _wait(
        "the auto panel, watching", lambda: "start moving" in _text(d, "#live-auto-what").lower(), timeout=30
    )
    auto_appliance["gate"].set()  # the person starts jumping
    _wait(
        "jumping jacks to be recognised",
        lambda: _text(d, "#live-auto-what").lower().startswith("recognised: jumping jack"),
        timeout=30,
    )
    assert "%" in _text(d, "#live-auto-what")
    buttons = _wait(
        "the correction buttons",
        lambda: [
            b for b in d.find_elements(By.CSS_SELECTOR, "#live-auto .auto-choice button") if b.is_displayed()
        ],
    )
    assert 1 <= len(buttons) <= 3
    shot(d, "live-auto-phone")
    label = buttons[0].text
    # in view above the Stop bar that stays at the bottom of a phone's screen, as a person scrolls it
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", buttons[0])
    buttons[0].click()  # one tap
    _wait("the engine to confirm", lambda: "corrected to" in _text(d, "#action-msg").lower(), timeout=15)
    corrected = auto_appliance["engine"].live_state().workout
    assert corrected != "jumping_jack"
    assert corrected.replace("_", " ") in _text(d, "#live-auto-what").lower()
    assert label  # the button said which workout it was
    auto_appliance["engine"].end_session()  # the close is queued to the store's writer, not waited for
    sid = list_sessions(auto_appliance["store"]).items[0].id
    d2 = _wait(
        "the session saved",
        lambda: (d := session_detail(auto_appliance["store"], sid)).session.status == "done" and d,
    )
    assert d2.session.workout == corrected and [i.workout for i in d2.intervals] == [corrected]
