"""Initial schema: players, sessions, intervals, reps.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "players",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(40), nullable=False),
        sa.Column("name_key", sa.String(40), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("name_key"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "player_id", sa.Integer(), sa.ForeignKey("players.id", ondelete="RESTRICT"), nullable=False
        ),
        sa.Column("workout", sa.String(64), nullable=False),
        sa.Column("program", sa.String(64)),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime()),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("t0", sa.Float(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("reps", sa.Integer(), nullable=False),
        sa.Column("no_reps", sa.Integer(), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.Column("hold_s", sa.Float()),
        sa.Column("summary", sa.Text()),
        sa.Column("summary_kind", sa.String(16)),
        sa.Column("summary_reason", sa.Text()),
        sa.CheckConstraint("status IN ('open', 'done', 'recovered', 'aborted')", name="ck_sessions_status"),
        sa.CheckConstraint(
            "summary_kind IS NULL OR summary_kind IN ('model', 'template')", name="ck_sessions_summary_kind"
        ),
    )
    op.create_index("ix_sessions_started_at", "sessions", ["started_at"])
    op.create_index("ix_sessions_player_started", "sessions", ["player_id", "started_at"])
    op.create_index("ix_sessions_workout_started", "sessions", ["workout", "started_at"])
    op.create_index("ix_sessions_status", "sessions", ["status"])
    op.create_table(
        "intervals",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("workout", sa.String(64), nullable=False),
        sa.Column("round", sa.Integer()),
        sa.Column("started_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime()),
        sa.Column("duration_s", sa.Float(), nullable=False),
        sa.Column("reps", sa.Integer(), nullable=False),
        sa.Column("no_reps", sa.Integer(), nullable=False),
        sa.Column("faults", sa.Integer(), nullable=False),
        sa.Column("hold_s", sa.Float()),
    )
    op.create_index("ux_intervals_session_index", "intervals", ["session_id", "index"], unique=True)
    op.create_index("ix_intervals_workout_session", "intervals", ["workout", "session_id"])
    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column(
            "interval_id", sa.Integer(), sa.ForeignKey("intervals.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("index", sa.Integer(), nullable=False),
        sa.Column("t_start", sa.Float(), nullable=False),
        sa.Column("t_end", sa.Float(), nullable=False),
        sa.Column("eccentric_s", sa.Float()),
        sa.Column("concentric_s", sa.Float()),
        sa.Column("rom", sa.Float()),
        sa.Column("side", sa.String(16)),
        sa.Column("valid", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(200)),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ux_reps_session_index", "reps", ["session_id", "index"], unique=True)
    op.create_index("ix_reps_interval", "reps", ["interval_id"])


def downgrade() -> None:
    op.drop_table("reps")
    op.drop_table("intervals")
    op.drop_table("sessions")
    op.drop_table("players")
