"""Sessions refereed from a recorded video (source, the file's name, the annotated video kept), and
the queue of videos sent from phones.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD COLUMNs: no copy of the sessions table (whose rows other tables cascade from)
    op.add_column("sessions", sa.Column("source", sa.String(16), nullable=False, server_default="live"))
    op.add_column("sessions", sa.Column("video_name", sa.String(200)))
    op.add_column("sessions", sa.Column("video_file", sa.String(200)))
    op.add_column("sessions", sa.Column("video_bytes", sa.Integer()))
    op.create_table(
        "uploads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("token", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("player", sa.String(40), nullable=False),
        sa.Column("workout", sa.String(64), nullable=False),
        sa.Column("file_name", sa.String(200), nullable=False),
        sa.Column("stored_file", sa.String(200)),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("duration_s", sa.Float()),
        sa.Column("keep_video", sa.Boolean(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("message", sa.Text()),
        sa.Column("notes", sa.Text()),
        sa.Column("session_id", sa.Integer(), sa.ForeignKey("sessions.id", ondelete="SET NULL")),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime()),
        sa.Column("finished_at", sa.DateTime()),
        sa.UniqueConstraint("token"),
        sa.CheckConstraint(
            "status IN ('queued', 'analysing', 'done', 'failed', 'cancelled')", name="ck_uploads_status"
        ),
    )
    op.create_index("ix_uploads_status", "uploads", ["status", "id"])


def downgrade() -> None:
    op.drop_table("uploads")
    for column in ("video_bytes", "video_file", "video_name", "source"):
        op.drop_column("sessions", column)  # SQLite >= 3.35 drops a column in place
