"""`hiitpi config check|show`: validate a settings file, print the effective settings."""

from __future__ import annotations

import argparse
import sys

from hiitpi.config import Settings, load_settings, settings_to_toml


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="validate or print settings", description=__doc__)
    csub = p.add_subparsers(dest="config_command", metavar="ACTION", required=True)
    check = csub.add_parser(
        "check",
        help="validate a settings file, and that the names in it (pose model, workout, source, "
        "rules folder) exist; exit 2 naming file, line and key on error",
    )
    check.add_argument("file", nargs="?", help="TOML file to check (default: the one in use)")
    check.set_defaults(func=check_cmd)
    show = csub.add_parser("show", help="print the effective settings as TOML")
    show.set_defaults(func=show_cmd)


def check_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.references import check_references

    path = args.file or args.config
    checked = load_settings(path) if path else settings  # a ConfigError names file, line and key
    check_references(checked)
    print(f"{path}: OK" if path else "no settings file given or found; the effective settings are valid")
    return 0


def show_cmd(args: argparse.Namespace, settings: Settings) -> int:
    sys.stdout.write(settings_to_toml(settings))
    return 0
