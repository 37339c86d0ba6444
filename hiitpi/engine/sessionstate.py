"""A session and what viewers see of it.

`Session` is the running session's record (its referee, program, totals); `SessionChange` is what
the controller hands its sinks at a start, switch, rest or stop; `running_state` and
`ended_state` turn a session into the session part of the `LiveState` (the engine adds its
health and the last command's echo). No policy here: `hiitpi.engine.session.SessionController`
decides what a command means.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from hiitpi.live.contract import LiveState
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee


@dataclass(slots=True)
class Session:
    id: str
    player: str
    workout: str  # the current interval's workout (rules name); "" while auto mode waits
    referee: Referee | None  # None while auto mode waits for the first rep
    program: Any = None  # a `ProgramRun` when the session is a HIIT program
    auto: Any = None  # an `AutoMode` when the workout is recognised (auto mode, a free block)
    corrections: dict[str, str] = dataclasses.field(default_factory=dict)  # recognised → said
    started: bool = True  # session_start announced (auto mode: at the first recognised rep)
    t0: float | None = None  # referee clock at the session's first frame
    store_id: Any = None  # set by the store sink when it opens the session's row
    resting: bool = False
    counting: str = "judge"  # the session's counting convention (every interval keeps it)
    reps_before: int = 0  # reps of the intervals already finished
    no_reps_before: int = 0
    attempts_before: int = 0
    partial_reps: int = 0  # reps counted short of the full range (counting attempts), whole session

    @property
    def total_reps(self) -> int:
        return self.reps_before + (self.referee.count if self.referee else 0)

    @property
    def total_no_reps(self) -> int:
        return self.no_reps_before + (self.referee.no_reps if self.referee else 0)

    @property
    def total_attempts(self) -> int:
        return self.attempts_before + (self.referee.attempts if self.referee else 0)

    @property
    def watching(self) -> bool:
        """A free block that has not recognised anything yet."""
        return self.auto is not None and self.started and self.auto.referee is None

    @property
    def total_full_reps(self) -> int:
        """Reps that reached the full range and passed every check (the judge's count)."""
        return self.total_reps - self.partial_reps

    def note(self, events: Iterable[RefEvent]) -> None:
        """Count the partial reps among the referee's events (counted when counting attempts)."""
        self.partial_reps += sum(1 for e in events if e.kind == "rep" and e.extra.get("full") is False)

    @property
    def program_name(self) -> str | None:
        return self.program.program.name if self.program is not None else None


@dataclass(frozen=True, slots=True)
class SessionChange:
    """``kind``: session_start, interval_end, interval_start, interval_relabel, rest_start or
    session_stop; ``t`` the referee clock; ``data`` what the live bus carries with it; ``events``
    the referee's last events of the interval that ends (a rep on its way back when the set
    stops), before the change, or an interval_relabel's re-counted reps."""

    kind: str
    session: Session
    t: float
    data: dict[str, Any]
    events: tuple[RefEvent, ...] = ()


def elapsed(s: Session, last_t: float | None) -> float:
    """Seconds since the session's first frame, on the referee clock."""
    return round(last_t - s.t0, 2) if (last_t is not None and s.t0 is not None) else 0.0


def running_state(s: Session, last_t: float | None) -> LiveState:
    """The session part of the live state while ``s`` runs; ``last_t`` the newest frame's time."""
    from hiitpi.referee.pace import average_rpm

    ref = s.referee
    since = elapsed(s, last_t) if s.started else 0.0
    # the recent pace at the newest frame, not the referee's last pose: it decays during a rest
    pace = ref.pace_meter.rate(last_t) if ref is not None and last_t is not None else 0.0
    avg = average_rpm(s.total_reps, since)
    st = LiveState(
        session=s.id,
        player=s.player,
        workout=s.workout,
        running=True,
        phase="waiting" if ref is None or s.watching else "rest" if s.resting else ref.phase,
        reps=ref.count if ref else 0,
        no_reps=ref.no_reps if ref else 0,
        attempts=ref.attempts if ref else 0,
        total_reps=s.total_reps,
        total_no_reps=s.total_no_reps,
        total_attempts=s.total_attempts,
        full_reps=s.total_full_reps,
        counting=ref.counting if ref else s.counting,
        turn=ref.turn if ref else 0,
        pace=round(pace, 2),
        avg_pace=None if avg is None else round(avg, 2),
        elapsed=since,
        t0=s.t0,
        store_id=s.store_id,
    )
    if s.auto is not None:
        for key, value in s.auto.live_fields().items():
            setattr(st, key, value)
    if s.program is not None:
        for key, value in s.program.state(since).items():
            setattr(st, key, value)
    return st


def ended_state(s: Session, last_t: float | None) -> LiveState:
    """What viewers keep seeing once ``s`` has stopped, until the next session starts: its
    numbers, not running, no recent pace (the average stays), the link to its stored result."""
    st = running_state(s, last_t)
    st.running = False
    st.pace = 0.0  # nobody is moving any more
    st.store_id = s.store_id  # where the page links the result to
    st.t0 = s.t0  # and where a page opened later finds its charts
    st.phase = ""
    # the program stays: the result card is titled by it ("Tabata squats", not "Squat")
    st.program_elapsed = st.round = st.rounds = None
    st.segment = ""
    st.remaining = None
    return st


def tally(ref: Referee | None) -> dict[str, Any]:
    """An interval's numbers as the live bus and the store carry them."""
    if ref is None:
        return {"reps": 0, "no_reps": 0, "attempts": 0, "pace": 0.0}
    return {"reps": ref.count, "no_reps": ref.no_reps, "attempts": ref.attempts, "pace": round(ref.pace, 2)}
