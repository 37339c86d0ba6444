"""Read-only queries behind the history pages: list, detail, weekly trends, bests, leaderboard.

Every function takes a `Store` and returns plain frozen dataclasses (no ORM objects escape), so
pages and tests can use the results after the read transaction is over.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, exists, func, literal_column, select

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import SESSION_STATUSES, Interval, Player, Rep, WorkoutSession

log = logging.getLogger(__name__)

PER_PAGE_MAX = 200
#: Pace bests only count workouts of at least this long (a 5-second burst is not a pace).
MIN_PACE_S = 30.0


@dataclass(frozen=True, slots=True)
class SessionRow:
    id: int
    player_id: int
    player: str
    workout: str
    program: str | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    status: str
    reps: int
    no_reps: int
    faults: int
    hold_s: float | None
    summary_kind: str | None
    #: "live" (in front of the camera) or "video" (refereed from a recorded video)
    source: str = "live"
    #: the name a person gave it (None: show its workout's or program's title)
    name: str | None = None
    #: "judge" or "attempts" (None: judged, from before the choice existed)
    counting: str | None = None
    #: every attempt, counted or not; reps that reached the full range
    attempts: int = 0
    full_reps: int = 0

    @property
    def what(self) -> str:
        """The program's name for a program session, else the workout's."""
        return self.program or self.workout

    @property
    def avg_pace_rpm(self) -> float | None:
        """Counted reps per minute over the whole session (None for a very short one)."""
        from hiitpi.referee.pace import average_rpm

        return average_rpm(self.reps, self.duration_s)


#: The columns of a `SessionRow`, in order (every query that builds one selects these).
_SESSION_COLUMNS = 19


@dataclass(frozen=True, slots=True)
class Page:
    items: list[SessionRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


@dataclass(frozen=True, slots=True)
class IntervalRow:
    index: int
    workout: str
    round: int | None
    started_at: datetime
    ended_at: datetime | None
    duration_s: float
    reps: int
    no_reps: int
    faults: int
    hold_s: float | None
    attempts: int = 0
    #: seconds of work before the interval's rest (None: no rest, all of ``duration_s`` was work)
    work_s: float | None = None

    @property
    def active_s(self) -> float:
        """Seconds of work: a program interval without its rest."""
        return self.duration_s if self.work_s is None else self.work_s


@dataclass(frozen=True, slots=True)
class RepRow:
    index: int
    interval_index: int
    workout: str
    t_start: float
    t_end: float
    #: seconds since the session started (t_end - the session's t0).
    at_s: float
    eccentric_s: float | None
    concentric_s: float | None
    rom: float | None
    side: str | None
    valid: bool
    reason: str | None
    recorded_at: datetime
    #: 0..100 against the workout's reference, and the part that deviated most (None: no reference)
    similarity: float | None = None
    deviation: str | None = None
    full: bool = True

    @property
    def duration_s(self) -> float:
        return self.t_end - self.t_start

    @property
    def start_s(self) -> float:
        """Seconds since the session started, at the rep's start."""
        return self.at_s - self.duration_s

    @property
    def time_under_tension_s(self) -> float:
        if self.eccentric_s is not None and self.concentric_s is not None:
            return self.eccentric_s + self.concentric_s
        return self.t_end - self.t_start


@dataclass(frozen=True, slots=True)
class SessionDetail:
    session: SessionRow
    t0: float
    summary: str | None
    summary_reason: str | None
    intervals: list[IntervalRow] = field(default_factory=list)
    reps: list[RepRow] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class WeekRow:
    week: date  # the Monday starting the week, in the appliance's local time
    workout: str
    sessions: int
    reps: int
    no_reps: int
    active_s: float
    best_reps: int


@dataclass(frozen=True, slots=True)
class BestRow:
    workout: str
    sessions: int
    best_reps: int
    best_reps_session: int
    best_reps_at: datetime
    best_pace_rpm: float | None
    best_pace_session: int | None
    longest_hold_s: float | None
    longest_hold_session: int | None


