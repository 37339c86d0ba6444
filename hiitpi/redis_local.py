"""Make sure the live bus is there: use the configured Redis, or start a private one on loopback.

On the appliance Redis runs as its own systemd service. On a laptop or in CI nothing may be
running; when the configured URL points at this machine and `redis-server` is installed,
`hiitpi serve` starts one as a child process (no persistence, loopback only) and stops it on exit.

The private one is a supervised part (``start``/``stop``/``alive``/``health``): the supervisor
starts it again on the same port when it dies. It runs in a session of its own, so Ctrl-C in the
terminal (SIGINT to the terminal's process group) does not reach it: the appliance stops it
last, after the session has been saved and the final state published. It still dies with the
appliance (``PR_SET_PDEATHSIG``, tied to the thread that started it: the main thread).
"""

from __future__ import annotations

import logging
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def ping(url: str, timeout: float = 1.0) -> str | None:
    """None if Redis at ``url`` answers, else the reason it does not."""
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=timeout)
    try:
        client.ping()
        return None
    except redis.RedisError as exc:
        return str(exc)
    finally:
        client.close()


def _die_with_parent() -> None:
    """In the child: ask Linux to SIGTERM it when hiitpi dies, even by SIGKILL (no orphan Redis)."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def can_start_private(url: str) -> bool:
    """True when `hiitpi serve` could start its own redis-server for ``url``."""
    return urlparse(url).hostname in LOOPBACK and shutil.which("redis-server") is not None


class RedisStartError(HiitpiError, RuntimeError):
    """The live bus is not reachable and no private one could be started; the message says why."""


class LocalRedis:
    """A redis-server child process for the configured loopback URL."""

    name = "redis"

    def __init__(self, url: str, workdir: Path):
        self.url = url
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None
        self.exit_code: int | None = None

    def start(self) -> None:
        parsed = urlparse(self.url)
        exe = shutil.which("redis-server")
        if parsed.hostname not in LOOPBACK or exe is None:
            raise RedisStartError(
                f"Redis at {self.url} is not reachable"
                + ("" if exe else " and redis-server is not installed (sudo apt install redis-server)"),
                "start Redis, or point [redis] url / --redis-url at one that runs",
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        port = parsed.port or 6379
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.workdir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
            start_new_session=True,  # not in the terminal's process group: Ctrl-C is ours to handle
        )
        deadline = time.monotonic() + 10
        while (reason := ping(self.url, 0.5)) is not None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RedisStartError(
                    f"could not start redis-server on port {port}: {reason}",
                    "is another program using the port? Set [redis] url / --redis-url to another one",
                )
            time.sleep(0.05)
        log.info("started a private redis-server on 127.0.0.1:%s (pid %s)", port, self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
            log.info("stopped the private redis-server (pid %s)", self.proc.pid)
        self.proc = None

    def alive(self) -> bool:
        if self.proc is None:
            return False
        code = self.proc.poll()
        if code is not None:
            self.exit_code = code
            return False
        return True

    def health(self):
        from hiitpi.health import PartHealth

        if self.proc is None:
            return PartHealth(False, "the private redis-server is not running")
        if not self.alive():
            how = (
                f"killed by signal {-self.exit_code}"
                if (self.exit_code or 0) < 0
                else f"exit code {self.exit_code}"
            )
            return PartHealth(False, f"the private redis-server (pid {self.proc.pid}) died ({how})")
        reason = ping(self.url, 0.5)
        data = {"pid": self.proc.pid}
        if reason is not None:
            return PartHealth(False, f"the private redis-server does not answer: {reason}", data)
        return PartHealth(True, f"private redis-server on {self.url} (pid {self.proc.pid})", data)


def ensure_redis(url: str, workdir: Path) -> LocalRedis | None:
    """Return a started `LocalRedis` if we had to start one, None if Redis was already up."""
    reason = ping(url)
    if reason is None:
        log.info("Redis at %s is up", url)
        return None
    log.info("Redis at %s not reachable (%s); starting a private one", url, reason)
    local = LocalRedis(url, workdir)
    local.start()
    return local
