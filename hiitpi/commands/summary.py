"""`hiitpi summary SESSION_ID [--model PATH]`: write (again) the coach's summary of one session.

The text streams to stdout as the model writes it; a draft the fact check rejects is announced
on stderr and written again; the final summary is stored with its kind (model/template) and, for
the template, the reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from hiitpi.commands.coachcli import add_coach_arguments, terminal_stream
from hiitpi.config import Settings
from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "summary",
        help="write the coach's summary of one session (streams; stores it)",
        description=__doc__,
    )
    p.add_argument("session_id", type=int, metavar="SESSION_ID", help="session id (see the history page)")
    add_coach_arguments(p, timeout_setting="timeout_s")
    p.add_argument(
        "--max-tokens", type=int, metavar="N", help="summary length cap (default [coach] max_tokens)"
    )
    p.add_argument("--no-save", action="store_true", help="print only; do not store the summary")
    p.add_argument("--json", action="store_true", help="print the result (kind, reason, attempts) as JSON")
    p.set_defaults(func=summary_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("store", "database"): args.database,
        ("coach", "timeout_s"): args.timeout,
        ("coach", "max_tokens"): args.max_tokens,
    }


def summary_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.coach.summary import Coach
    from hiitpi.store import Store
    from hiitpi.store.coaching import session_facts, set_summary

    if not settings.database_path.is_file():
        raise HiitpiError(
            f"no history database at {settings.database_path}",
            "record a session first, or pass --database FILE",
        )
    store = Store.from_settings(settings)
    try:
        from hiitpi.referee.catalog import load_catalog

        catalog = load_catalog(settings.referee.rules_dir)
        facts = session_facts(store, args.session_id, catalog.title)  # NotFound says which id
        coach = Coach.from_settings(settings, args.model)
        on_event = None if args.json else terminal_stream(coach.model.name)
        summary = coach.summarize(facts, on_event=on_event)
        if args.json:
            print(json.dumps(summary.to_dict(), indent=2, default=str))
        else:
            print(
                f"[{summary.kind}"
                + (f": {summary.reason}" if summary.reason else "")
                + f"; {summary.elapsed_s:.1f} s]",
                file=sys.stderr,
            )
        if not args.no_save:
            set_summary(store, facts.session_id, summary.text, summary.kind, summary.reason)
        return 0
    finally:
        store.close()