@dataclass(frozen=True, slots=True)
class LeaderRow:
    rank: int
    player_id: int
    player: str
    value: float
    session_id: int
    at: datetime


# --- argument checks -----------------------------------------------------------------------------


def _as_start(value: date | datetime | None, what: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, date):
        return _local_midnight(value)
    raise InvalidInput(f"{what} must be a date (YYYY-MM-DD)")


def _as_end(value: date | datetime | None, what: str) -> datetime | None:
    """An exclusive upper bound: a date means 'up to the end of that day'."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value if value.tzinfo else value.astimezone()
    if isinstance(value, date):
        return _local_midnight(value + timedelta(days=1))
    raise InvalidInput(f"{what} must be a date (YYYY-MM-DD)")


def _local_midnight(d: date) -> datetime:
    """00:00 of ``d`` in the appliance's local time zone (days and weeks are the user's, not UTC's)."""
    return datetime.combine(d, time.min).astimezone()


def parse_date(text: str | None, what: str = "date") -> date | None:
    """A YYYY-MM-DD string from a page into a date, or `InvalidInput`."""
    if text is None or not str(text).strip():
        return None
    try:
        return date.fromisoformat(str(text).strip())
    except ValueError:
        raise InvalidInput(f"{what} {text!r} is not a date: use YYYY-MM-DD") from None


def _player_filter(player: int | str | None):
    if player is None:
        return None
    if isinstance(player, int) and not isinstance(player, bool):
        return WorkoutSession.player_id == player
    if isinstance(player, str):
        return Player.name_key == player.strip().casefold()
    raise InvalidInput("player must be an id or a name")


def _session_row_select() -> Select:
    return select(
        WorkoutSession.id,
        WorkoutSession.player_id,
        Player.name,
        WorkoutSession.workout,
        WorkoutSession.program,
        WorkoutSession.started_at,
        WorkoutSession.ended_at,
        WorkoutSession.duration_s,
        WorkoutSession.status,
        WorkoutSession.reps,
        WorkoutSession.no_reps,
        WorkoutSession.faults,
        WorkoutSession.hold_s,
        WorkoutSession.summary_kind,
        WorkoutSession.source,
        WorkoutSession.name,
        WorkoutSession.counting,
        WorkoutSession.attempts,
        WorkoutSession.full_reps,
    ).join(Player, Player.id == WorkoutSession.player_id)


# --- queries -------------------------------------------------------------------------------------


def list_sessions(
    store: Store,
    *,
    player: int | str | None = None,
    workout: str | None = None,
    program: str | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
    status: str | None = None,
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Sessions newest first. ``workout`` matches any interval of that workout (programs too);
    ``date_to`` is inclusive when a date; dates are days in the appliance's local time. Bad arguments raise `InvalidInput`."""
    if not isinstance(page, int) or page < 1:
        raise InvalidInput("page must be a whole number from 1")
    if not isinstance(per_page, int) or not 1 <= per_page <= PER_PAGE_MAX:
        raise InvalidInput(f"per_page must be between 1 and {PER_PAGE_MAX}")
    if status is not None and status not in SESSION_STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(SESSION_STATUSES)}")
    start, end = _as_start(date_from, "date_from"), _as_end(date_to, "date_to")
    if start and end and start >= end:
        raise InvalidInput("the start date is after the end date")
    conds = []
    if (pf := _player_filter(player)) is not None:
        conds.append(pf)
    if workout:
        conds.append(
            exists().where(
                and_(Interval.session_id == WorkoutSession.id, Interval.workout == workout.strip())
            )
        )
    if program:
        conds.append(WorkoutSession.program == program.strip())
    if start:
        conds.append(WorkoutSession.started_at >= start)
    if end:
        conds.append(WorkoutSession.started_at < end)
    if status:
        conds.append(WorkoutSession.status == status)
    where = and_(True, *conds)
    q = (
        _session_row_select()
        .where(where)
        .order_by(WorkoutSession.started_at.desc(), WorkoutSession.id.desc())
        .limit(per_page)
        .offset((page - 1) * per_page)
    )
    count_q = (
        select(func.count())
        .select_from(WorkoutSession)
        .join(Player, Player.id == WorkoutSession.player_id)
        .where(where)
    )
    with store.reading() as s:
        total = s.scalar(count_q) or 0
        items = [SessionRow(*r) for r in s.execute(q).all()]
    return Page(items, total, page, per_page)


