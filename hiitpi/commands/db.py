"""`hiitpi db upgrade|status|export|recover`: the history database."""

from __future__ import annotations

import argparse
import logging
import sys

from hiitpi.config import Settings
from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)


#: How many of the newest sessions `hiitpi db status` lists.
LATEST = 5


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "db", help="the history database: upgrade, status, export, recover", description=__doc__
    )
    p.add_argument("--database", metavar="FILE", help="SQLite file (default: [store] database)")
    dsub = p.add_subparsers(dest="db_command", metavar="ACTION", required=True)
    up = dsub.add_parser("upgrade", help="create the database or bring its schema to the newest version")
    up.set_defaults(func=upgrade_cmd, settings_overrides=_overrides)
    st = dsub.add_parser("status", help="schema version, counts, open sessions, integrity")
    st.set_defaults(func=status_cmd, settings_overrides=_overrides)
    ex = dsub.add_parser("export", help="write one session or the whole history as CSV or JSON")
    ex.add_argument("--session", type=int, metavar="ID", help="one session (default: all history)")
    ex.add_argument("--format", choices=["csv", "json"], default="csv", help="default csv")
    ex.add_argument(
        "--table",
        choices=["sessions", "reps"],
        default="sessions",
        help="CSV: one row per session (default) or one per attempt; they join on session_id",
    )
    ex.add_argument("--out", metavar="FILE", help="output file (default: stdout)")
    ex.set_defaults(func=export_cmd, settings_overrides=_overrides)
    rc = dsub.add_parser(
        "recover",
        help="close sessions a crash left open, keeping their reps (run it while the appliance is stopped; "
        "the appliance also does it at start)",
    )
    rc.set_defaults(func=recover_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {("store", "database"): args.database}


def _open(settings: Settings, *, upgrade: bool = True):
    """The history store (a `StoreError` says what is wrong with the file)."""
    from hiitpi.store import Store

    s = settings.store
    return Store.open(
        settings.database_path, upgrade=upgrade, busy_timeout_ms=s.busy_timeout_ms, synchronous=s.synchronous
    )


def _existing(settings: Settings) -> None:
    if not settings.database_path.exists():
        raise HiitpiError(
            f"no database at {settings.database_path}", "`hiitpi db upgrade` or `hiitpi serve` creates it"
        )


def upgrade_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.store.migrate import upgrade

    store = _open(settings, upgrade=False)
    try:
        before, after = upgrade(store.write_engine)
    except Exception as exc:  # SQLite trouble: say which and what to do
        from hiitpi.store.errors import StoreError, describe_db_error

        raise StoreError(describe_db_error(exc, store.path)) from exc
    finally:
        store.close()
    if before == after:
        print(f"{store.path}: schema already at {after}")
    else:
        print(f"{store.path}: schema upgraded from {before or 'empty'} to {after}")
    return 0


def status_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import func, select

    from hiitpi.store.migrate import current_revision, head_revision
    from hiitpi.store.models import Interval, Player, Rep, WorkoutSession

    path = settings.database_path
    if not path.exists():
        print(f"{path}: no database yet (`hiitpi db upgrade` or `hiitpi serve` creates it)")
        return 1
    store = _open(settings, upgrade=False)
    try:
        current, head = current_revision(store.read_engine), head_revision()
        print(f"database: {path} ({path.stat().st_size / 1e6:.2f} MB)")
        wal = path.with_name(path.name + "-wal")
        if wal.exists():
            print(f"wal:      {wal.stat().st_size / 1e6:.2f} MB")
        print(
            f"schema:   {current or 'empty'} (newest {head}){'' if current == head else '  → run `hiitpi db upgrade`'}"
        )
        if current is None:
            return 1
        with store.reading() as s:
            for name, model in (
                ("players", Player),
                ("sessions", WorkoutSession),
                ("intervals", Interval),
                ("reps", Rep),
            ):
                print(f"{name + ':':10s}{s.scalar(select(func.count()).select_from(model))}")
            by_status = s.execute(
                select(WorkoutSession.status, func.count()).group_by(WorkoutSession.status)
            ).all()
        print("by status: " + (", ".join(f"{st} {n}" for st, n in sorted(by_status)) or "none"))
        _print_latest(store, _titles(settings))
        check = store.integrity_check()
        print(f"integrity: {check}")
        return 0 if check == "ok" and current == head else 1
    finally:
        store.close()


def _titles(settings: Settings):
    """The catalogue's titles, else the rules names made readable (a broken rules folder is not
    the database's problem)."""
    from hiitpi.referee.catalog import load_catalog, pretty_name

    try:
        return load_catalog(settings.referee.rules_dir).title
    except Exception as exc:  # status reports the database whatever the rules say
        log.debug("no catalogue for titles: %s", exc)
        return pretty_name


def _print_latest(store, title, n: int = LATEST) -> None:
    """The newest sessions with the id the pages, `hiitpi summary` and `db export --session` take."""
    from hiitpi.store.queries import list_sessions

    page = list_sessions(store, per_page=n)
    if not page.items:
        return
    print(f"latest:   (id · started · player · workout or program · reps; {page.total} in all)")
    for r in page.items:
        started = r.started_at.astimezone().strftime("%Y-%m-%d %H:%M")
        name = f" “{r.name}”" if r.name else ""
        print(
            f"  {r.id:>6}  {started}  {r.player} · {title(r.what)}{name} · {r.reps} rep{'' if r.reps == 1 else 's'} · {r.status}"
        )


def export_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.store import NotFound
    from hiitpi.store.export import export
    from hiitpi.store.migrate import current_revision, head_revision

    _existing(settings)
    store = _open(settings, upgrade=False)  # export only reads: it works on a read-only disk too
    try:
        if current_revision(store.read_engine) != head_revision():
            raise HiitpiError("the database schema is not the newest", "run `hiitpi db upgrade` first")
        titles = _titles(settings)  # the pages' titles: "Tabata squats", not tabata_squat
        if args.out:
            tmp = f"{args.out}.part"
            with open(tmp, "w", encoding="utf-8", newline="") as fh:
                n = export(
                    store, fh, fmt=args.format, table=args.table, session_id=args.session, titles=titles
                )
            import os

            os.replace(tmp, args.out)
            print(f"{n} session(s) written to {args.out}", file=sys.stderr)
        else:
            export(
                store, sys.stdout, fmt=args.format, table=args.table, session_id=args.session, titles=titles
            )
        return 0
    except BrokenPipeError:  # `hiitpi db export | head`: the reader has all it wants
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except NotFound as exc:
        raise NotFound(exc.message, "see `hiitpi db status`") from None
    except OSError as exc:
        raise HiitpiError(f"export failed: {exc.strerror or exc}", "check the --out folder") from None
    finally:
        store.close()


def recover_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.store import recover_open_sessions

    store = _open(settings)
    try:
        ids = recover_open_sessions(store)
    finally:
        store.close()
    print(f"recovered {len(ids)} session(s)" + (": " + ", ".join(map(str, ids)) if ids else ""))
    return 0
