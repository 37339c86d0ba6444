"""systemd's notify protocol (``sd_notify``) over $NOTIFY_SOCKET, with no library.

The unit is ``Type=notify`` with ``WatchdogSec=``: the appliance says READY=1 once it serves,
WATCHDOG=1 from its main loop while the engine still makes progress, STATUS=… with what it is
doing, and STOPPING=1 on the way out. Outside systemd (no $NOTIFY_SOCKET) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def notify(state: str, *, env: dict[str, str] | None = None) -> bool:
    """Send ``state`` (e.g. "READY=1\\nSTATUS=running") to systemd; False when not under systemd."""
    env = os.environ if env is None else env
    addr = env.get("NOTIFY_SOCKET")
    if not addr:
        return False
    if addr.startswith("@"):  # abstract namespace socket
        addr = "\0" + addr[1:]
    elif not addr.startswith("/"):
        log.warning("ignoring NOTIFY_SOCKET=%r: not a unix socket path", addr)
        return False
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.connect(addr)
            sock.sendall(state.encode())
        return True
    except OSError as exc:
        log.warning("sd_notify %r to %s failed: %s", state.split("\n")[0], env.get("NOTIFY_SOCKET"), exc)
        return False


def watchdog_interval(env: dict[str, str] | None = None) -> float | None:
    """The watchdog timeout systemd set for this process (seconds), or None when there is none."""
    env = os.environ if env is None else env
    usec = env.get("WATCHDOG_USEC")
    pid = env.get("WATCHDOG_PID")
    if not usec or (pid and pid.isdigit() and int(pid) != os.getpid()):
        return None
    try:
        value = int(usec)
    except ValueError:
        return None
    return value / 1e6 if value > 0 else None


class Watchdog:
    """Pings systemd's watchdog from the main loop while ``alive()`` says the engine is working.

    ``alive()`` returns None when all is well, else the reason it is not; then the ping is held
    back (and the reason sent as STATUS=) so that after ``WatchdogSec`` systemd kills and
    restarts the service. Pings go out at most every half watchdog interval.
    """

    def __init__(
        self,
        alive: Callable[[], str | None] = lambda: None,
        *,
        env: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.alive = alive
        self.env = os.environ if env is None else env
        self.clock = clock
        self.interval = watchdog_interval(self.env)
        self._last_ping = -1e18
        self._last_reason: str | None = None

    @property
    def enabled(self) -> bool:
        return self.interval is not None

    @property
    def period(self) -> float:
        """How often the main loop should call `tick` (seconds)."""
        return min(1.0, self.interval / 4) if self.interval else 1.0

    def ready(self, status: str = "running") -> None:
        notify(f"READY=1\nSTATUS={status}", env=self.env)

    def stopping(self, status: str = "stopping") -> None:
        notify(f"STOPPING=1\nSTATUS={status}", env=self.env)

    def tick(self) -> bool:
        """Check ``alive()`` and ping when due; True if a ping was sent."""
        try:
            reason = self.alive()
        except Exception as exc:
            reason = f"liveness check raised {type(exc).__name__}: {exc}"
        if reason is not None:
            if reason != self._last_reason:
                log.error("not pinging the systemd watchdog: %s", reason)
                notify(f"STATUS=stalled: {reason}", env=self.env)
            self._last_reason = reason
            return False
        if self._last_reason is not None:
            log.info("engine is working again; pinging the watchdog")
            notify("STATUS=running", env=self.env)
            self._last_reason = None
        if not self.enabled:
            return False
        now = self.clock()
        if now - self._last_ping < self.interval / 2:
            return False
        self._last_ping = now
        return notify("WATCHDOG=1", env=self.env)