def get_session(store: Store, session_id: int) -> SessionRow:
    with store.reading() as s:
        r = s.execute(_session_row_select().where(WorkoutSession.id == session_id)).first()
    if r is None:
        raise NotFound(f"no session with id {session_id}")
    return SessionRow(*r)


def session_detail(store: Store, session_id: int) -> SessionDetail:
    """One session with its intervals and every rep and no-rep in order."""
    found = list(iter_session_details(store, session_id))
    if not found:
        raise NotFound(f"no session with id {session_id}")
    return found[0]


def iter_session_details(store: Store, session_id: int | None = None) -> Iterator[SessionDetail]:
    """Every session (or one) with its intervals and reps, by id, from three queries in one read
    transaction; reps are streamed, so all history never sits in memory at once."""
    sq = _session_row_select().add_columns(
        WorkoutSession.t0, WorkoutSession.summary, WorkoutSession.summary_reason
    )
    iq = select(
        Interval.session_id,
        Interval.index,
        Interval.workout,
        Interval.round,
        Interval.started_at,
        Interval.ended_at,
        Interval.duration_s,
        Interval.reps,
        Interval.no_reps,
        Interval.faults,
        Interval.hold_s,
        Interval.attempts,
        Interval.work_s,
    )
    rq = select(
        Rep.session_id,
        Rep.index,
        Interval.index,
        Interval.workout,
        Rep.t_start,
        Rep.t_end,
        Rep.eccentric_s,
        Rep.concentric_s,
        Rep.rom,
        Rep.side,
        Rep.valid,
        Rep.reason,
        Rep.recorded_at,
        Rep.full,
        Rep.similarity,
        Rep.deviation,
    ).join(Interval, Interval.id == Rep.interval_id)
    if session_id is not None:
        sq = sq.where(WorkoutSession.id == session_id)
        iq = iq.where(Interval.session_id == session_id)
        rq = rq.where(Rep.session_id == session_id)
    with store.reading() as s:
        sessions = s.execute(sq.order_by(WorkoutSession.id)).all()
        intervals: dict[int, list[IntervalRow]] = {}
        for sid, *rest in s.execute(iq.order_by(Interval.session_id, Interval.index)):
            intervals.setdefault(sid, []).append(IntervalRow(*rest))
        rep_rows = s.execute(rq.order_by(Rep.session_id, Rep.index).execution_options(yield_per=5000))
        pending = next(rep_rows, None)
        for r in sessions:
            row, (t0, summary, reason) = SessionRow(*r[:_SESSION_COLUMNS]), r[_SESSION_COLUMNS:]
            reps: list[RepRow] = []
            while pending is not None and pending[0] <= row.id:
                sid, idx, i_idx, wk, ts, te, ecc, con, rom, side, valid, rsn, rec, full, sim, dev = pending
                if sid == row.id:
                    reps.append(
                        RepRow(
                            idx,
                            i_idx,
                            wk,
                            ts,
                            te,
                            te - t0,
                            ecc,
                            con,
                            rom,
                            side,
                            bool(valid),
                            rsn,
                            rec,
                            sim,
                            dev,
                            bool(full),
                        )
                    )
                pending = next(rep_rows, None)
            yield SessionDetail(row, t0, summary, reason, intervals.get(row.id, []), reps)


def list_workouts(store: Store) -> list[str]:
    """Every workout name in the history (for filter pickers)."""
    with store.reading() as s:
        return list(s.scalars(select(Interval.workout).distinct().order_by(Interval.workout)))


