"""What `hiitpi summary` and `hiitpi ask` share: the model/database/time-limit options, and the
text streamed to the terminal as the coach writes it (attempts and discarded drafts on stderr)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from hiitpi.coach.checked import CoachEvent


def add_coach_arguments(p: argparse.ArgumentParser, *, timeout_setting: str) -> None:
    p.add_argument(
        "--model", metavar="PATH", help="GGUF model file (default: [coach] model_path, else tinyllama)"
    )
    p.add_argument("--database", metavar="FILE", help="SQLite file (default: [store] database)")
    p.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help=f"time limit in seconds (default [coach] {timeout_setting})",
    )


def terminal_stream(model_name: str | None) -> Callable[[CoachEvent], None]:
    """An event callback that writes the text to stdout and the attempts to stderr."""

    def on_event(ev: CoachEvent) -> None:
        if ev.kind == "start" and ev.source == "model":
            print(f"[model {model_name or ''}, try {ev.attempt}]", file=sys.stderr)
        elif ev.kind == "start":
            print(f"[{ev.source}]", file=sys.stderr)
        elif ev.kind == "token":
            sys.stdout.write(ev.text)
            sys.stdout.flush()
        elif ev.kind == "discard":
            print(f"\n[discarded: {ev.text}]", file=sys.stderr)
        elif ev.kind == "done":
            sys.stdout.write("\n")

    return on_event
