"""Every long-running part of the appliance behind one small contract, restarted when it dies.

A part (`Part`) has a ``name`` and four methods: ``start()`` raises (a `HiitpiError` saying what to
do) when it cannot start, ``stop()`` releases what it holds, ``alive()`` says whether it still
works (its thread runs, its process answers, its loop beats) and ``health()`` says how, as a
`PartHealth`. The appliance starts its parts in order and hands each to the `Supervisor`
(`watch`); the supervisor's `tick` (called from the appliance's main loop about once a second)
finds a part that is no longer alive, logs why, stops it and starts it again after a back-off
(`hiitpi.backoff.Backoff`: 0.2 s, doubling up to 10 s; back to 0.2 s once it has stayed up for a
minute). Its health, with the restarts and the last reason, goes to ``/healthz`` and the page
banner (`register_health`); `liveness` names the first *required* part that is not alive, and
the systemd watchdog is fed only while it is None.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from hiitpi.backoff import Backoff
from hiitpi.health import HealthMonitor, PartHealth

log = logging.getLogger(__name__)


class Part(Protocol):
    name: str

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def alive(self) -> bool: ...

    def health(self) -> PartHealth: ...


@dataclass
class FuncPart:
    """A part made of functions, for an object whose own methods do not fit the contract."""

    name: str
    start: Callable[[], None]
    stop: Callable[[], None]
    alive: Callable[[], bool]
    health: Callable[[], PartHealth]


@dataclass
class _Watched:
    part: Part
    required: bool
    backoff: Backoff
    up: bool = True
    up_since: float = 0.0
    restarts: int = 0
    last_failure: str | None = None
    retry_at: float | None = None
    attempts: int = 0
    extra: dict = field(default_factory=dict)


class Supervisor:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 10.0,
        stable_after_s: float = 60.0,
    ):
        self.clock = clock
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.stable_after_s = stable_after_s
        self._parts: dict[str, _Watched] = {}
        self.closed = False

    def watch(self, part: Part, *, required: bool = True) -> Part:
        """Supervise a started ``part`` from now on (``required``: the watchdog waits for it)."""
        self._parts[part.name] = _Watched(
            part, required, Backoff(self.backoff_initial_s, self.backoff_max_s), up_since=self.clock()
        )
        return part

    def forget(self, name: str) -> None:
        self._parts.pop(name, None)

    @property
    def names(self) -> list[str]:
        return list(self._parts)

    def close(self) -> None:
        """No more restarts (the appliance is stopping its parts)."""
        self.closed = True

    # -- the check, from the main loop -----------------------------------------------------------

    def tick(self) -> None:
        """Restart every part that has died, when its back-off has passed."""
        for w in list(self._parts.values()):
            if self.closed:
                return
            now = self.clock()
            if w.up:
                if self._alive(w):
                    if w.attempts and now - w.up_since > self.stable_after_s:
                        w.attempts = 0
                        w.backoff.reset()
                    continue
                self._went_down(w, now)
            if w.retry_at is not None and now >= w.retry_at:
                self._restart(w)

    def _alive(self, w: _Watched) -> bool:
        try:
            return bool(w.part.alive())
        except Exception as exc:
            w.extra["alive_error"] = f"{type(exc).__name__}: {exc}"
            return False

    def _went_down(self, w: _Watched, now: float) -> None:
        w.up = False
        w.last_failure = self._reason(w)
        delay = w.backoff.next()
        w.retry_at = now + delay
        log.error("%s stopped working: %s; restarting it in %.1f s", w.part.name, w.last_failure, delay)
        try:
            w.part.stop()
        except Exception:
            log.warning("%s: error while cleaning up after it died", w.part.name, exc_info=True)

    def _restart(self, w: _Watched) -> None:
        w.attempts += 1
        try:
            w.part.start()
        except Exception as exc:
            why = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
            delay = w.backoff.next()
            w.retry_at = self.clock() + delay
            w.last_failure = f"restart failed: {why}"
            log.error("%s could not be restarted (%s); next try in %.1f s", w.part.name, why, delay)
            try:
                w.part.stop()
            except Exception:
                log.debug("%s: stop after a failed start raised", w.part.name, exc_info=True)
            return
        w.up, w.retry_at, w.up_since = True, None, self.clock()
        w.restarts += 1
        log.warning("%s restarted (restart %d; it had stopped: %s)", w.part.name, w.restarts, w.last_failure)

    @staticmethod
    def _reason(w: _Watched) -> str:
        try:
            h = w.part.health()
        except Exception as exc:
            return f"its health check raised {type(exc).__name__}: {exc}"
        return h.detail if not h.ok else w.extra.pop("alive_error", "it is no longer alive")

    # -- what it tells ----------------------------------------------------------------------------

    def liveness(self) -> str | None:
        """None while every required part is alive, else which is not and why (for systemd)."""
        for w in self._parts.values():
            if w.required and not (w.up and self._alive(w)):
                return f"{w.part.name}: {w.last_failure or self._reason(w)}"
        return None

    def health(self, name: str) -> PartHealth:
        """The part's own health, with its restarts and why it last stopped."""
        w = self._parts[name]
        try:
            h = w.part.health()
        except Exception as exc:
            h = PartHealth(False, f"health check failed: {type(exc).__name__}: {exc}")
        data = {**h.data, "restarts": w.restarts, "last_failure": w.last_failure}
        if not w.up:
            wait = max(0.0, (w.retry_at or self.clock()) - self.clock())
            return PartHealth(False, f"{w.last_failure}; restarting in {wait:.1f} s", data)
        detail = h.detail
        if w.restarts:
            detail += f" (restarted {w.restarts}× ; last stop: {w.last_failure})"
        return PartHealth(h.ok, detail, data)

    def register_health(self, monitor: HealthMonitor) -> None:
        """One probe per supervised part on ``/healthz`` (replacing a settings-only probe of that name)."""
        for name in self._parts:
            monitor.register(name, lambda name=name: self.health(name))
