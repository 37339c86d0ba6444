"""Closing sessions left open by a crash or power loss, keeping every rep that reached the disk."""

from __future__ import annotations

import logging

from sqlalchemy import case, func, select, update

from hiitpi.store.db import Store
from hiitpi.store.models import Interval, Rep, WorkoutSession

log = logging.getLogger(__name__)


def recover_open_sessions(store: Store) -> list[int]:
    """Mark every 'open' session 'recovered', its totals recounted from its reps; returns their ids.

    Call it at start-up, before a `SessionRecorder` opens a new session: the session that was
    being written when the process died ends at its last batch on disk (``updated_at``).
    """
    recovered: list[int] = []
    with store.writing() as s:
        open_sessions = s.execute(
            select(WorkoutSession.id, WorkoutSession.started_at, WorkoutSession.updated_at).where(
                WorkoutSession.status == "open"
            )
        ).all()
        for sid, started_at, updated_at in open_sessions:
            per_interval = s.execute(
                select(
                    Rep.interval_id,
                    func.sum(case((Rep.valid, 1), else_=0)),
                    func.sum(case((Rep.valid, 0), else_=1)),
                    func.sum(case((Rep.full, 1), else_=0)),
                )
                .where(Rep.session_id == sid)
                .group_by(Rep.interval_id)
            ).all()
            counts = {iid: (int(r or 0), int(n or 0), int(f or 0)) for iid, r, n, f in per_interval}
            intervals = s.execute(
                select(Interval.id, Interval.started_at, Interval.ended_at, Interval.hold_s, Interval.faults)
                .where(Interval.session_id == sid)
                .order_by(Interval.index)
            ).all()
            reps = no_reps = faults = full = 0
            hold = None
            for iid, i_started, i_ended, i_hold, i_faults in intervals:
                r, n, f = counts.get(iid, (0, 0, 0))
                reps, no_reps, faults, full = reps + r, no_reps + n, faults + (i_faults or 0), full + f
                if i_hold is not None:
                    hold = (hold or 0.0) + i_hold
                end = i_ended or updated_at
                s.execute(
                    update(Interval)
                    .where(Interval.id == iid)
                    .values(
                        reps=r,
                        no_reps=n,
                        attempts=r + n,
                        ended_at=end,
                        duration_s=max(0.0, (end - i_started).total_seconds()),
                    )
                )
            s.execute(
                update(WorkoutSession)
                .where(WorkoutSession.id == sid)
                .values(
                    status="recovered",
                    ended_at=updated_at,
                    duration_s=max(0.0, (updated_at - started_at).total_seconds()),
                    reps=reps,
                    no_reps=no_reps,
                    attempts=reps + no_reps,
                    full_reps=full,
                    faults=faults,
                    hold_s=hold,
                )
            )
            recovered.append(sid)
            log.warning(
                "session %s was left open (crash or power loss): closed as 'recovered' with %d reps, %d no-reps",
                sid,
                reps,
                no_reps,
            )
    return recovered
