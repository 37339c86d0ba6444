"""Alembic environment: run on the connection the store hands over (no alembic.ini at run time)."""

from __future__ import annotations

from alembic import context

from hiitpi.store.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through hiitpi.store.migrate (it passes the connection)")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
