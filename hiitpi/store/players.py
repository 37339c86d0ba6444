"""Players: list, create (validated), look up."""

from __future__ import annotations

import logging
import unicodedata
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import PLAYER_NAME_MAX, Player, WorkoutSession

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class PlayerRow:
    id: int
    name: str
    created_at: datetime
    sessions: int = 0
    last_session_at: datetime | None = None


def clean_player_name(name: object) -> str:
    """The name as stored, or `InvalidInput` saying what is wrong with it."""
    if not isinstance(name, str):
        raise InvalidInput("player name must be text")
    cleaned = unicodedata.normalize("NFC", " ".join(name.split()))
    if not cleaned:
        raise InvalidInput("player name is empty: type a name (1 to 40 characters)")
    if len(cleaned) > PLAYER_NAME_MAX:
        raise InvalidInput(f"player name is {len(cleaned)} characters long; use at most {PLAYER_NAME_MAX}")
    if any(unicodedata.category(ch).startswith("C") for ch in cleaned):
        raise InvalidInput("player name contains control characters; use letters, digits and spaces")
    return cleaned


def name_key(name: str) -> str:
    return name.casefold()


def create_player(store: Store, name: object) -> PlayerRow:
    """Add a player; `InvalidInput` for a bad or already-taken name (nothing is written then)."""
    cleaned = clean_player_name(name)
    try:
        with store.writing() as s:
            player = Player(name=cleaned, name_key=name_key(cleaned))
            s.add(player)
            s.flush()
            row = PlayerRow(player.id, player.name, player.created_at)
    except IntegrityError as exc:
        raise InvalidInput(
            f"a player named {cleaned!r} already exists; pick them or use another name"
        ) from exc
    log.info("player %s created (id %s)", cleaned, row.id)
    return row


def get_or_create_player(store: Store, name: object) -> PlayerRow:
    cleaned = clean_player_name(name)
    found = find_player(store, cleaned)
    if found is not None:
        return found
    try:
        return create_player(store, cleaned)
    except InvalidInput:
        found = find_player(store, cleaned)  # created by someone else meanwhile
        if found is None:
            raise
        return found


def find_player(store: Store, name: str) -> PlayerRow | None:
    with store.reading() as s:
        p = s.scalar(select(Player).where(Player.name_key == name_key(name.strip())))
        return None if p is None else PlayerRow(p.id, p.name, p.created_at)


def get_player(store: Store, player_id: int) -> PlayerRow:
    with store.reading() as s:
        p = s.get(Player, player_id)
        if p is None:
            raise NotFound(f"no player with id {player_id}")
        return PlayerRow(p.id, p.name, p.created_at)


def list_players(store: Store) -> list[PlayerRow]:
    """Every player with their session count and last session, by name."""
    q = (
        select(
            Player.id,
            Player.name,
            Player.created_at,
            func.count(WorkoutSession.id),
            func.max(WorkoutSession.started_at),
        )
        .outerjoin(WorkoutSession, WorkoutSession.player_id == Player.id)
        .group_by(Player.id)
        .order_by(Player.name_key)
    )
    with store.reading() as s:
        rows = s.execute(q).all()
    return [PlayerRow(pid, name, created, n, last) for pid, name, created, n, last in rows]
