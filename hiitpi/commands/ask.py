"""`hiitpi ask SESSION_ID "question"` (or `hiitpi ask --player NAME "question"`): ask the coach.

The answer streams to stdout as the model writes it (attempts and discarded drafts on stderr); a
draft with a number the facts do not hold is written again once, then replaced by the plain
answer built from the facts. The last line on stderr says which kind the answer is. The question
and answer are kept in the session's (or the player's) conversation, as on the page.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from hiitpi.commands.coachcli import add_coach_arguments, terminal_stream
from hiitpi.config import Settings
from hiitpi.errors import HiitpiError, InputError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "ask",
        help="ask the coach about a session or a player's history (streams the answer)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "words",
        nargs="+",
        metavar="SESSION_ID QUESTION",
        help="the session id (see the history page) and the question; with --player only the question",
    )
    p.add_argument("--player", metavar="NAME", help="ask about this player's history instead of a session")
    add_coach_arguments(p, timeout_setting="chat_timeout_s")
    p.add_argument("--no-save", action="store_true", help="do not keep the question and answer")
    p.add_argument(
        "--json", action="store_true", help="print the final answer, its kind and the facts used as JSON"
    )
    p.set_defaults(func=ask_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {("store", "database"): args.database, ("coach", "chat_timeout_s"): args.timeout}


def _target(args: argparse.Namespace) -> tuple[str | int, str]:
    """(player name or session id, question) from the words given."""
    if args.player is not None:
        return args.player, " ".join(args.words)
    if len(args.words) < 2:
        raise InputError(
            "give a session id and a question",
            'e.g. hiitpi ask 12 "Did I slow down?"  or  hiitpi ask --player Ana "What is my best squat?"',
        )
    sid, *question = args.words
    if not sid.isascii() or not sid.isdigit():
        raise InputError(
            f"session id must be a number, got {sid[:20]!r}", "see the history page or `hiitpi db status`"
        )
    return int(sid), " ".join(question)


def ask_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.coach.busy import busy_probe
    from hiitpi.coach.chat import ChatCoach, clean_question
    from hiitpi.coach.job import CoachWorker
    from hiitpi.coach.model import SharedModel
    from hiitpi.coach.service import ChatService
    from hiitpi.coach.summary import Coach
    from hiitpi.live.contract import LiveKeys
    from hiitpi.live.reader import LiveReader
    from hiitpi.store import NotFound, Store
    from hiitpi.store.chat import Conversation
    from hiitpi.store.players import find_player

    who, question = _target(args)
    question = clean_question(question)
    if not settings.database_path.is_file():
        raise HiitpiError(
            f"no history database at {settings.database_path}",
            "record a session first or pass --database FILE",
        )
    store = Store.from_settings(settings)
    from hiitpi.redis_local import redis_url_for

    reader = LiveReader(redis_url_for(settings), LiveKeys(settings.redis.prefix))
    model = SharedModel.from_settings(settings, args.model, keep=False)
    worker = CoachWorker(
        Coach.from_settings(settings, model=model),
        chat=ChatCoach.from_settings(settings, model),
        busy=busy_probe(settings.coach.chat_during_session, reader.session_running),
    )
    try:
        if isinstance(who, str):
            player = find_player(store, who)
            if player is None:
                raise NotFound(
                    f"no player named {who!r}",
                    "`hiitpi db status` lists the history; names are as on the page",
                )
            conv = Conversation.of_player(player.id)
        else:
            conv = Conversation.of_session(who)
        on_event = None if args.json else terminal_stream(model.name)
        service = ChatService(store, worker, known_workouts=lambda: _known_workouts(settings))
        _job_id, job = service.ask(conv, question, save=not args.no_save, on_event=on_event)
        try:
            answer = job.wait()
        except KeyboardInterrupt:
            job.cancel()
            raise
        if answer is None:
            raise HiitpiError(f"the coach failed: {job.snapshot().reason}", "run it again with --debug")
        if args.json:
            print(json.dumps(answer.to_dict(), indent=2, default=str))
        else:
            print(
                f"[{answer.kind}"
                + (f": {answer.reason}" if answer.reason else "")
                + f"; {answer.elapsed_s:.1f} s]",
                file=sys.stderr,
            )
        return 0
    finally:
        worker.stop()
        reader.close()
        store.close()


def _known_workouts(settings: Settings) -> list[str]:
    """Workout and program names from the rules folder (to recognise one in a question)."""
    from hiitpi.referee.catalog import load_catalog

    return load_catalog(settings.referee.rules_dir).names()
