"""Chat messages: conversations with the coach, per session or per player.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "chat_messages",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE")),
        sa.Column("player_id", sa.Integer(), sa.ForeignKey("players.id", ondelete="CASCADE")),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(16)),
        sa.Column("reason", sa.Text()),
        sa.Column("facts", sa.Text()),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint(
            "(session_id IS NULL) <> (player_id IS NULL)", name="ck_chat_messages_one_conversation"
        ),
        sa.CheckConstraint("role IN ('user', 'coach')", name="ck_chat_messages_role"),
        sa.CheckConstraint(
            "kind IS NULL OR kind IN ('model', 'plain', 'refusal', 'medical', 'busy')",
            name="ck_chat_messages_kind",
        ),
    )
    op.create_index("ix_chat_messages_session", "chat_messages", ["session_id", "id"])
    op.create_index("ix_chat_messages_player", "chat_messages", ["player_id", "id"])


def downgrade() -> None:
    op.drop_table("chat_messages")
