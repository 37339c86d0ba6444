"""The appliance: a flat list of start-up steps, undone in reverse order on stop.

`hiitpi serve` runs this in one process: the live bus (Redis), the analysis engine and the
dashboard. SIGTERM or SIGINT stops it cleanly.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

from hiitpi.config import Settings

log = logging.getLogger(__name__)


class Appliance:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.stop_event = threading.Event()
        self._undo: list[tuple[str, Callable[[], None]]] = []

    def step(self, name: str, start: Callable[[], Callable[[], None] | None]) -> None:
        """Run one start-up step; remember how to undo it."""
        log.info("starting %s", name)
        undo = start()
        if undo is not None:
            self._undo.append((name, undo))

    def init_redis(self) -> Callable[[], None] | None:
        from hiitpi.redis_local import ensure_redis

        local = ensure_redis(self.settings.redis.url, self.settings.general.data_dir / "redis")
        return local.stop if local else None

    def start(self) -> None:
        self.settings.general.data_dir.mkdir(parents=True, exist_ok=True)
        self.step("live bus (Redis)", self.init_redis)

    def stop(self) -> None:
        while self._undo:
            name, undo = self._undo.pop()
            log.info("stopping %s", name)
            try:
                undo()
            except Exception:
                log.exception("error while stopping %s", name)

    def run(self) -> int:
        def on_signal(signum, _frame):
            log.info("received %s, stopping", signal.Signals(signum).name)
            self.stop_event.set()

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)
        from hiitpi.sdnotify import Watchdog

        watchdog = Watchdog(self.liveness)
        try:
            self.start()
            log.info("HIIT PI is running; Ctrl-C or SIGTERM stops it")
            watchdog.ready()
            while not self.stop_event.wait(watchdog.period):
                watchdog.tick()
        finally:
            watchdog.stopping()
            self.stop()
        return 0

    # -- systemd watchdog (issue 8) ------------------------------------------------------------

    def liveness(self) -> str | None:
        """None while the appliance makes progress, else why not (then systemd's watchdog is not
        pinged and, after WatchdogSec, restarts the service)."""
        return None


def run_appliance(settings: Settings) -> int:
    return Appliance(settings).run()
