"""The coach's facts, built from what the store holds (a session's; a player's history), and where
the summary goes back."""

from __future__ import annotations

import itertools
import logging
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from hiitpi.coach.chat import Turn
from hiitpi.coach.chatfacts import ChatContext
from hiitpi.coach.facts import (
    HistoryFacts,
    IntervalFacts,
    PastSession,
    SessionFacts,
    WeekTotal,
    WorkoutBest,
)
from hiitpi.store.chat import Conversation, conversation_messages
from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import SUMMARY_KINDS, WorkoutSession
from hiitpi.store.queries import (
    get_session,
    list_sessions,
    personal_bests,
    previous_best,
    session_detail,
    session_totals,
    week_start,
    weekly_trends,
)

#: Earlier sessions a chat may list.
RECENT_SESSIONS = 20

log = logging.getLogger(__name__)


def session_facts(store: Store, session_id: int, titles: Callable[[str], str] | None = None) -> SessionFacts:
    """Everything the summary may state about one session (counted reps only in the rep lists).
    ``titles`` names workouts and programs as people read them (the catalogue's `Catalog.title`).
    An interval's time is its work time: a program's rest is not time spent on the workout."""
    title = titles or (lambda name: "")
    d = session_detail(store, session_id)
    row = d.session
    valid = [r for r in d.reps if r.valid]
    reasons = Counter((r.reason or "unspecified") for r in d.reps if not r.valid)
    workout = row.program or row.workout
    return SessionFacts(
        session_id=row.id,
        player=row.player,
        workout=workout,
        started_at=row.started_at,
        duration_s=row.duration_s,
        reps=row.reps,
        no_reps=row.no_reps,
        no_rep_reasons=dict(reasons.most_common()),
        rep_times=[r.at_s for r in valid],
        rep_durations=[r.t_end - r.t_start for r in valid],
        eccentric_s=[r.eccentric_s for r in valid],
        concentric_s=[r.concentric_s for r in valid],
        intervals=[
            IntervalFacts(i.workout, i.active_s, i.reps, i.no_reps, i.round, title(i.workout))
            for i in d.intervals
        ],
        hold_s=row.hold_s,
        previous_best=None
        if row.program
        else previous_best(store, row.player_id, row.workout, row.started_at, exclude=row.id),
        faults=row.faults,
        title=title(workout),
        rep_similarity=[r.similarity for r in valid],
        deviation=_most_common([r.deviation for r in d.reps if r.similarity is not None and r.deviation]),
    )


def _most_common(items: Sequence[str]) -> str | None:
    return Counter(items).most_common(1)[0][0] if items else None


def history_facts(
    store: Store,
    player_id: int,
    *,
    now: datetime | None = None,
    before: datetime | None = None,
    exclude: int | None = None,
) -> HistoryFacts:
    """A player's history for the chat as of ``now``: recent sessions (started before ``before``,
    without session ``exclude``), this and last week's totals per workout, bests per workout."""
    from hiitpi.store.players import get_player

    now = now or datetime.now(UTC)
    player = get_player(store, player_id)
    page = list_sessions(store, player=player_id, date_to=before, per_page=RECENT_SESSIONS + 1)
    recent = [
        PastSession(r.id, r.program or r.workout, r.started_at, r.duration_s, r.reps, r.no_reps)
        for r in page.items
        if r.id != exclude and (before is None or r.started_at < before)
    ][:RECENT_SESSIONS]
    this_monday = week_start(now)
    weeks = [
        WeekTotal(w.week, w.workout, w.sessions, w.reps, w.no_reps, w.active_s)
        for w in weekly_trends(store, player=player_id, weeks=2, now=now)
        if w.week >= this_monday - timedelta(weeks=1)
    ]
    week_sessions, week_reps = {}, {}
    for monday in (this_monday, this_monday - timedelta(weeks=1)):
        t = session_totals(store, player=player_id, date_from=monday, date_to=monday + timedelta(days=6))
        week_sessions[monday], week_reps[monday] = t.sessions, t.reps
    bests = [
        WorkoutBest(b.workout, b.sessions, b.best_reps, b.best_reps_at, b.best_pace_rpm, b.longest_hold_s)
        for b in personal_bests(store, player_id)
    ]
    return HistoryFacts(
        player=player.name,
        now=now,
        this_week=this_monday,
        recent=recent,
        weeks=weeks,
        week_sessions=week_sessions,
        week_reps=week_reps,
        bests=bests,
    )


def set_summary(store: Store, session_id: int, text: str, kind: str, reason: str | None = None) -> None:
    """Store the coach's summary: ``kind`` 'model' (LLM) or 'template' (with the ``reason`` why)."""
    if kind not in SUMMARY_KINDS:
        raise InvalidInput(f"summary kind must be one of {', '.join(SUMMARY_KINDS)}")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("summary text is empty")
    with store.writing() as s:
        n = s.execute(
            update(WorkoutSession)
            .where(WorkoutSession.id == session_id)
            .values(summary=text.strip(), summary_kind=kind, summary_reason=reason)
        ).rowcount
        if n == 0:
            raise NotFound(f"no session with id {session_id}")
    log.info("session %s: %s summary stored", session_id, kind)


def chat_context(
    store: Store, conv: Conversation, *, now: datetime | None = None, known_workouts: Sequence[str] = ()
) -> ChatContext:
    """What a conversation is about: the session and the player's history before it, or the
    player's whole history (`NotFound` for an unknown session or player)."""
    if conv.kind == "session":
        facts = session_facts(store, conv.id)
        row = get_session(store, conv.id)
        history = history_facts(store, row.player_id, now=now, before=row.started_at, exclude=row.id)
        return ChatContext(history, facts, known_workouts=known_workouts)
    return ChatContext(history_facts(store, conv.id, now=now), known_workouts=known_workouts)


def chat_turns(store: Store, conv: Conversation, *, limit: int = 8) -> list[Turn]:
    """The conversation's last question/answer pairs, oldest first (busy answers are not kept)."""
    msgs = conversation_messages(store, conv, limit=2 * limit)
    turns: list[Turn] = []
    for q, a in itertools.pairwise(msgs):
        if q.role == "user" and a.role == "coach":
            turns.append(Turn(q.text, a.text, a.facts))
    return turns[-limit:]
