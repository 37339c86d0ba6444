"""Opening the SQLite history: pragmas (WAL, foreign keys, busy timeout), migrations, sessions.

Two engines share the file: writes begin with ``BEGIN IMMEDIATE`` (the write lock is taken up
front, so two writers queue on the busy timeout instead of failing a lock upgrade); reads begin
a plain deferred transaction and, under WAL, never wait for the writer.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from hiitpi.store.errors import StoreError, describe_db_error

log = logging.getLogger(__name__)


def make_engine(path: Path, *, write: bool, busy_timeout_ms: int = 5000, synchronous: str = "FULL") -> Engine:
    """An engine on ``path`` whose connections have the store's pragmas set."""
    engine = create_engine(
        f"sqlite+pysqlite:///{path}",
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        pool_size=4 if not write else 1,
        max_overflow=8 if not write else 2,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        cur = dbapi_conn.cursor()
        try:
            if write:
                mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
                if str(mode).lower() != "wal":
                    log.warning("database %s: journal mode is %s, not WAL", path, mode)
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
            cur.execute(f"PRAGMA synchronous={synchronous}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _read_only_fs(folder: Path) -> bool:
    try:
        return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _make_private(path: Path) -> None:
    """The history is someone's: the database file (and its WAL and shared-memory files, which
    SQLite creates with the database's mode) readable by its owner only, 0600, whatever the
    umask of whoever made it. A file owned by another user is left as it is."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
    except OSError:
        return  # read-only or not ours: opening says what is wrong
    for f in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            st = f.stat()
            if st.st_mode & 0o077 and st.st_uid == os.geteuid():
                os.chmod(f, 0o600)
                log.info("database file %s made private (mode 0600)", f)
        except OSError:
            continue


class Store:
    """The history database: open it with `Store.open(path)`, which upgrades it to the newest schema."""

    def __init__(self, path: Path, *, busy_timeout_ms: int = 5000, synchronous: str = "FULL"):
        self.path = Path(path)
        self.write_engine = make_engine(
            self.path, write=True, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous
        )
        self.read_engine = make_engine(
            self.path, write=False, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous
        )
        self._write_sessions = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(self.read_engine, expire_on_commit=False)
        self._health_lock = threading.Lock()
        self.healthy = True
        self.last_error: str | None = None

    @classmethod
    def open(
        cls,
        path: str | Path,
        *,
        upgrade: bool = True,
        busy_timeout_ms: int = 5000,
        synchronous: str = "FULL",
    ) -> Store:
        """Open (creating if needed) the database at ``path`` and bring its schema to head.

        Raises `StoreError` with the next step when the file cannot be created or migrated.
        """
        path = Path(path).expanduser()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(
                f"database {path}: cannot create its folder ({exc}) — check permissions"
            ) from exc
        _make_private(path)
        store = cls(path, busy_timeout_ms=busy_timeout_ms, synchronous=synchronous)
        if upgrade:
            from hiitpi.store.migrate import UnknownSchemaError
            from hiitpi.store.migrate import upgrade as run_upgrade

            try:
                run_upgrade(store.write_engine)
            except UnknownSchemaError as exc:  # e.g. a revision from a newer hiitpi
                store.close()
                raise StoreError(
                    f"database {path}: its schema is not one this version of hiitpi knows ({exc}) — "
                    "update hiitpi, or move the file aside to start a new history"
                ) from exc
            except (OperationalError, DBAPIError) as exc:
                store.close()
                msg = describe_db_error(exc, path)
                if _read_only_fs(path.parent):
                    msg += (
                        f" (the filesystem holding {path.parent} is mounted read-only: remount it read-write)"
                    )
                raise StoreError(msg) from exc
        return store

    @classmethod
    def from_settings(cls, settings) -> Store:
        s = settings.store
        return cls.open(settings.database_path, busy_timeout_ms=s.busy_timeout_ms, synchronous=s.synchronous)

    # --- sessions -------------------------------------------------------------------------

    @contextmanager
    def writing(self) -> Iterator[Session]:
        """A write transaction (BEGIN IMMEDIATE); commits on exit, rolls back on error.

        SQLite failures are raised as `StoreError` and noted in `healthy`/`last_error`.
        """
        session = self._write_sessions()
        try:
            yield session
            session.commit()
        except IntegrityError:
            session.rollback()  # a constraint said no: the caller's problem, not the disk's
            raise
        except (OperationalError, DBAPIError) as exc:
            session.rollback()
            msg = describe_db_error(exc, self.path)
            self.note_failure(msg)
            raise StoreError(msg) from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        self.note_success()

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read transaction: one consistent snapshot of the file."""
        session = self._read_sessions()
        try:
            yield session
        except (OperationalError, DBAPIError) as exc:
            raise StoreError(describe_db_error(exc, self.path)) from exc
        finally:
            session.rollback()
            session.close()

    # --- health -----------------------------------------------------------------------------

    def note_failure(self, message: str) -> None:
        with self._health_lock:
            if self.healthy or message != self.last_error:
                log.error("%s", message)
            self.healthy = False
            self.last_error = message

    def note_success(self) -> None:
        with self._health_lock:
            if not self.healthy:
                log.info("database %s: writes work again", self.path)
            self.healthy = True

    def integrity_check(self) -> str:
        """'ok' or SQLite's list of problems."""
        with self.read_engine.connect() as conn:
            rows = conn.execute(text("PRAGMA integrity_check")).scalars().all()
        return "\n".join(str(r) for r in rows)

    def checkpoint(self) -> None:
        """Fold the write-ahead log back into the main file (done at clean shutdown, by `close`)."""
        with contextlib.closing(sqlite3.connect(self.path, timeout=1.0, isolation_level=None)) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def close(self) -> None:
        self.write_engine.dispose()
        self.read_engine.dispose()
        try:
            self.checkpoint()
        except sqlite3.Error as exc:  # busy (another process reads), full or read-only: folded next time
            log.debug("database %s: write-ahead log not folded at shutdown (%s)", self.path, exc)
