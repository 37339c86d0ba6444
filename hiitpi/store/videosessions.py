"""Sessions refereed from a recorded video: written whole, in one transaction, once the analysis
has succeeded (a failed or interrupted analysis leaves nothing: no half-written session).

The live engine streams a session into the store as it happens (`hiitpi.store.recorder`); a video
is analysed first and stored after, with the same rows: a session (``source = "video"``, dated
from when the video was filmed), one interval (or, in auto mode, one per recognised interval, the
session named after the first, as a live auto session is), every rep and no-rep with its timings
and form score. Its
annotated video, when kept, is a file in the upload folder named in ``video_file``; `kept_videos`
and `forget_video` are what the retention uses.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from hiitpi.referee.events import RefEvent
from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import Interval, Player, Rep, WorkoutSession
from hiitpi.store.players import clean_player_name, name_key
from hiitpi.store.recorder import _check_workout

log = logging.getLogger(__name__)

NAME_MAX = 200


@dataclass(frozen=True, slots=True)
class VideoSession:
    """What `save_video_session` writes."""

    player: str
    workout: str
    started_at: datetime
    duration_s: float
    events: Sequence[RefEvent]
    hold_s: float | None = None  # a hold workout's seconds held
    video_name: str | None = None
    video_file: str | None = None
    video_bytes: int | None = None
    #: auto mode: the recognised intervals, (workout, start s, end s, hold s or None) in order;
    #: None: one interval of ``workout``
    intervals: Sequence[tuple[str, float, float, float | None]] | None = None
    #: the convention it was counted by ("judge" or "attempts"; None: judge), as a live session's
    counting: str | None = None


@dataclass(frozen=True, slots=True)
class KeptVideo:
    session_id: int
    video_file: str
    video_bytes: int
    started_at: datetime
    ended_at: datetime | None


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:NAME_MAX]


def save_video_session(store: Store, v: VideoSession) -> int:
    """Write the session, its interval and every rep in one transaction; returns its id."""
    player = clean_player_name(v.player)
    if v.started_at.tzinfo is None:
        raise InvalidInput("the session's start must be an aware datetime")
    duration = max(0.0, float(v.duration_s))
    ended = v.started_at + timedelta(seconds=duration)
    spans = _spans(v, duration)
    workout = spans[0][0]
    reps = [e for e in v.events if e.kind in ("rep", "no_rep")]
    n_reps = sum(e.kind == "rep" for e in reps)
    n_no = len(reps) - n_reps
    n_faults = sum(e.kind == "fault" for e in v.events)
    hold = v.hold_s if v.intervals is None else (sum(h or 0.0 for *_, h in spans) or None)
    totals = {
        "duration_s": duration,
        "reps": n_reps,
        "no_reps": n_no,
        "faults": n_faults,
        "hold_s": hold,
        "attempts": len(reps),  # every rep and no-rep, as the live recorder counts them
        "full_reps": sum(_full(e) for e in reps),
    }
    where = [_span_of(spans, e.t_end) for e in v.events]
    with store.writing() as s:
        player_id = s.scalar(select(Player.id).where(Player.name_key == name_key(player)))
        if player_id is None:
            player_id = s.execute(
                insert(Player)
                .values(name=player, name_key=name_key(player), created_at=ended)
                .returning(Player.id)
            ).scalar_one()
        sid = s.execute(
            insert(WorkoutSession)
            .values(
                player_id=player_id,
                workout=workout,
                program=None,
                started_at=v.started_at,
                ended_at=ended,
                updated_at=ended,
                t0=0.0,
                status="done",
                source="video",
                counting=v.counting,
                video_name=_clip(v.video_name),
                video_file=_clip(v.video_file),
                video_bytes=v.video_bytes,
                **totals,
            )
            .returning(WorkoutSession.id)
        ).scalar_one()
        iids = []
        for k, (name, t0, t1, held) in enumerate(spans):
            mine = [e for e, at in zip(v.events, where, strict=True) if at == k]
            n_ok = sum(e.kind == "rep" for e in mine)
            iids.append(
                s.execute(
                    insert(Interval)
                    .values(
                        session_id=sid,
                        index=k + 1,
                        workout=name,
                        round=None,
                        started_at=v.started_at + timedelta(seconds=t0),
                        ended_at=v.started_at + timedelta(seconds=t1),
                        duration_s=max(0.0, t1 - t0),
                        reps=n_ok,
                        no_reps=sum(e.kind == "no_rep" for e in mine),
                        faults=sum(e.kind == "fault" for e in mine),
                        attempts=sum(e.kind in ("rep", "no_rep") for e in mine),
                        hold_s=held,
                    )
                    .returning(Interval.id)
                ).scalar_one()
            )
        if reps:
            s.execute(
                insert(Rep),
                [
                    {
                        "session_id": sid,
                        "interval_id": iids[_span_of(spans, e.t_end)],
                        "index": i,
                        "t_start": float(e.t_start),
                        "t_end": float(e.t_end),
                        "eccentric_s": e.eccentric_s,
                        "concentric_s": e.concentric_s,
                        "rom": e.rom,
                        "side": e.side,
                        "similarity": e.similarity,
                        "deviation": e.deviation,
                        "valid": e.kind == "rep",
                        "full": _full(e),
                        "reason": (e.reason or None) and e.reason[:200],
                        "recorded_at": v.started_at + timedelta(seconds=max(0.0, e.t_end)),
                    }
                    for i, e in enumerate(reps, 1)
                ],
            )
    log.info(
        "session %s stored from video %s: %s, %s, %d reps, %d no-reps",
        sid,
        v.video_name,
        player,
        workout,
        n_reps,
        n_no,
    )
    return sid


def _full(e: RefEvent) -> bool:
    """A rep that reached the full range and passed every check (not a short attempt, not a no-rep)."""
    return e.kind == "rep" and e.extra.get("full", True) is not False


def _spans(v: VideoSession, duration: float) -> list[tuple[str, float, float, float | None]]:
    """The intervals to write: the recognised ones (auto mode), else one of the whole video."""
    if v.intervals is None:
        return [(_check_workout(v.workout), 0.0, duration, v.hold_s)]
    if not v.intervals:
        raise InvalidInput("no workout was recognised: nothing to store")
    return [(_check_workout(w), max(0.0, float(a)), max(0.0, float(b)), h) for w, a, b, h in v.intervals]


def _span_of(spans: Sequence[tuple[str, float, float, float | None]], t: float) -> int:
    """The interval an event ending at ``t`` belongs to: the last one that started by then."""
    k = 0
    for i, (_w, start, _end, _h) in enumerate(spans):
        if start <= t:
            k = i
    return k


def session_video(store: Store, session_id: int) -> tuple[str, str | None, str | None]:
    """(source, video_name, video_file) of a session; `NotFound` when there is no such session."""
    with store.reading() as s:
        row = s.execute(
            select(WorkoutSession.source, WorkoutSession.video_name, WorkoutSession.video_file).where(
                WorkoutSession.id == session_id
            )
        ).first()
    if row is None:
        raise NotFound(f"no session with id {session_id}")
    return row[0], row[1], row[2]


def kept_videos(store: Store) -> list[KeptVideo]:
    """Every session with a kept annotated video, oldest first."""
    q = (
        select(
            WorkoutSession.id,
            WorkoutSession.video_file,
            WorkoutSession.video_bytes,
            WorkoutSession.started_at,
            WorkoutSession.ended_at,
        )
        .where(WorkoutSession.video_file.is_not(None))
        .order_by(WorkoutSession.started_at, WorkoutSession.id)
    )
    with store.reading() as s:
        return [KeptVideo(sid, f, int(b or 0), st, en) for sid, f, b, st, en in s.execute(q).all()]


def forget_video(store: Store, session_id: int) -> None:
    """The session no longer has an annotated video (its file was deleted); its reps stay."""
    with store.writing() as s:
        s.execute(
            update(WorkoutSession)
            .where(WorkoutSession.id == session_id)
            .values(video_file=None, video_bytes=None)
        )
