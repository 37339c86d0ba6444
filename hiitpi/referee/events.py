"""What the referee says: events from the state machine, read by the live bus, store and coach."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Literal

EventKind = Literal["rep", "no_rep", "fault", "hold_tick"]


@dataclass(slots=True)
class RefEvent:
    """One referee decision.

    - ``rep``: a counted repetition. ``t_start``/``t_end`` are frame timestamps (seconds);
      ``eccentric_s``/``concentric_s`` split its duration (time under tension); ``rom`` is the
      range of motion reached (0..1 of the rule's full range); ``count`` is the running total
      (full reps when judging, attempts when counting attempts). ``extra`` may hold
      ``pause_s`` (time held at the far position), ``full = False`` (counting attempts: a short
      or failed attempt, followed by a ``fault`` with the reason) and ``hidden = True`` (an
      alternating rep of a side that could not be seen, counted from the alternation) and
      ``recounted = True`` (a rep found late: its cycle, measured on a stale travel, went uncounted
      until the travel was re-learnt from the set's rhythm; its times are in the past).
    - ``no_rep``: a movement that did not count (judging); ``reason`` says why ("not low
      enough", or the mark it missed: "feet not apart").
    - ``fault``: a form problem during a hold or a rep ("hips sagging"), or the reason of a short
      attempt when counting attempts; not a count change.
    - ``hold_tick``: a timed hold advanced; ``hold_s`` is the total time held with good form.

    A rep or no-rep of a workout with a reference (`hiitpi.referee.similarity`) carries
    ``similarity`` (0–100, how close its trajectory came to the reference's) and ``deviation``
    (the body part that deviated most, "knees").
    """

    kind: EventKind
    workout: str
    t_start: float
    t_end: float
    count: int = 0
    eccentric_s: float | None = None
    concentric_s: float | None = None
    rom: float | None = None
    reason: str | None = None
    side: str | None = None
    hold_s: float | None = None
    extra: dict = field(default_factory=dict)
    similarity: float | None = None
    deviation: str | None = None

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start

    def to_dict(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None and v != {}}
