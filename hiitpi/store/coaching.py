"""SessionFacts for the coach, built from what the store holds; and where the summary goes back."""

from __future__ import annotations

import logging
from collections import Counter

from sqlalchemy import update

from hiitpi.coach.facts import IntervalFacts, SessionFacts
from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import SUMMARY_KINDS, WorkoutSession
from hiitpi.store.queries import previous_best, session_detail

log = logging.getLogger(__name__)


def session_facts(store: Store, session_id: int) -> SessionFacts:
    """Everything the summary may state about one session (counted reps only in the rep lists)."""
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
        intervals=[IntervalFacts(i.workout, i.duration_s, i.reps, i.no_reps, i.round) for i in d.intervals],
        hold_s=row.hold_s,
        previous_best=None
        if row.program
        else previous_best(store, row.player_id, row.workout, row.started_at, exclude=row.id),
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
