"""Conversations with the coach: one per session, and one per player for their history.

A `Conversation` names whose chat it is. On the session page the chat is about that session (and
the player's history around it); on the history page it is about the player's history, so it is
kept per player — picking another player opens that player's conversation. Deleting a session
deletes its conversation (foreign key, ``ON DELETE CASCADE``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, NotFound
from hiitpi.store.models import CHAT_KINDS, CHAT_ROLES, ChatMessage, Player, WorkoutSession

log = logging.getLogger(__name__)

#: The longest question or answer kept (characters).
TEXT_MAX = 4000
#: Messages returned for one conversation (the newest).
MESSAGES_MAX = 200


@dataclass(frozen=True, slots=True)
class Conversation:
    """A session's conversation (``kind`` "session", ``id`` its id) or a player's ("player")."""

    kind: str
    id: int

    def __post_init__(self) -> None:
        if self.kind not in ("session", "player"):
            raise InvalidInput("a conversation is about a session or a player")
        if isinstance(self.id, bool) or not isinstance(self.id, int) or self.id < 1:
            raise InvalidInput(f"{self.kind} id must be a whole number from 1")

    @classmethod
    def of_session(cls, session_id: int) -> Conversation:
        return cls("session", session_id)

    @classmethod
    def of_player(cls, player_id: int) -> Conversation:
        return cls("player", player_id)

    @classmethod
    def parse(cls, kind: str, ident: str) -> Conversation:
        """From a URL's two parts ("session", "12"); `InvalidInput` for anything else."""
        if not ident.isascii() or not ident.isdigit() or len(ident) > 12:
            raise InvalidInput(f"{kind} id must be a number, got {ident[:20]!r}")
        return cls(kind, int(ident))

    @property
    def path(self) -> str:
        return f"{self.kind}/{self.id}"

    def _where(self):
        col = ChatMessage.session_id if self.kind == "session" else ChatMessage.player_id
        return col == self.id


@dataclass(frozen=True, slots=True)
class ChatMessageRow:
    id: int
    role: str
    text: str
    kind: str | None
    reason: str | None
    facts: list[str]
    created_at: datetime

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "role": self.role,
            "text": self.text,
            "kind": self.kind,
            "reason": self.reason,
            "facts": list(self.facts),
            "created_at": self.created_at.isoformat(),
        }


def check_conversation(store: Store, conv: Conversation) -> None:
    """`NotFound` unless the session or player exists."""
    model = WorkoutSession if conv.kind == "session" else Player
    with store.reading() as s:
        if s.get(model, conv.id) is None:
            raise NotFound(f"no {conv.kind} with id {conv.id}")


def conversation_messages(
    store: Store, conv: Conversation, *, limit: int = MESSAGES_MAX
) -> list[ChatMessageRow]:
    """The newest ``limit`` messages of ``conv``, oldest first."""
    q = select(ChatMessage).where(conv._where()).order_by(ChatMessage.id.desc()).limit(limit)
    with store.reading() as s:
        rows = list(s.scalars(q))
        return [
            ChatMessageRow(
                m.id, m.role, m.text, m.kind, m.reason, json.loads(m.facts) if m.facts else [], m.created_at
            )
            for m in reversed(rows)
        ]


def add_message(
    store: Store,
    conv: Conversation,
    role: str,
    text: str,
    *,
    kind: str | None = None,
    reason: str | None = None,
    facts: Sequence[str] = (),
) -> int:
    """Append one message; returns its id. `InvalidInput` for an empty text or unknown role/kind."""
    if role not in CHAT_ROLES:
        raise InvalidInput(f"role must be one of {', '.join(CHAT_ROLES)}")
    if kind is not None and kind not in CHAT_KINDS:
        raise InvalidInput(f"kind must be one of {', '.join(CHAT_KINDS)}")
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput("the message is empty")
    msg = ChatMessage(
        role=role,
        text=text.strip()[:TEXT_MAX],
        kind=kind,
        reason=reason,
        facts=json.dumps(list(facts)) if facts else None,
        **({"session_id": conv.id} if conv.kind == "session" else {"player_id": conv.id}),
    )
    with store.writing() as s:
        s.add(msg)
        s.flush()
        return msg.id


def clear_conversation(store: Store, conv: Conversation) -> int:
    """Delete every message of ``conv``; returns how many there were."""
    with store.writing() as s:
        n = s.execute(delete(ChatMessage).where(conv._where())).rowcount
    log.info("chat %s cleared (%d messages)", conv.path, n)
    return n
