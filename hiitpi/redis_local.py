"""Make sure the live bus is there: use the configured Redis, or start a private one on loopback.

On the appliance Redis runs as its own systemd service. On a laptop or in CI nothing may be
running; when the configured URL points at this machine and `redis-server` is installed,
`hiitpi serve` starts one as a child process (no persistence, loopback only) and stops it on exit.
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


class LocalRedis:
    """A redis-server child process for the configured loopback URL."""

    def __init__(self, url: str, workdir: Path):
        self.url = url
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        parsed = urlparse(self.url)
        exe = shutil.which("redis-server")
        if parsed.hostname not in LOOPBACK or exe is None:
            raise RuntimeError(
                f"Redis at {self.url} is not reachable"
                + ("" if exe else " and redis-server is not installed (sudo apt install redis-server)")
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
        )
        deadline = time.monotonic() + 10
        while (reason := ping(self.url, 0.5)) is not None:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"could not start redis-server on port {port}: {reason}")
            time.sleep(0.05)
        log.info("started a private redis-server on 127.0.0.1:%s (pid %s)", port, self.proc.pid)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc = None


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
