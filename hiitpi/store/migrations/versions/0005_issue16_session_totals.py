"""Sessions a person can name and compare: a session's own name, its counting convention, its
attempts and full reps (beside the count), each interval's attempts and work time (a program's
interval is its work then its rest), each rep's full flag.

Older sessions were all judged ("judge" counting: the count is the full reps), so their attempts
are their rows (reps and no-reps) and their full reps their count.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-09
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sessions", sa.Column("name", sa.String(60)))
    op.add_column("sessions", sa.Column("counting", sa.String(16)))
    op.add_column("sessions", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("sessions", sa.Column("full_reps", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("intervals", sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("intervals", sa.Column("work_s", sa.Float()))
    op.add_column("reps", sa.Column("full", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE reps SET full = valid")
    op.execute(
        "UPDATE intervals SET attempts = (SELECT count(*) FROM reps WHERE reps.interval_id = intervals.id)"
    )
    op.execute(
        "UPDATE sessions SET attempts = (SELECT count(*) FROM reps WHERE reps.session_id = sessions.id), "
        "full_reps = reps"
    )


def downgrade() -> None:
    with op.batch_alter_table("reps") as b:
        b.drop_column("full")
    with op.batch_alter_table("intervals") as b:
        b.drop_column("work_s")
        b.drop_column("attempts")
    with op.batch_alter_table("sessions") as b:
        for col in ("full_reps", "attempts", "counting", "name"):
            b.drop_column(col)
