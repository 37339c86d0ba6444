"""The supervisor: a part that dies is restarted with back-off, its health says so, and systemd's
watchdog is fed only while every required part is alive. Real parts: a worker thread that can
really die, and the private redis-server (`hiitpi.redis_local.LocalRedis`) killed with SIGKILL."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from hiitpi.health import PartHealth
from hiitpi.sdnotify import Watchdog
from hiitpi.supervisor import Supervisor
from tests.conftest import free_port


class Worker:
    """A thread that works until told to die (it ends, as it would on an unhandled bug)."""

    def __init__(self, name: str = "worker", *, fail_starts: int = 0):
        self.name = name
        self.fail_starts = fail_starts
        self.starts = 0
        self._die = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        self._die.wait()

    def start(self) -> None:
        self.starts += 1
        if self.starts <= self.fail_starts + 1 and self.starts > 1:
            raise OSError("device busy")
        self._die = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        pass

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> PartHealth:
        return PartHealth(self.alive(), "working" if self.alive() else "the worker thread is not running")

    def kill(self) -> None:
        self._die.set()
        self._thread.join(2)


def _tick_until(sup: Supervisor, cond, timeout: float = 10.0) -> float:
    t0 = time.monotonic()
    while not cond():
        assert time.monotonic() - t0 < timeout, "timed out"
        sup.tick()
        time.sleep(0.02)
    return time.monotonic() - t0


def test_a_dead_part_is_restarted_and_its_health_says_why(caplog):
    w = Worker()
    w.start()
    sup = Supervisor(backoff_initial_s=0.2)
    sup.watch(w)
    assert sup.liveness() is None and sup.health("worker").ok
    w.kill()
    sup.tick()
    down = sup.health("worker")
    assert not down.ok and "the worker thread is not running; restarting in" in down.detail
    assert sup.liveness() == "worker: the worker thread is not running"
    took = _tick_until(sup, w.alive)
    assert 0.15 <= took < 2.0  # after the back-off, not at once
    up = sup.health("worker")
    assert up.ok and up.data["restarts"] == 1 and "restarted 1×" in up.detail
    assert sup.liveness() is None
    assert "worker stopped working" in caplog.text and "worker restarted (restart 1" in caplog.text


def test_a_restart_that_fails_is_tried_again_with_longer_waits():
    w = Worker(fail_starts=2)
    w.start()
    sup = Supervisor(backoff_initial_s=0.1, backoff_max_s=1.0)
    sup.watch(w)
    w.kill()
    t0 = time.monotonic()
    _tick_until(sup, w.alive)
    took = time.monotonic() - t0
    assert w.starts == 4  # the first start, two refused restarts, then one that worked
    assert took >= 0.1 + 0.2 + 0.4 - 0.05  # 0.1, then 0.2, then 0.4 s
    assert sup.health("worker").data["restarts"] == 1


def test_only_required_parts_hold_the_watchdog_back(tmp_path):
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(tmp_path / "notify.sock"))
    sock.settimeout(0.05)
    env = {"NOTIFY_SOCKET": str(tmp_path / "notify.sock"), "WATCHDOG_USEC": "200000"}
    needed, optional = Worker("camera"), Worker("coach")
    for w in (needed, optional):
        w.start()
    sup = Supervisor(backoff_initial_s=5.0)  # no restart within this test
    sup.watch(needed)
    sup.watch(optional, required=False)
    dog = Watchdog(sup.liveness, env=env)

    def pings(seconds: float) -> int:
        n, end = 0, time.monotonic() + seconds
        while time.monotonic() < end:
            sup.tick()
            dog.tick()
            try:
                n += sock.recv(100) == b"WATCHDOG=1"
            except TimeoutError:
                pass
        return n

    try:
        assert pings(0.5) >= 2
        optional.kill()
        assert pings(0.5) >= 2  # the coach is not required
        needed.kill()
        assert pings(0.5) == 0  # the camera is: systemd will restart us if it stays dead
    finally:
        sock.close()


def test_private_redis_killed_is_restarted_on_its_port(tmp_path):
    import os
    import signal

    import redis

    from hiitpi.redis_local import LocalRedis, ping

    if not __import__("shutil").which("redis-server"):
        pytest.skip("redis-server not installed")
    local = LocalRedis(f"redis://127.0.0.1:{free_port()}/0", tmp_path / "redis")
    local.start()
    sup = Supervisor()
    sup.watch(local, required=False)
    try:
        first = local.proc.pid
        assert os.getsid(first) == first  # a session of its own: a terminal's Ctrl-C does not reach it
        os.kill(first, signal.SIGKILL)
        local.proc.wait(5)
        t0 = time.monotonic()
        _tick_until(sup, lambda: local.alive() and ping(local.url, 0.2) is None)
        took = time.monotonic() - t0
        assert local.proc.pid != first and took < 5.0
        h = sup.health("redis")
        assert h.ok and "died (killed by signal 9)" in h.data["last_failure"]
        assert redis.Redis.from_url(local.url).ping()
    finally:
        local.stop()


def test_the_appliances_private_redis_wants_its_own_password(tmp_path, redis_url, caplog):
    """`ensure_redis(private=True)`: a redis-server it starts wants a password made once and kept
    0600 (the next start uses the same one, after a kill); an open Redis already there is used,
    with a warning that anyone on its network can send commands."""
    import logging
    import stat

    import redis

    from hiitpi.redis_local import ensure_redis, ping

    with caplog.at_level(logging.WARNING, logger="hiitpi.redis_local"):
        assert ensure_redis(redis_url, tmp_path / "open", private=True) is None
    assert "wants no password" in caplog.text
    url = f"redis://127.0.0.1:{free_port()}/0"
    local = ensure_redis(url, tmp_path / "redis", private=True)
    try:
        password = (tmp_path / "redis" / "password").read_text()
        assert len(password) >= 24 and password in local.url and local.url != url
        assert stat.S_IMODE((tmp_path / "redis" / "password").stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "redis").stat().st_mode) == 0o700
        refused = ping(url)
        assert refused and "auth" in refused.lower(), refused
        with pytest.raises(redis.AuthenticationError):
            redis.Redis.from_url(url).xadd("hiitpi:commands", {"action": "stop"})
        assert ping(local.url) is None
        local.stop()
        again = ensure_redis(url, tmp_path / "redis", private=True)
        assert again.url == local.url  # the same password, kept
        again.stop()
    finally:
        local.stop()
