"""Process faults of the whole appliance (`hiitpi serve` on a real looping clip, real Redis, real
SQLite): SIGKILL mid-session and the next start recovers it; SIGTERM closes and saves within the
unit's stop timeout."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
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
    def __init__(self, tmp_path: Path, model_mirror: Path, redis_url: str, clip: Path):
        self.data = tmp_path / "data"
        self.db = self.data / "hiitpi.db"
        self.port = free_port()
        self.log = tmp_path / f"serve-{time.monotonic_ns()}.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HIITPI_", "NOTIFY_", "WATCHDOG_"))}
        env.update(
            HIITPI_DATA_DIR=str(self.data),
            HIITPI_MODEL_MIRROR=str(model_mirror),
            HIITPI_COACH_ENABLED="false",
        )
        self.cmd = [
            *(sys.executable, "-m", "hiitpi", "serve", "--redis-url", redis_url, "--workout", WORKOUT),
            *("--source", str(clip), "--loop", "--host", "127.0.0.1", "--port", str(self.port)),
        ]
        self.env = env
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self._logf = open(self.log, "w")  # noqa: SIM115 - the child writes to it until it exits
        self.proc = subprocess.Popen(self.cmd, env=self.env, stderr=self._logf, stdout=self._logf)

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
