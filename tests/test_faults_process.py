"""Process faults of the whole appliance (`hiitpi serve` on a real looping clip, real Redis, real
SQLite): SIGKILL mid-session and the next start recovers it; SIGTERM closes and saves within the
unit's stop timeout."""

from __future__ import annotations

import itertools
import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

CLIP = "jumping_jack/ahmedlila_jj_12.mp4"
WORKOUT = "jumping_jack"
UNIT = REPO / "systemd" / "hiitpi.service"


def stop_timeout_s() -> float:
    return float(re.search(r"^TimeoutStopSec=(\d+)", UNIT.read_text(), re.M).group(1))


def query(db: Path, sql: str, *args) -> list[tuple]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def rep_rows(db: Path) -> list[tuple]:
    return query(db, 'SELECT session_id, "index", t_end, valid, reason FROM reps ORDER BY id')


class Serve:
    def __init__(
        self,
        tmp_path: Path,
        model_mirror: Path,
        redis_url: str,
        clip: Path,
        *,
        workout: str = WORKOUT,
        loop: bool = True,
        port: int | None = None,
        env: dict | None = None,
    ):
        self.data = tmp_path / "data"
        self.db = self.data / "hiitpi.db"
        self.port = port or free_port()
        self.redis_url = redis_url
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        base = {k: v for k, v in os.environ.items() if not k.startswith(("HIITPI_", "NOTIFY_", "WATCHDOG_"))}
        base.update(
            HIITPI_DATA_DIR=str(self.data),
            HIITPI_MODEL_MIRROR=str(model_mirror),
            HIITPI_COACH_ENABLED="false",
            HIITPI_REFEREE_AUTOSTART="true",  # the clip is counted from the start, nobody presses Start
            **(env or {}),
        )
        self.cmd = [
            *(sys.executable, "-m", "hiitpi", "serve", "--redis-url", redis_url, "--workout", workout),
            *(
                "--source",
                str(clip),
                *(["--loop"] if loop else []),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
            ),
        ]
        self.env = base
        self.proc: subprocess.Popen | None = None

    def start(self, *, own_group: bool = False) -> None:
        """``own_group``: a process group of its own, as a shell gives a foreground job (Ctrl-C goes
        to the whole group)."""
        self._logf = open(self.log, "w")  # noqa: SIM115 - the child writes to it until it exits
        self.proc = subprocess.Popen(
            self.cmd, env=self.env, stderr=self._logf, stdout=self._logf, start_new_session=own_group
        )

    def text(self) -> str:
        return self.log.read_text()

    def wait_for(self, cond, timeout: float, what: str):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (
                f"hiitpi serve exited ({self.proc.returncode}):\n{self.text()[-3000:]}"
            )
            try:
                got = cond()
            except sqlite3.Error:
                got = None
            if got:
                return got
            time.sleep(0.2)
        raise AssertionError(f"timed out waiting for {what}:\n{self.text()[-3000:]}")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self._logf.close()


@pytest.fixture()
def clip(shared_data) -> Path:
    return shared_data / "clips" / CLIP


def test_sigkill_mid_session_next_start_recovers_every_written_rep(tmp_path, model_mirror, redis_url, clip):
    first = Serve(tmp_path, model_mirror, redis_url, clip)
    first.start()
    try:
        first.wait_for(
            lambda: first.db.exists() and len([r for r in rep_rows(first.db) if r[3]]) >= 4,
            120,
            "4 reps on disk",
        )
        os.kill(first.proc.pid, signal.SIGKILL)
        first.proc.wait(10)
    finally:
        first.kill()
    before = rep_rows(first.db)
    sessions = query(first.db, "SELECT id, status FROM sessions")
    assert sessions and sessions[-1][1] == "open"  # nothing closed it: the process died
    killed_sid = sessions[-1][0]

    second = Serve(tmp_path, model_mirror, redis_url, clip)
    second.start()
    try:
        second.wait_for(lambda: "dashboard on http" in second.text(), 120, "the second start")
        row = query(second.db, "SELECT status, reps, no_reps FROM sessions WHERE id = ?", killed_sid)[0]
        after = [r for r in rep_rows(second.db) if r[0] == killed_sid]
        second.proc.send_signal(signal.SIGTERM)
        assert second.proc.wait(30) == 0
    finally:
        second.kill()
    assert row[0] == "recovered"
    assert after == [r for r in before if r[0] == killed_sid]  # every rep written before the kill
    assert row[1] == sum(1 for r in after if r[3]) and row[2] == sum(1 for r in after if not r[3])
    assert f"recovered 1 session(s) left open by a crash: [{killed_sid}]" in second.text()
    assert query(second.db, "PRAGMA integrity_check")[0][0] == "ok"


