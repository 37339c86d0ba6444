"""What the frame loop measures: per-frame costs (a bounded window) and the recent frame rate."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class FrameRecord:
    """What one analysed frame cost. ``latency_ms`` is captured → in Redis, minus the pose model."""

    seq: int
    stages_ms: dict[str, float]
    latency_ms: float | None
    published: bool
    cpu_ms: float = 0.0  # CPU time the analysis thread spent on it (waiting for a core excluded)


@dataclass
class EngineStats:
    """Counters of the frame loop. Only the newest ``window`` frames' costs are kept: an engine
    runs for hours."""

    frames: int = 0
    published: int = 0
    errors: int = 0  # frames the loop could not analyse (each logged)
    started_at: float = field(default_factory=time.monotonic)
    last_frame_at: float | None = None
    window: int = 1000
    records: deque[FrameRecord] = field(init=False)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def __post_init__(self) -> None:
        self.records = deque(maxlen=self.window)

    def add(self, rec: FrameRecord) -> None:
        now = time.monotonic()
        self.last_frame_at = now
        self.frames += 1
        self.published += rec.published
        self.records.append(rec)
        self._recent.append(now)

    @property
    def fps(self) -> float:
        r = self._recent
        if len(r) < 2 or r[-1] == r[0]:
            return 0.0
        return (len(r) - 1) / (r[-1] - r[0])