def _week_expr():
    # The Monday on or before started_at in local time (SQLite's 'localtime' follows the
    # process's TZ, DST included): step back 6 days, then forward to the next Monday.
    return func.date(WorkoutSession.started_at, "localtime", "-6 days", "weekday 1")


def _per_session_workout(player: int | str | None, workout: str | None, since: datetime | None):
    """Per (session, workout): reps, no-reps, active seconds and longest hold — a subquery."""
    q = (
        select(
            WorkoutSession.id.label("session_id"),
            WorkoutSession.player_id.label("player_id"),
            WorkoutSession.started_at.label("started_at"),
            _week_expr().label("week"),
            Interval.workout.label("workout"),
            func.sum(Interval.reps).label("reps"),
            func.sum(Interval.no_reps).label("no_reps"),
            func.sum(func.coalesce(Interval.work_s, Interval.duration_s)).label("active_s"),
            func.max(Interval.hold_s).label("hold_s"),
        )
        .join(Interval, Interval.session_id == WorkoutSession.id)
        .group_by(WorkoutSession.id, Interval.workout)
    )
    if (pf := _player_filter(player)) is not None:
        if isinstance(player, str):
            q = q.join(Player, Player.id == WorkoutSession.player_id)
        q = q.where(pf)
    if workout:
        q = q.where(Interval.workout == workout.strip())
    if since is not None:
        q = q.where(WorkoutSession.started_at >= since)
    return q.subquery()


def week_start(now: datetime | None = None) -> date:
    """The Monday of ``now``'s week (default: this week) in the appliance's local time."""
    local = (now or datetime.now(UTC)).astimezone()
    return (local - timedelta(days=local.weekday())).date()


@dataclass(frozen=True, slots=True)
class Totals:
    sessions: int
    reps: int
    no_reps: int


def session_totals(
    store: Store,
    *,
    player: int | str | None = None,
    date_from: date | datetime | None = None,
    date_to: date | datetime | None = None,
) -> Totals:
    """How many sessions (of any workout or program) and their reps and no-reps; ``date_to`` is
    inclusive when a date, as in `list_sessions`."""
    start, end = _as_start(date_from, "date_from"), _as_end(date_to, "date_to")
    conds = []
    if (pf := _player_filter(player)) is not None:
        conds.append(pf)
    if start:
        conds.append(WorkoutSession.started_at >= start)
    if end:
        conds.append(WorkoutSession.started_at < end)
    q = (
        select(func.count(WorkoutSession.id), func.sum(WorkoutSession.reps), func.sum(WorkoutSession.no_reps))
        .select_from(WorkoutSession)
        .join(Player, Player.id == WorkoutSession.player_id)
        .where(and_(True, *conds))
    )
    with store.reading() as s:
        n, reps, no_reps = s.execute(q).one()
    return Totals(int(n or 0), int(reps or 0), int(no_reps or 0))


def weekly_trends(
    store: Store,
    *,
    player: int | str | None = None,
    workout: str | None = None,
    weeks: int | None = 12,
    now: datetime | None = None,
) -> list[WeekRow]:
    """Per week (Monday, local time) and workout: sessions, reps, no-reps, active time, best session.

    ``weeks`` limits to the last N weeks before ``now`` (None: all history). Oldest week first.
    """
    if weeks is not None and (not isinstance(weeks, int) or weeks < 1):
        raise InvalidInput("weeks must be a whole number from 1")
    since = None
    if weeks is not None:
        since = _local_midnight(week_start(now) - timedelta(weeks=weeks - 1))
    sub = _per_session_workout(player, workout, since)
    q = (
        select(
            sub.c.week,
            sub.c.workout,
            func.count(sub.c.session_id),
            func.sum(sub.c.reps),
            func.sum(sub.c.no_reps),
            func.sum(sub.c.active_s),
            func.max(sub.c.reps),
        )
        .group_by(sub.c.week, sub.c.workout)
        .order_by(sub.c.week, sub.c.workout)
    )
    with store.reading() as s:
        rows = s.execute(q).all()
    return [
        WeekRow(date.fromisoformat(w), wk, n, int(r or 0), int(nr or 0), float(a or 0.0), int(b or 0))
        for w, wk, n, r, nr, a, b in rows
    ]