def test_sigterm_closes_and_saves_the_session_within_the_stop_timeout(
    tmp_path, model_mirror, redis_url, clip
):
    import redis

    serve = Serve(tmp_path, model_mirror, redis_url, clip)
    serve.start()
    try:
        serve.wait_for(
            lambda: serve.db.exists() and len([r for r in rep_rows(serve.db) if r[3]]) >= 3,
            120,
            "3 reps on disk",
        )
        t0 = time.monotonic()
        serve.proc.send_signal(signal.SIGTERM)
        code = serve.proc.wait(stop_timeout_s() + 10)
        took = time.monotonic() - t0
    finally:
        serve.kill()
    assert code == 0, serve.text()[-3000:]
    assert took < stop_timeout_s(), f"stop took {took:.1f} s, the unit allows {stop_timeout_s():.0f} s"
    sessions = query(serve.db, "SELECT id, status, reps, no_reps FROM sessions")
    assert len(sessions) == 1 and sessions[0][1] == "done"
    reps = rep_rows(serve.db)
    assert sessions[0][2] == sum(1 for r in reps if r[3]) >= 3
    state = {
        k.decode(): v.decode() for k, v in redis.Redis.from_url(redis_url).hgetall("hiitpi:state").items()
    }
    assert state.get("running") == "0" and int(state["reps"]) == sessions[0][2]  # viewers saw what was saved
    print(f"SIGTERM to exit: {took:.2f} s (unit TimeoutStopSec={stop_timeout_s():.0f})")


