"""The queue of videos sent from phones, kept in the store so a restart loses none.

An upload is ``queued`` once its whole file is on disk, ``analysing`` while the worker runs it
(`hiitpi.offline.worker`), then ``done`` (with the session it became), ``failed`` (with a
message fit for the page) or ``cancelled``. One left ``analysing`` by a crash or a restart goes
back to ``queued`` when the worker starts (`requeue_interrupted`). Its ``token`` names it in
URLs; the id is internal.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select, update

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import Upload, WorkoutSession, utcnow

log = logging.getLogger(__name__)

ACTIVE = ("queued", "analysing")


class QueueFull(InvalidInput):
    """As many uploads wait as ``[upload] max_queued`` allows."""


@dataclass(frozen=True, slots=True)
class UploadRow:
    id: int
    token: str
    status: str
    player: str
    workout: str
    file_name: str
    stored_file: str | None
    size_bytes: int
    duration_s: float | None
    keep_video: bool
    progress: float
    message: str | None
    notes: list[str] = field(default_factory=list)
    session_id: int | None = None
    created_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    reps: int | None = None  # the session's, once done
    no_reps: int | None = None

    def to_dict(self) -> dict:
        """What the page shows (no file paths)."""
        return {
            "id": self.token,
            "status": self.status,
            "player": self.player,
            "workout": self.workout,
            "file_name": self.file_name,
            "size_bytes": self.size_bytes,
            "duration_s": self.duration_s,
            "keep_video": self.keep_video,
            "progress": round(self.progress, 4),
            "message": self.message,
            "notes": list(self.notes),
            "session_id": self.session_id,
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
            "reps": self.reps,
            "no_reps": self.no_reps,
        }


def _row(u: Upload, reps: int | None = None, no_reps: int | None = None) -> UploadRow:
    try:
        notes = json.loads(u.notes) if u.notes else []
    except ValueError:
        notes = []
    return UploadRow(
        u.id,
        u.token,
        u.status,
        u.player,
        u.workout,
        u.file_name,
        u.stored_file,
        u.size_bytes,
        u.duration_s,
        bool(u.keep_video),
        float(u.progress or 0.0),
        u.message,
        [str(n) for n in notes],
        u.session_id,
        u.created_at,
        u.started_at,
        u.finished_at,
        reps,
        no_reps,
    )


def _with_totals():
    return select(Upload, WorkoutSession.reps, WorkoutSession.no_reps).outerjoin(
        WorkoutSession, WorkoutSession.id == Upload.session_id
    )


def add_upload(
    store: Store,
    *,
    token: str,
    player: str,
    workout: str,
    file_name: str,
    stored_file: str,
    size_bytes: int,
    keep_video: bool,
    duration_s: float | None = None,
    notes: list[str] | None = None,
    max_queued: int | None = None,
) -> UploadRow:
    """Queue an upload whose file is on disk; `QueueFull` when ``max_queued`` wait already."""
    with store.writing() as s:
        if max_queued is not None:
            waiting = s.scalar(select(func.count()).select_from(Upload).where(Upload.status.in_(ACTIVE)))
            if waiting >= max_queued:
                raise QueueFull(
                    f"{waiting} videos are waiting for their analysis already: send this one when "
                    "they are done"
                )
        u = Upload(
            token=token,
            status="queued",
            player=player,
            workout=workout,
            file_name=file_name[:200],
            stored_file=stored_file,
            size_bytes=size_bytes,
            duration_s=duration_s,
            keep_video=keep_video,
            progress=0.0,
            notes=json.dumps(notes or []),
            created_at=utcnow(),
        )
        s.add(u)
        s.flush()
        row = _row(u)
    log.info("upload %s queued: %s (%d bytes) for %s, %s", token, file_name, size_bytes, player, workout)
    return row


def get_upload(store: Store, token: str) -> UploadRow:
    with store.reading() as s:
        found = s.execute(_with_totals().where(Upload.token == token)).first()
        if found is None:
            raise NotFound(f"no upload {token[:40]!r}")
        return _row(*found)


def list_uploads(store: Store, *, limit: int = 20) -> list[UploadRow]:
    """The newest uploads first (waiting, running and finished)."""
    with store.reading() as s:
        return [_row(*r) for r in s.execute(_with_totals().order_by(Upload.id.desc()).limit(limit)).all()]


def next_queued(store: Store) -> UploadRow | None:
    """The oldest upload waiting for its analysis."""
    with store.reading() as s:
        u = s.scalar(select(Upload).where(Upload.status == "queued").order_by(Upload.id).limit(1))
        return None if u is None else _row(u)


def queue_position(store: Store, upload_id: int) -> int:
    """How many active uploads are ahead of this one (0: it is next or running)."""
    with store.reading() as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(Upload)
                .where(Upload.status.in_(ACTIVE), Upload.id < upload_id)
            )
            or 0
        )


def _set(store: Store, upload_id: int, **values) -> None:
    with store.writing() as s:
        s.execute(update(Upload).where(Upload.id == upload_id).values(**values))


def start_upload(store: Store, upload_id: int) -> None:
    _set(store, upload_id, status="analysing", started_at=utcnow(), progress=0.0, message=None)


def set_progress(store: Store, upload_id: int, progress: float, message: str | None = None) -> None:
    _set(store, upload_id, progress=max(0.0, min(1.0, float(progress))), message=message)


def finish_upload(
    store: Store, upload_id: int, *, session_id: int, notes: list[str], message: str | None = None
) -> None:
    _set(
        store,
        upload_id,
        status="done",
        session_id=session_id,
        progress=1.0,
        notes=json.dumps(notes),
        message=message,
        finished_at=utcnow(),
    )


def fail_upload(store: Store, upload_id: int, message: str, notes: list[str] | None = None) -> None:
    values = {"status": "failed", "message": message[:2000], "finished_at": utcnow()}
    if notes is not None:
        values["notes"] = json.dumps(notes)
    _set(store, upload_id, **values)


def forget_file(store: Store, upload_id: int) -> None:
    """The sent file was deleted."""
    _set(store, upload_id, stored_file=None)


def cancel_upload(store: Store, token: str) -> UploadRow:
    """Cancel an upload still waiting; `InvalidInput` once its analysis has begun or ended."""
    with store.writing() as s:
        u = s.scalar(select(Upload).where(Upload.token == token))
        if u is None:
            raise NotFound(f"no upload {token[:40]!r}")
        if u.status != "queued":
            raise InvalidInput(f"this upload is {u.status}: only a waiting one can be cancelled")
        u.status, u.finished_at, u.message = "cancelled", utcnow(), "cancelled before its analysis"
        s.flush()
        return _row(u)


def requeue_interrupted(store: Store) -> list[int]:
    """Uploads a stop left ``analysing`` go back to the queue (their analysis starts again)."""
    with store.writing() as s:
        ids = list(s.scalars(select(Upload.id).where(Upload.status == "analysing")))
        if ids:
            s.execute(
                update(Upload)
                .where(Upload.id.in_(ids))
                .values(status="queued", progress=0.0, started_at=None, message="restarted after a stop")
            )
    if ids:
        log.warning("uploads %s were being analysed when hiitpi stopped: queued again", ids)
    return ids


def files_in_use(store: Store) -> set[str]:
    """The stored files of uploads that still need them (waiting or running)."""
    with store.reading() as s:
        return {
            f for f in s.scalars(select(Upload.stored_file).where(Upload.status.in_(ACTIVE))) if f is not None
        }


def upload_of_session(store: Store, session_id: int) -> UploadRow | None:
    """The upload a session was made from (None for a live one, or one from `hiitpi analyze --save`)."""
    with store.reading() as s:
        u = s.scalar(
            select(Upload).where(Upload.session_id == session_id).order_by(Upload.id.desc()).limit(1)
        )
        return None if u is None else _row(u)