def personal_bests(store: Store, player: int | str) -> list[BestRow]:
    """One player's bests per workout: most reps in a session, best pace, longest hold."""
    if player is None:
        raise InvalidInput("pick a player to see personal bests")
    sub = _per_session_workout(player, None, None)
    q = select(
        sub.c.workout, sub.c.session_id, sub.c.started_at, sub.c.reps, sub.c.active_s, sub.c.hold_s
    ).order_by(sub.c.workout, sub.c.started_at)
    with store.reading() as s:
        rows = s.execute(q).all()
    from hiitpi.store.models import UTCDateTime

    to_dt = UTCDateTime().process_result_value
    best: dict[str, dict] = {}
    for wk, sid, started, reps, active, hold in rows:
        started = to_dt(started, None) if not isinstance(started, str) else _parse_dt(started)
        b = best.setdefault(
            wk,
            {"n": 0, "reps": -1, "rs": None, "ra": None, "pace": None, "ps": None, "hold": None, "hs": None},
        )
        b["n"] += 1
        reps = int(reps or 0)
        if reps > b["reps"]:  # strictly more: the first session to reach a best keeps it
            b["reps"], b["rs"], b["ra"] = reps, sid, started
        if active and active >= MIN_PACE_S and reps:
            pace = reps * 60.0 / active
            if b["pace"] is None or pace > b["pace"]:
                b["pace"], b["ps"] = pace, sid
        if hold is not None and (b["hold"] is None or hold > b["hold"]):
            b["hold"], b["hs"] = float(hold), sid
    return [
        BestRow(wk, b["n"], b["reps"], b["rs"], b["ra"], b["pace"], b["ps"], b["hold"], b["hs"])
        for wk, b in sorted(best.items())
    ]


def _parse_dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


LEADERBOARD_METRICS = ("reps", "hold_s")


def leaderboard(
    store: Store,
    workout: str,
    *,
    metric: str = "reps",
    since: date | datetime | None = None,
    limit: int = 10,
) -> list[LeaderRow]:
    """Each player's best single session at ``workout`` (most reps or longest hold), best first."""
    if not workout or not isinstance(workout, str):
        raise InvalidInput("pick a workout for the leaderboard")
    if metric not in LEADERBOARD_METRICS:
        raise InvalidInput(f"metric must be one of {', '.join(LEADERBOARD_METRICS)}")
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100")
    sub = _per_session_workout(None, workout, _as_start(since, "since"))
    value = sub.c.reps if metric == "reps" else sub.c.hold_s
    ranked = (
        select(
            sub.c.player_id,
            value.label("value"),
            sub.c.session_id,
            sub.c.started_at,
            func.row_number()
            .over(partition_by=sub.c.player_id, order_by=(value.desc(), sub.c.started_at))
            .label("rn"),
        )
        .where(value.is_not(None))
        .subquery()
    )
    q = (
        select(ranked.c.player_id, Player.name, ranked.c.value, ranked.c.session_id, ranked.c.started_at)
        .join(Player, Player.id == ranked.c.player_id)
        .where(ranked.c.rn == 1, ranked.c.value > literal_column("0"))
        .order_by(ranked.c.value.desc(), ranked.c.started_at)
        .limit(limit)
    )
    with store.reading() as s:
        rows = s.execute(q).all()
    out = []
    for i, (pid, name, val, sid, started) in enumerate(rows, 1):
        at = _parse_dt(started) if isinstance(started, str) else started
        out.append(LeaderRow(i, pid, name, float(val), sid, at))
    return out


def previous_best(
    store: Store, player_id: int, workout: str, before: datetime, exclude: int | None = None
) -> int | None:
    """Most reps at ``workout`` in one of the player's sessions started before ``before``."""
    sub = _per_session_workout(player_id, workout, None)
    q = select(func.max(sub.c.reps)).where(sub.c.started_at < before)
    if exclude is not None:
        q = q.where(sub.c.session_id != exclude)
    with store.reading() as s:
        v = s.scalar(q)
    return None if v is None else int(v)