def test_port_taken_at_start_one_line_no_code_no_ready(tmp_path, model_mirror, redis_url, clip):
    """Another program holds the dashboard's port: one clear line, exit non-zero, nothing started,
    no pairing code shown (nor made), no READY=1 for systemd."""
    import socket

    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(0.2)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        serve = Serve(
            tmp_path, model_mirror, redis_url, clip, port=port,
            env={"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "2000000"},
        )  # fmt: skip
        serve.start()
        code = serve.proc.wait(120)
    serve.kill()
    said = []
    while True:
        try:
            said.append(notify.recv(4096).decode())
        except TimeoutError:
            break
    notify.close()
    text = serve.text()
    errors = [ln for ln in text.splitlines() if " ERROR " in ln or " CRITICAL " in ln]
    assert code == 1, text
    assert len(errors) == 1, text
    assert f"cannot listen on 127.0.0.1:{port} (the port is in use)" in errors[0] and "--port" in errors[0]
    assert "Traceback" not in text and "pairing code" not in text
    assert not (serve.data / "secrets.json").exists()  # no code made that nobody saw
    assert not serve.db.exists()  # nothing started: no session recorded
    assert not any(m.startswith("READY=1") for m in said), said


def test_ctrl_c_in_a_terminal_saves_the_session_and_stops_redis_last(tmp_path, model_mirror, clip):
    """SIGINT to the whole process group (a terminal's Ctrl-C): the private redis-server is in a
    session of its own, so it outlives the appliance's shutdown until the very end: the session is
    saved and its final state published before Redis stops."""
    import redis

    url = f"redis://:test-pw@127.0.0.1:{free_port()}/0"  # nothing there: serve starts a private one
    serve = Serve(tmp_path, model_mirror, url, clip)
    serve.start(own_group=True)
    seen: list[dict] = []
    watching = threading.Event()

    def watch_state() -> None:  # what a viewer could last read, until Redis goes away
        client = redis.Redis.from_url(url, decode_responses=True, socket_timeout=1)
        while not watching.is_set():
            try:
                st = client.hgetall("hiitpi:state")
            except redis.RedisError:
                if seen:
                    return
                time.sleep(0.05)
                continue
            if st:
                seen.append(st)
            time.sleep(0.02)

    try:
        serve.wait_for(
            lambda: serve.db.exists() and len([r for r in rep_rows(serve.db) if r[3]]) >= 3,
            120,
            "3 reps on disk",
        )
        watcher = threading.Thread(target=watch_state, daemon=True)
        watcher.start()
        time.sleep(0.5)
        os.killpg(serve.proc.pid, signal.SIGINT)
        code = serve.proc.wait(stop_timeout_s() + 10)
        watcher.join(5)
    finally:
        watching.set()
        serve.kill()
    text = serve.text()
    assert code == 0, text[-3000:]
    assert "received SIGINT" in text
    sessions = query(serve.db, "SELECT id, status, reps FROM sessions")
    assert len(sessions) == 1 and sessions[0][1] == "done"
    stored = sum(1 for r in rep_rows(serve.db) if r[3])
    assert sessions[0][2] == stored >= 3
    last = seen[-1]
    assert last["running"] == "0" and int(last["reps"]) == stored  # the final state reached Redis
    stopping = [
        ln.split("stopping ", 1)[1] for ln in text.splitlines() if "hiitpi.appliance: stopping " in ln
    ]
    assert stopping[-1] == "live bus (Redis)" and stopping.index("engine") < len(stopping) - 1, stopping
    assert "stopped the private redis-server" in text
    with pytest.raises(redis.ConnectionError):
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()


@pytest.mark.browser
def test_private_redis_killed_is_restarted_and_the_open_page_comes_back_with_its_chart(
    tmp_path, model_mirror, shared_data, browser
):
    """SIGKILL to the private redis-server mid-session: restarted within 5 s; the open live page
    comes back without a reload; its reps chart has every rep (the store fills the outage);
    counted = stored = shown."""
    import redis
    from selenium.webdriver.common.by import By

    from hiitpi.pairing import create_secrets

    clip = shared_data / "clips" / "push_up" / "calimiro_pushups_videoplayback.mp4"  # 55 s, 30 fps
    url = f"redis://:test-pw@127.0.0.1:{free_port()}/0"  # the private one wants this password
    serve = Serve(tmp_path, model_mirror, url, clip, workout="push_up", loop=False)
    _, code = create_secrets(serve.data)
    serve.start()
    d = browser
    try:
        serve.wait_for(lambda: "HIIT PI is running" in serve.text(), 120, "the appliance to start")
        base = f"http://127.0.0.1:{serve.port}"
        d.get(f"{base}/login?code={code}")

        def shown() -> int | None:  # the count in the page (on screen while running; the result card after)
            els = d.find_elements(By.ID, "live-reps")
            text = els[0].get_attribute("textContent") if els else ""
            return int(text) if text.isdigit() else None

        serve.wait_for(lambda: (shown() or 0) >= 4, 60, "4 reps on the page")
        d.execute_script("window.__notReloaded = true;")
        client = redis.Redis.from_url(url, socket_timeout=1)
        pid = int(client.info("server")["process_id"])
        os.kill(pid, signal.SIGKILL)
        t_kill, at_kill = time.monotonic(), shown()

        def new_redis() -> bool:
            try:
                return int(client.info("server")["process_id"]) != pid
            except redis.RedisError:
                return False

        serve.wait_for(new_redis, 10, "a new redis-server")
        restarted_s = time.monotonic() - t_kill
        serve.wait_for(lambda: (shown() or 0) > (at_kill or 0) + 1, 30, "the count to move on the page again")
        back_s = time.monotonic() - t_kill
        assert d.execute_script("return window.__notReloaded === true;")  # the same page, not reloaded
        banner = d.find_element(By.ID, "live-degraded")
        assert not banner.is_displayed()
        serve.wait_for(lambda: client.hget("hiitpi:state", "running") == b"0", 90, "the clip to end")
        counted = int(client.hget("hiitpi:state", "reps"))
        serve.wait_for(lambda: shown() == counted, 10, "the final count on the page")
        on_page = shown()
        time.sleep(1.5)  # the last chart points are drawn
        xs, ys = d.execute_script(
            "var g = document.querySelector('#live-reps-graph .js-plotly-plot');"
            "return [Array.from(g.data[0].x), Array.from(g.data[0].y)];"
        )
        stored = sum(1 for r in rep_rows(serve.db) if r[3])
        assert "restarted" in serve.text() and "redis" in serve.text()
    finally:
        serve.kill()
    assert restarted_s <= 5.0, restarted_s
    assert counted == stored == on_page
    assert ys == list(range(1, counted + 1)), (xs, ys)  # every rep on the chart: no flat line and jump
    assert all(b > a for a, b in itertools.pairwise(xs)), xs
    print(
        f"private Redis restarted {restarted_s:.2f} s after SIGKILL; the page counted again {back_s:.2f} s after"
    )


KILLS = int(os.environ.get("HIITPI_TEST_KILLS", "20"))


def test_sigkill_right_after_a_rep_is_shown_loses_no_shown_rep(tmp_path, model_mirror, redis_url, clip):
    """`hiitpi serve` SIGKILLed the moment a rep reaches the live stream, 20 times: a reader
    blocked on the stream (XREAD BLOCK, as the page's feed reads it, only sooner) sees the rep and
    kills the process at once. Each time, every rep the state then showed is in the database.
    (With [store] durable_reps = false, the batch a rep is in lands 0.5 s later: the issue's probe
    lost the shown rep in 2 of 3 such kills.)"""
    import redis

    from hiitpi.live.contract import LiveKeys
    from hiitpi.live.reader import LiveReader

    keys = LiveKeys()
    client = redis.Redis.from_url(redis_url, decode_responses=True)
    results = []
    for i in range(KILLS):
        client.delete(keys.stream, keys.state, keys.commands)
        durable = os.environ.get("HIITPI_TEST_DURABLE_REPS", "true")  # "false": see it fail
        serve = Serve(tmp_path, model_mirror, redis_url, clip, env={"HIITPI_STORE_DURABLE_REPS": durable})
        serve.start()
        nth = 1 + i % 3  # the 1st, 2nd or 3rd rep of the session: kills at different moments
        try:
            serve.wait_for(lambda: client.hget(keys.state, "updated"), 120, "the engine's first state")
            if client.hget(keys.state, "running") != "1":  # nothing starts by itself: start one
                LiveReader(redis_url, keys).send_command("start", player="Kill Test", workout=WORKOUT)
            last_id, seen = "$", 0
            deadline = time.monotonic() + 60
            while seen < nth:
                assert time.monotonic() < deadline and serve.proc.poll() is None, serve.text()[-2000:]
                got = client.xread({keys.stream: last_id}, block=500, count=100)
                for _, entries in got:
                    for entry_id, fields in entries:
                        last_id = entry_id
                        if fields.get("type") == "event" and fields.get("kind") == "rep":
                            seen += 1
                            if seen == nth:
                                os.kill(serve.proc.pid, signal.SIGKILL)
                                break
                    if seen == nth:
                        break
            serve.proc.wait(10)
        finally:
            serve.kill()
        shown = client.hgetall(keys.state)  # the last state any viewer could have read
        store_id, reps_shown = int(shown["store_id"]), int(shown["reps"])
        on_disk = query(serve.db, "SELECT count(*) FROM reps WHERE session_id = ? AND valid = 1", store_id)[
            0
        ][0]
        results.append((reps_shown, on_disk))
        assert reps_shown >= nth and on_disk >= reps_shown, (i, reps_shown, on_disk, serve.text()[-2000:])
    assert len(results) == KILLS >= 20 or "HIITPI_TEST_KILLS" in os.environ
    print(f"{KILLS} SIGKILLs right after a shown rep: (shown, on disk) = {results}; 0 shown reps lost")
