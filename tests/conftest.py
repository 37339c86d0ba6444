"""Shared test set-up: a real redis-server on a free loopback port, the shared data folders.

Tests that need ../shared (models, clips, images) use the `model_mirror` / `shared_data`
fixtures: on a user's machine without it they skip with a reason; with CI=true they fail, so CI
can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from hiitpi.redis_local import LocalRedis

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SHARED = REPO.parent / "shared"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _need(path: Path, what: str) -> Path:
    if path.exists():
        return path
    msg = f"{what} not found at {path} (set HIITPI_MODEL_MIRROR / HIITPI_DATA)"
    if IN_CI:
        pytest.fail(msg + " — required when CI=true")
    pytest.skip(msg)


@pytest.fixture(scope="session")
def model_mirror() -> Path:
    """Folder with the model files by manifest path (HIITPI_MODEL_MIRROR, default ../shared/models)."""
    return _need(Path(os.environ.get("HIITPI_MODEL_MIRROR") or DEFAULT_SHARED / "models"), "model mirror")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Folder with clips/, images/, repcount_pose/ (HIITPI_DATA, default ../shared/data)."""
    return _need(Path(os.environ.get("HIITPI_DATA") or DEFAULT_SHARED / "data"), "shared data")


@pytest.fixture(scope="session")
def shared_llm() -> Path:
    """Folder with the tiny test GGUF files (default ../shared/llm)."""
    return _need(DEFAULT_SHARED / "llm", "shared llm folder")


@pytest.fixture()
def settings_factory(tmp_path, model_mirror):
    """Build Settings isolated in tmp_path, with models read from the mirror."""
    from hiitpi.config import load_settings

    def make(overrides: dict | None = None):
        """``overrides``: {("section", "key"): value}, on top of the isolated data dir and mirror."""
        base = {
            ("general", "data_dir"): str(tmp_path / "data"),
            ("models", "mirror"): str(model_mirror),
        }
        base.update(overrides or {})
        return load_settings(None, env={}, overrides=base)

    return make


def web_settings(data_dir, redis_url: str):
    """Settings for a dashboard alone: data in ``data_dir``, the live bus at ``redis_url``, the web
    server on a free loopback port."""
    from hiitpi.config import load_settings

    return load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(data_dir),
            ("redis", "url"): redis_url,
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        },
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    """A real redis-server on a free loopback port; never the default 6379.

    The same code `hiitpi serve` uses to start its private Redis (`hiitpi.redis_local.LocalRedis`);
    tests stop and start it again to simulate an outage.
    """

    def __init__(self, workdir: Path):
        if not shutil.which("redis-server"):
            msg = "redis-server not installed (scripts/setup.sh installs it)"
            if IN_CI:
                pytest.fail(msg)
            pytest.skip(msg)
        self.port = free_port()
        self.local = LocalRedis(self.url, workdir)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def proc(self) -> subprocess.Popen | None:
        return self.local.proc

    def start(self) -> None:
        self.local.start()

    def stop(self) -> None:
        """Kill it (an outage, not a clean shutdown)."""
        if self.local.proc and self.local.proc.poll() is None:
            self.local.proc.kill()
            self.local.proc.wait(5)
        self.local.proc = None


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """One real redis-server for the test session; tests get a flushed DB via `redis_url`."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture()
def redis_url(redis_server) -> str:
    import redis

    if redis_server.proc is None or redis_server.proc.poll() is not None:
        redis_server.start()
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture()
def small_fs(tmp_path):
    """A 2 MB tmpfs mounted just for this test (a real full disk; needs root, else the test skips)."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (the disk-full test runs as root in CI)")
    r = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mnt)], capture_output=True, text=True
    )
    if r.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture()
def browser(tmp_path):
    """Real headless Chromium (Debian's chromium + chromium-driver) through selenium, phone-sized,
    with downloads going to ``driver.downloads``."""
    for exe in (CHROMIUM, CHROMEDRIVER):
        if not Path(exe).exists():
            msg = f"{exe} not installed (scripts/setup.sh --dev installs chromium chromium-driver)"
            if IN_CI:
                pytest.fail(msg)
            pytest.skip(msg)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = tmp_path / "downloads"
    downloads.mkdir()
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chrome-profile'}",
        "--window-size=390,1400",
    ):
        opts.add_argument(flag)
    opts.add_experimental_option(
        "prefs", {"download.default_directory": str(downloads), "download.prompt_for_download": False}
    )
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    driver.command_executor._client_config.timeout = 30  # a hung renderer fails the test, not the run
    driver.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)}
    )
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="session")
def camera_clips():
    """`scripts/camera_clips.py` as a module: copies of clips as other cameras film them."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("camera_clips", REPO / "scripts" / "camera_clips.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclass looks its module up
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def turned_clip(camera_clips):
    """``turned_clip(src, dst, turn=90)``: a clip as a camera stood on its side films it (its up
    pointing ``turn`` degrees clockwise), through `scripts/camera_clips.py`'s own writer, full size."""

    def make(src: Path, dst: Path, turn: int = 90) -> Path:
        assert (
            camera_clips.change_video(Path(src), Path(dst), camera_clips.Camera(max_side=100_000, turn=turn))
            > 0
        )
        return Path(dst)

    return make