def list_programs(store: Store) -> list[str]:
    """Every program name in the history (for filter pickers)."""
    with store.reading() as s:
        return list(
            s.scalars(
                select(WorkoutSession.program)
                .where(WorkoutSession.program.is_not(None))
                .distinct()
                .order_by(WorkoutSession.program)
            )
        )


def previous_session(store: Store, session_id: int) -> SessionRow | None:
    """The same player's session of the same workout (or the same program) just before this one."""
    this = get_session(store, session_id)
    same = (
        WorkoutSession.program == this.program
        if this.program
        else and_(WorkoutSession.program.is_(None), WorkoutSession.workout == this.workout)
    )
    q = (
        _session_row_select()
        .where(
            WorkoutSession.player_id == this.player_id,
            same,
            WorkoutSession.id != this.id,
            WorkoutSession.status != "open",
            (WorkoutSession.started_at < this.started_at)
            | and_(WorkoutSession.started_at == this.started_at, WorkoutSession.id < this.id),
        )
        .order_by(WorkoutSession.started_at.desc(), WorkoutSession.id.desc())
        .limit(1)
    )
    with store.reading() as s:
        r = s.execute(q).first()
    return None if r is None else SessionRow(*r)


@dataclass(frozen=True, slots=True)
class WeekTotals:
    week: date  # the Monday, local time
    sessions: int
    reps: int
    active_s: float


@dataclass(frozen=True, slots=True)
class Streaks:
    """Training days in a row (through today, or through yesterday when today has no session yet),
    the longest such run, weeks in a row with a session (through this week or last), and the
    totals of this week and last."""

    days: int
    longest_days: int
    weeks: int
    this_week: WeekTotals
    last_week: WeekTotals
    last_session_at: datetime | None


def streaks(store: Store, player: int | str, *, now: datetime | None = None) -> Streaks:
    """A player's streaks and this week's and last week's totals (days and weeks in local time)."""
    if player is None:
        raise InvalidInput("pick a player to see streaks")
    conds = [pf] if (pf := _player_filter(player)) is not None else []
    q = (
        select(func.date(WorkoutSession.started_at, "localtime"), func.max(WorkoutSession.started_at))
        .join(Player, Player.id == WorkoutSession.player_id)
        .where(*conds)
        .group_by(func.date(WorkoutSession.started_at, "localtime"))
    )
    monday = week_start(now)
    weeks_q = (
        select(
            _week_expr(),
            func.count(func.distinct(WorkoutSession.id)),
        )
        .join(Player, Player.id == WorkoutSession.player_id)
        .where(*conds)
        .group_by(_week_expr())
    )
    with store.reading() as s:
        days = sorted(date.fromisoformat(d) for d, _ in s.execute(q).all())
        last = s.scalar(
            select(func.max(WorkoutSession.started_at))
            .join(Player, Player.id == WorkoutSession.player_id)
            .where(*conds)
        )
        week_set = {date.fromisoformat(w) for w, _n in s.execute(weeks_q).all()}
    today = (now or datetime.now(UTC)).astimezone().date()
    day_set = set(days)
    run = 0
    d = today if today in day_set else today - timedelta(days=1)
    while d in day_set:
        run += 1
        d -= timedelta(days=1)
    longest = cur = 0
    prev: date | None = None
    for d in days:
        cur = cur + 1 if prev is not None and d - prev == timedelta(days=1) else 1
        longest = max(longest, cur)
        prev = d
    wk = 0
    w = monday if monday in week_set else monday - timedelta(weeks=1)
    while w in week_set:
        wk += 1
        w -= timedelta(weeks=1)
    totals = {
        t.week: t for t in _week_totals(store, player, since=_local_midnight(monday - timedelta(weeks=1)))
    }
    empty = lambda m: WeekTotals(m, 0, 0, 0.0)  # noqa: E731
    at = None if last is None else (_parse_dt(last) if isinstance(last, str) else last)
    return Streaks(
        run,
        longest,
        wk,
        totals.get(monday, empty(monday)),
        totals.get(monday - timedelta(weeks=1), empty(monday - timedelta(weeks=1))),
        at,
    )


