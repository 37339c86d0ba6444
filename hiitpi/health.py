"""What every part says about itself: `PartHealth`, and the `HealthMonitor` that asks them all.

A probe is a function returning a `PartHealth`; the parts register theirs by name
(`monitor.register("camera", probe)`). ``report()`` runs every probe (a probe that raises is a
failed part, not a crash) and caches the answer briefly, so a busy page or a watchdog polling
every second costs little. ``/healthz`` (`hiitpi.web.health`) serves it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)


@dataclass(slots=True)
class PartHealth:
    ok: bool
    detail: str
    data: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "detail": self.detail, **self.data}


Probe = Callable[[], PartHealth]


class HealthMonitor:
    """The probes of every part, and a short-lived cache of their answers."""

    def __init__(self, *, cache_s: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.cache_s = cache_s
        self.clock = clock
        self._probes: dict[str, Probe] = {}
        self._lock = threading.Lock()
        self._cached: tuple[float, dict[str, Any]] | None = None

    def register(self, name: str, probe: Probe) -> None:
        with self._lock:
            self._probes[name] = probe
            self._cached = None

    def unregister(self, name: str) -> None:
        with self._lock:
            self._probes.pop(name, None)
            self._cached = None

    @property
    def parts(self) -> list[str]:
        return list(self._probes)

    def report(self, *, fresh: bool = False) -> dict[str, Any]:
        """``{"status", "degraded", "parts": {name: {"ok", "detail", …}}}``."""
        now = self.clock()
        with self._lock:
            cached = self._cached
            probes = dict(self._probes)
        if cached is not None and not fresh and now - cached[0] < self.cache_s:
            return cached[1]
        parts: dict[str, dict[str, Any]] = {}
        for name, probe in probes.items():
            try:
                result = probe()
            except Exception as exc:  # a broken probe says so; /healthz itself never fails
                log.warning("health probe %s raised", name, exc_info=True)
                result = PartHealth(False, f"health check failed: {type(exc).__name__}: {exc}")
            parts[name] = result.as_dict()
        degraded = [name for name, part in parts.items() if not part["ok"]]
        report = {"status": "degraded" if degraded else "ok", "degraded": degraded, "parts": parts}
        with self._lock:
            self._cached = (now, report)
        return report
