"""Alembic, driven from code: the migration scripts ship inside the package.

Alembic itself (and mako and pygments, which it imports) is loaded only when a migration has to
run. Every start of an up-to-date database is answered without it: the newest revision is read
from the scripts' ``revision`` / ``down_revision`` lines, the database's from its
``alembic_version`` table (both checked against Alembic's own answer in tests/test_store.py).
"""

from __future__ import annotations

import ast
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from alembic.config import Config

log = logging.getLogger(__name__)

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UnknownSchemaError(RuntimeError):
    """The database's schema is a revision these scripts do not have (a newer hiitpi's)."""


def _quiet_alembic() -> None:
    # Alembic logs every plugin and context at INFO (some at import); our own line says what changed.
    logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(connection: Connection | None = None) -> Config:
    _quiet_alembic()
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def _script_revisions() -> dict[str, tuple[str, ...]]:
    """Every shipped revision → the revisions it follows, from the scripts' top-level assignments."""
    out: dict[str, tuple[str, ...]] = {}
    for path in sorted((MIGRATIONS_DIR / "versions").glob("*.py")):
        values: dict[str, Any] = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            target, value = None, None
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                target, value = node.target, node.value
            if isinstance(target, ast.Name) and target.id in ("revision", "down_revision"):
                values[target.id] = ast.literal_eval(value)
        if "revision" not in values:
            continue
        down = values.get("down_revision")
        out[values["revision"]] = () if down is None else ((down,) if isinstance(down, str) else tuple(down))
    return out


def head_revision() -> str:
    """The newest revision of the shipped scripts."""
    revisions = _script_revisions()
    followed = {d for downs in revisions.values() for d in downs}
    heads = sorted(set(revisions) - followed)
    if len(heads) != 1:
        raise RuntimeError(f"the migration scripts have {len(heads)} heads; merge them")
    return heads[0]


def current_revision(engine: Engine) -> str | None:
    """The database's revision (None for an empty one)."""
    with engine.connect() as conn:
        has_table = conn.execute(
            text("select 1 from sqlite_master where type = 'table' and name = 'alembic_version'")
        ).first()
        if not has_table:
            return None
        rows = [r[0] for r in conn.execute(text("select version_num from alembic_version"))]
    if len(rows) > 1:
        raise UnknownSchemaError(f"the database is at several revisions at once: {', '.join(rows)}")
    return rows[0] if rows else None


def upgrade(engine: Engine, target: str = "head") -> tuple[str | None, str | None]:
    """Upgrade the database to ``target``; returns (revision before, revision after).

    Raises `UnknownSchemaError` for a database at a revision these scripts do not know."""
    before = current_revision(engine)
    if target == "head" and before == head_revision():
        return before, before  # the every-start case: no Alembic
    _quiet_alembic()
    from alembic import command
    from alembic.util import CommandError

    try:
        with engine.begin() as conn:
            command.upgrade(alembic_config(conn), target)
    except CommandError as exc:
        raise UnknownSchemaError(str(exc)) from exc
    after = current_revision(engine)
    if before != after:
        log.info("database schema upgraded from %s to %s", before or "empty", after)
    return before, after
