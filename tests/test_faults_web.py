"""The dashboard's server (or the analysis thread) dies or stalls while the appliance runs, and comes back.

The whole appliance in this process (`hiitpi.appliance.Appliance`: its private redis-server, the
store, the engine on a real clip at its own rate, the event-loop web server) with its main loop
ticking the supervisor as `hiitpi serve` does. A viewer follows the live feed over real sockets,
reconnecting as a browser does. Then, really: the server thread is killed (an exception raised in
it), and later its event loop is blocked (a callback that sleeps on it). Each time the supervisor
restarts the server on the same port, ``/healthz`` says it was restarted and why, and in the end
the reps counted (the engine's state) = stored (SQLite) = shown (the viewer's last message).
"""

from __future__ import annotations

import ctypes
import json
import sqlite3
import threading
import time

import pytest
import requests

from tests.conftest import free_port

pytestmark = pytest.mark.slow

CLIP = "push_up/calimiro_pushups_videoplayback.mp4"  # 55 s at 30 fps


class Viewer(threading.Thread):
    """A live page's feed: reconnects like EventSource; keeps the last state it was shown."""

    def __init__(self, base: str, code: str):
        super().__init__(daemon=True)
        self.base = base
        self.http = requests.Session()
        r = self.http.post(base + "/login", data={"code": code}, allow_redirects=False, timeout=5)
        assert r.status_code == 303, r.text
        self.stop = threading.Event()
        self.reps: int | None = None
        self.session = ""
        self.reconnects = 0

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                with self.http.get(self.base + "/api/live/events", stream=True, timeout=(2, 3)) as r:
                    for line in r.iter_lines():
                        if self.stop.is_set():
                            return
                        if line.startswith(b"data: "):
                            st = json.loads(line[6:]).get("state") or {}
                            if st.get("session"):
                                self.reps, self.session = int(st["reps"]), st["session"]
            except requests.RequestException:
                pass
            self.reconnects += 1
            self.stop.wait(0.5)


@pytest.fixture()
def appliance(settings_factory, shared_data):
    from hiitpi.appliance import Appliance
    from hiitpi.pairing import create_secrets

    settings = settings_factory(
        {
            ("redis", "url"): f"redis://127.0.0.1:{free_port()}/0",  # nothing there: a private one
            ("capture", "source"): str(shared_data / "clips" / CLIP),
            ("referee", "workout"): "push_up",
            ("referee", "autostart"): True,  # the clip is counted from the start, nobody presses Start
            ("coach", "enabled"): False,
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        }
    )
    _, code = create_secrets(settings.general.data_dir)  # paired before: `hiitpi pair` at install
    app = Appliance(settings)
    app.pairing_code = code
    app.start()
    ticking = threading.Event()

    def main_loop() -> None:
        while not ticking.wait(0.25):
            app.tick()

    ticker = threading.Thread(target=main_loop, daemon=True)
    ticker.start()
    yield app
    ticking.set()
    ticker.join(5)
    app.stop()


def _wait(what: str, cond, timeout: float):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            got = cond()
        except requests.RequestException:
            got = None
        if got:
            return got
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _clip_ends_counted_stored_shown(app, viewer: Viewer) -> int:
    """The clip plays to its end; then reps counted (the state) = stored (SQLite) = shown (the
    viewer's last message). Returns how many sessions were stored."""
    import redis

    state = redis.Redis.from_url(app.settings.redis.url, decode_responses=True)
    _wait("the clip to end", lambda: state.hget("hiitpi:state", "running") == "0", 90)
    counted = int(state.hget("hiitpi:state", "reps"))
    _wait("the viewer to see the final count", lambda: viewer.reps == counted, 10)
    viewer.stop.set()
    db = sqlite3.connect(f"file:{app.settings.database_path}?mode=ro", uri=True)
    sessions = db.execute("SELECT count(*) FROM sessions").fetchone()[0]
    stored = db.execute("SELECT count(*) FROM reps WHERE valid = 1").fetchone()[0]
    db.close()
    assert counted == stored == viewer.reps and counted >= 25, (counted, stored, viewer.reps)
    return sessions


def _kill_thread(thread: threading.Thread) -> None:
    """Raise SystemExit inside ``thread``: it dies at its next Python instruction."""
    done = ctypes.pythonapi.PyThreadState_SetAsyncExc(
        ctypes.c_ulong(thread.ident), ctypes.py_object(SystemExit)
    )
    assert done == 1


def test_web_server_killed_then_stalled_is_restarted_and_health_says_so(appliance):

    app = appliance
    web = app.web
    base = f"http://127.0.0.1:{web.port}"
    viewer = Viewer(base, app.pairing_code)
    viewer.start()
    _wait("the viewer to see the session", lambda: viewer.reps is not None, 30)

    # 1. the server thread is killed
    old = web._thread
    _kill_thread(old)
    _wait("the server thread to die", lambda: not old.is_alive(), 10)
    t_dead = time.monotonic()
    _wait("a restarted server", lambda: web.alive() and web._thread is not old, 15)
    restart_s = time.monotonic() - t_dead
    assert requests.get(base + "/healthz", timeout=2).status_code == 200
    part = app.supervisor.health("web server")
    assert part.ok and part.data["restarts"] == 1
    assert "the server thread died: SystemExit" in part.data["last_failure"]
    assert "restarted 1×" in part.detail

    # 2. its event loop is blocked: the server no longer answers, and is replaced
    stalled = web._thread
    web._loop.call_soon_threadsafe(time.sleep, 8.0)
    _wait("the stall to be noticed", lambda: not web.alive(), 10)
    _wait("a server that answers again", lambda: web.alive() and web._thread is not stalled, 15)
    assert viewer.http.get(base + "/api/live/state", timeout=2).status_code == 200
    part = app.supervisor.health("web server")
    assert part.ok and part.data["restarts"] == 2
    assert "event loop has been blocked" in part.data["last_failure"]
    report = viewer.http.get(base + "/healthz", timeout=2).json()  # a paired phone sees each part
    assert report["parts"]["web server"]["restarts"] == 2

    _clip_ends_counted_stored_shown(app, viewer)
    print(f"web server back {restart_s:.2f} s after its thread died; viewer reconnected {viewer.reconnects}×")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # the thread we kill
def test_analysis_thread_killed_is_restarted_and_the_session_goes_on(appliance):
    """The analysis thread dies (an exception in it): the supervisor starts it again, the session
    goes on where it was, and every rep is counted once."""

    app = appliance
    engine = app.engine
    base = f"http://127.0.0.1:{app.web.port}"
    viewer = Viewer(base, app.pairing_code)
    viewer.start()
    _wait("a few reps", lambda: (viewer.reps or 0) >= 3, 60)
    session = viewer.session
    old = engine.loop._thread
    _kill_thread(old)  # (an Exception would not do: one bad frame is skipped, by design)
    _wait("the analysis thread to die", lambda: not old.is_alive(), 10)
    _wait("the analysis restarted", lambda: engine.analysing and engine.loop._thread is not old, 15)
    part = app.supervisor.health("engine")
    assert part.data["restarts"] == 1 and "analysis thread is not running" in part.data["last_failure"], part
    assert _clip_ends_counted_stored_shown(app, viewer) == 1 and viewer.session == session  # it went on
