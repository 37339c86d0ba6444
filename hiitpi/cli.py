"""The one `hiitpi` command. Each subcommand lives in its own module under hiitpi/commands/.

A command module exposes ``register(subparsers)`` which adds its parser and sets
``func=handler``; a handler takes (args, settings) and returns an exit code. Heavy imports
(TFLite, Dash, llama.cpp) happen inside handlers so ``hiitpi --help`` stays instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from hiitpi import __version__, threadpools
from hiitpi.config import load_settings
from hiitpi.errors import EXIT_FAILURE, HiitpiError, InputError
from hiitpi.logs import setup_logging

log = logging.getLogger(__name__)

#: Command modules, in the order `hiitpi --help` lists them.
COMMAND_MODULES = (
    "hiitpi.commands.serve",
    "hiitpi.commands.pose",
    "hiitpi.commands.models",
    "hiitpi.commands.bench",
    "hiitpi.commands.config",
    "hiitpi.commands.db",
    "hiitpi.commands.summary",
    "hiitpi.commands.ask",
    "hiitpi.commands.pair",
    "hiitpi.commands.analyze",
    "hiitpi.commands.eval",
    "hiitpi.commands.rules",
    "hiitpi.commands.teach",
)


#: A user mistake a handler reports as one line and exit code 2 (the same as `InputError`).
UsageError = InputError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hiitpi",
        description="HIIT PI: a home workout referee. Watches a camera or video, counts reps, "
        "calls no-reps, and serves a live dashboard on the LAN.",
    )
    parser.add_argument("--version", action="version", version=f"hiitpi {__version__}")
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help="TOML settings file (default: $HIITPI_CONFIG, else /etc/hiitpi/hiitpi.toml if present)",
    )
    parser.add_argument(
        "--debug",
        action="store_true",
        help="show the Python traceback of an error (for bug reports)",
    )
    parser.add_argument(
        "--log-level",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="override [general] log_level",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    # FFmpeg inside OpenCV prints its own complaints ("moov atom not found") over our one-line errors
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")
    threadpools.set_environment()  # before numpy, OpenCV or BLAS load: their pools are sized at load
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    overrides = dict(getattr(args, "settings_overrides", lambda a: {})(args))
    overrides[("general", "log_level")] = args.log_level
    try:
        try:
            settings = load_settings(args.config, overrides=overrides)
        except HiitpiError:
            setup_logging("INFO")
            raise
        setup_logging(settings.general.log_level)
        threadpools.configure(settings.pose.threads)
        return int(args.func(args, settings) or 0)
    except KeyboardInterrupt:
        return 130
    except HiitpiError as exc:
        if args.debug:
            raise
        report_error(exc)
        return exc.exit_code
    except BrokenPipeError:  # `hiitpi ... | head`: the reader has all it wants
        return 0
    except Exception as exc:
        if args.debug:
            raise
        print(
            f"hiitpi: unexpected error: {type(exc).__name__}: {exc}\n"
            "hint: run it again with --debug for the traceback, and report it",
            file=sys.stderr,
        )
        return EXIT_FAILURE


def report_error(exc: HiitpiError) -> None:
    """Print an error the way every command does: 'hiitpi: what' lines, then 'hint: what to do'."""
    from hiitpi.config import ConfigError

    prefix = "hiitpi: config error: " if isinstance(exc, ConfigError) else "hiitpi: "
    for line in exc.lines():
        print(line if line.startswith("hint: ") else prefix + line, file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
