"""The facts of one finished session, and of a player's history: what the store hands the coach."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import date, datetime


@dataclass(slots=True)
class IntervalFacts:
    """One interval of a session (a whole single-workout session is one interval). ``duration_s``
    is its work time (a program interval without its rest); ``title`` what people call the workout."""

    workout: str
    duration_s: float
    reps: int
    no_reps: int
    round: int | None = None
    title: str = ""


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
    #: form faults the referee called (not no-reps)
    faults: int = 0
    #: what people call the workout or program ("Tabata squats"); "" → the name made readable
    title: str = ""
    #: per counted rep, 0..100 against the workout's reference (None: not scored)
    rep_similarity: list[float | None] = field(default_factory=list)
    #: the body part that deviated most from the reference in most scored reps ("knees")
    deviation: str | None = None

    def to_dict(self) -> dict:
        d = asdict(self)
        d["started_at"] = self.started_at.isoformat()
        return d


@dataclass(slots=True)
class PastSession:
    """One earlier session, as the history lists it (``workout`` is the program's name for a program)."""

    session_id: int
    workout: str
    started_at: datetime
    duration_s: float
    reps: int
    no_reps: int


@dataclass(slots=True)
class WeekTotal:
    """One workout's totals in one week (Monday to Sunday, the appliance's local time)."""

    week: date
    workout: str
    sessions: int
    reps: int
    no_reps: int
    active_s: float


@dataclass(slots=True)
class WorkoutBest:
    """A player's bests at one workout over all history."""

    workout: str
    sessions: int
    best_reps: int
    best_reps_at: datetime
    best_pace_rpm: float | None = None
    longest_hold_s: float | None = None


@dataclass(slots=True)
class HistoryFacts:
    """What a chat may say about a player's history, as of ``now``.

    ``recent`` is newest first (only sessions before the one a conversation is about); ``weeks``
    holds this week's and last week's totals per workout, ``week_sessions`` the number of
    sessions (of any workout) in each of those two weeks, by the week's Monday.
    """

    player: str
    now: datetime
    #: the Monday of ``now``'s week (local time)
    this_week: date
    recent: list[PastSession] = field(default_factory=list)
    weeks: list[WeekTotal] = field(default_factory=list)
    week_sessions: dict[date, int] = field(default_factory=dict)
    week_reps: dict[date, int] = field(default_factory=dict)
    bests: list[WorkoutBest] = field(default_factory=list)


def example_facts() -> SessionFacts:
    """A plausible 24-rep squat session: reps slowing from 2.0 s to 3.15 s, 3 no-reps."""
    times, durs, t = [], [], 0.0
    for i in range(24):
        d = 2.0 + 0.05 * i
        t += d + 0.3
        times.append(round(t, 2))
        durs.append(round(d, 2))
    return SessionFacts(
        session_id=0,
        player="Sam",
        workout="squat",
        started_at=datetime(2026, 1, 1, 8, 0),
        duration_s=round(t + 2.0, 1),
        reps=24,
        no_reps=3,
        no_rep_reasons={"not low enough": 3},
        rep_times=times,
        rep_durations=durs,
        eccentric_s=[round(d * 0.55, 2) for d in durs],
        concentric_s=[round(d * 0.45, 2) for d in durs],
        previous_best=21,
    )


def example_history(now: datetime | None = None) -> HistoryFacts:
    """Sam's history around `example_facts`: squats and push-ups over two weeks (for the chat bench)."""
    from datetime import UTC, timedelta

    now = now or datetime(2026, 1, 1, 18, 0, tzinfo=UTC)
    monday = (now.astimezone() - timedelta(days=now.astimezone().weekday())).date()
    return HistoryFacts(
        player="Sam",
        now=now,
        this_week=monday,
        recent=[
            PastSession(5, "squat", now - timedelta(days=3), 64.0, 21, 2),
            PastSession(4, "pushup", now - timedelta(days=4), 52.0, 15, 0),
            PastSession(3, "squat", now - timedelta(days=9), 58.0, 18, 1),
        ],
        weeks=[
            WeekTotal(monday, "squat", 2, 45, 5, 135.0),
            WeekTotal(monday, "pushup", 1, 15, 0, 52.0),
            WeekTotal(monday - timedelta(weeks=1), "squat", 1, 18, 1, 58.0),
        ],
        week_sessions={monday: 3, monday - timedelta(weeks=1): 1},
        week_reps={monday: 60, monday - timedelta(weeks=1): 18},
        bests=[
            WorkoutBest("squat", 3, 24, now, 20.3),
            WorkoutBest("pushup", 1, 15, now - timedelta(days=4), 17.3),
        ],
    )