def _week_totals(store: Store, player: int | str | None, *, since: datetime | None) -> list[WeekTotals]:
    sub = _per_session_workout(player, None, since)
    q = (
        select(
            sub.c.week,
            func.count(func.distinct(sub.c.session_id)),
            func.sum(sub.c.reps),
            func.sum(sub.c.active_s),
        )
        .group_by(sub.c.week)
        .order_by(sub.c.week)
    )
    with store.reading() as s:
        rows = s.execute(q).all()
    return [WeekTotals(date.fromisoformat(w), int(n), int(r or 0), float(a or 0.0)) for w, n, r, a in rows]


@dataclass(frozen=True, slots=True)
class BoardRow:
    """One player's line of a workout's leaderboard: the best session (raw reps), the best pace
    (reps per minute of work, sessions of at least `MIN_PACE_S`), and the totals."""

    rank: int
    player_id: int
    player: str
    best_reps: int
    best_reps_session: int
    best_rpm: float | None
    best_rpm_session: int | None
    total_reps: int
    sessions: int
    active_s: float


BOARD_SORTS = ("reps", "rpm", "total")


def leaderboard_table(
    store: Store,
    workout: str,
    *,
    sort: str = "reps",
    since: date | datetime | None = None,
    limit: int = 10,
) -> list[BoardRow]:
    """Every player who did ``workout`` (in any session or program): best session, best reps per
    minute and total reps, ranked by ``sort`` (``reps``, ``rpm`` or ``total``)."""
    if not workout or not isinstance(workout, str):
        raise InvalidInput("pick a workout for the leaderboard")
    if sort not in BOARD_SORTS:
        raise InvalidInput(f"sort must be one of {', '.join(BOARD_SORTS)}")
    if not isinstance(limit, int) or not 1 <= limit <= 100:
        raise InvalidInput("limit must be between 1 and 100")
    sub = _per_session_workout(None, workout, _as_start(since, "since"))
    q = (
        select(sub.c.player_id, Player.name, sub.c.session_id, sub.c.reps, sub.c.active_s)
        .join(Player, Player.id == sub.c.player_id)
        .order_by(sub.c.started_at, sub.c.session_id)
    )
    with store.reading() as s:
        rows = s.execute(q).all()
    per: dict[int, dict] = {}
    for pid, name, sid, reps, active in rows:
        reps, active = int(reps or 0), float(active or 0.0)
        p = per.setdefault(
            pid, {"name": name, "best": -1, "bs": sid, "rpm": None, "rs": None, "total": 0, "n": 0, "a": 0.0}
        )
        p["n"] += 1
        p["total"] += reps
        p["a"] += active
        if reps > p["best"]:
            p["best"], p["bs"] = reps, sid
        if active >= MIN_PACE_S and reps:
            rpm = reps * 60.0 / active
            if p["rpm"] is None or rpm > p["rpm"]:
                p["rpm"], p["rs"] = rpm, sid
    key = {
        "reps": lambda kv: (-kv[1]["best"], -kv[1]["total"], kv[1]["name"]),
        "rpm": lambda kv: (-(kv[1]["rpm"] or 0.0), -kv[1]["best"], kv[1]["name"]),
        "total": lambda kv: (-kv[1]["total"], -kv[1]["best"], kv[1]["name"]),
    }[sort]
    ranked = [kv for kv in sorted(per.items(), key=key) if kv[1]["total"] > 0]
    if sort == "rpm":
        ranked = [kv for kv in ranked if kv[1]["rpm"] is not None]
    return [
        BoardRow(i, pid, p["name"], p["best"], p["bs"], p["rpm"], p["rs"], p["total"], p["n"], p["a"])
        for i, (pid, p) in enumerate(ranked[:limit], 1)
    ]
