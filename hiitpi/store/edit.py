"""Changing the history a person owns: rename a session, delete a session (with its intervals,
reps and chat). A session still being recorded can be neither."""

from __future__ import annotations

import logging
import unicodedata

from sqlalchemy import delete, select, update

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import SESSION_NAME_MAX, WorkoutSession

log = logging.getLogger(__name__)


def clean_session_name(name: object) -> str | None:
    """The name as stored (None: clear it, show the workout's title), or `InvalidInput`."""
    if name is None:
        return None
    if not isinstance(name, str):
        raise InvalidInput("a session name must be text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        return None
    if len(cleaned) > SESSION_NAME_MAX:
        raise InvalidInput(f"the name is {len(cleaned)} characters long; use at most {SESSION_NAME_MAX}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidInput("the name contains control characters; use letters, digits and spaces")
    return cleaned


def _status(s, session_id: int) -> str:
    status = s.scalar(select(WorkoutSession.status).where(WorkoutSession.id == session_id))
    if status is None:
        raise NotFound(f"there is no session {session_id}")
    return status


def rename_session(store: Store, session_id: int, name: object) -> str | None:
    """Give a session a name (an empty one clears it); returns the stored name."""
    cleaned = clean_session_name(name)
    with store.writing() as s:
        _status(s, session_id)
        s.execute(update(WorkoutSession).where(WorkoutSession.id == session_id).values(name=cleaned))
    log.info("session %s renamed to %r", session_id, cleaned)
    return cleaned


def delete_session(store: Store, session_id: int) -> None:
    """Delete a finished session with its intervals, reps and chat; `InvalidInput` while it runs."""
    with store.writing() as s:
        if _status(s, session_id) == "open":
            raise InvalidInput(f"session {session_id} is still being recorded: stop it first")
        s.execute(delete(WorkoutSession).where(WorkoutSession.id == session_id))
    log.info("session %s deleted", session_id)
