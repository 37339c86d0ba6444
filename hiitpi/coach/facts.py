"""The facts of one finished session: what the store hands the coach."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime


@dataclass(slots=True)
class IntervalFacts:
    """One interval of a session (a whole single-workout session is one interval)."""

    workout: str
    duration_s: float
    reps: int
    no_reps: int
    round: int | None = None


@dataclass(slots=True)
class SessionFacts:
    """Everything the summary may state. Times are seconds; rep lists are in rep order.

    ``rep_times`` are rep end times relative to the session start; ``rep_durations``,
    ``eccentric_s`` and ``concentric_s`` are per rep (None where unknown).
    """

    session_id: int
    player: str
    workout: str
    started_at: datetime
    duration_s: float
    reps: int
    no_reps: int
    no_rep_reasons: dict[str, int] = field(default_factory=dict)
    rep_times: list[float] = field(default_factory=list)
    rep_durations: list[float] = field(default_factory=list)
    eccentric_s: list[float | None] = field(default_factory=list)
    concentric_s: list[float | None] = field(default_factory=list)
    intervals: list[IntervalFacts] = field(default_factory=list)
    hold_s: float | None = None
    previous_best: int | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        return d
