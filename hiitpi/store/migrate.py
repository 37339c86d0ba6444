"""Alembic, driven from code: the migration scripts ship inside the package."""

from __future__ import annotations

import logging

# Alembic logs every plugin and context at INFO (some at import); our own line says what changed.
logging.getLogger("alembic").setLevel(logging.WARNING)

from pathlib import Path  # noqa: E402

from alembic import command  # noqa: E402
from alembic.config import Config  # noqa: E402
from alembic.runtime.migration import MigrationContext  # noqa: E402
from alembic.script import ScriptDirectory  # noqa: E402
from sqlalchemy.engine import Connection, Engine  # noqa: E402

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


def alembic_config(connection: Connection | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head_revision() -> str:
    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads; merge them")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``target``; returns (revision before, revision after)."""
    before = current_revision(engine)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), target)
    after = current_revision(engine)
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    return before, after
