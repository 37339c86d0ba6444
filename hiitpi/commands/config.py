"""`hiitpi config check|show`: validate a settings file, print the effective settings."""

from __future__ import annotations

import argparse
import sys

from hiitpi.config import ConfigError, Settings, load_settings, settings_to_toml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate or print settings", description=__doc__)
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check",
        help="validate a settings file (exit 1 naming file, line and key on error)",
    )
    check.add_argument("file", nargs="?", help="TOML file to check (default: the one in use)")
    check.set_defaults(func=check_cmd)
    show = csub.add_parser("show", help="print the effective settings as TOML")
    show.set_defaults(func=show_cmd)


def check_cmd(args: argparse.Namespace, settings: Settings) -> int:
    path = args.file or args.config
    if path is None:
        print("no settings file given or found; the defaults are valid")
        return 0
    try:
        load_settings(path)
    except ConfigError as exc:
        for line in exc.errors:
            print(line, file=sys.stderr)
        return 1
    print(f"{path}: OK")
    return 0


def show_cmd(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(settings_to_toml(settings))
    return 0
