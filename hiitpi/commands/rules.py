"""`hiitpi rules check|list`: validate and list the workout rules files."""

from __future__ import annotations

import argparse
from pathlib import Path

from hiitpi.config import Settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("rules", help="check and list the workout rules (rules/*.toml)", description=__doc__)
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = rsub.add_parser(
        "check",
        help="validate rules files; every error names file, line and key",
        description="Validates a rules file or every *.toml in a folder (default [referee] rules_dir). "
        "Exit code 1 if any file has errors.",
    )
    check.add_argument("path", nargs="?", help="a rules file or folder (default [referee] rules_dir)")
    check.set_defaults(func=check_cmd)
    ls = rsub.add_parser("list", help="every workout that loads, with its aliases and views")
    ls.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    ls.set_defaults(func=list_cmd, settings_overrides=lambda a: {("referee", "rules_dir"): a.rules_dir})


def check_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.rules import RulesError, load_rule, load_rule_set

    path = Path(args.path) if args.path else Path(settings.referee.rules_dir)
    if path.is_file():
        try:
            rule = load_rule(path)
        except RulesError as exc:
            for line in exc.errors:
                print(line)
            print(f"{len(exc.errors)} error(s) in {path}")
            return 1
        print(f"ok  {rule.name:16s} {path}")
        return 0
    rs = load_rule_set(path)
    for rule in rs.rules.values():
        print(f"ok  {rule.name:16s} {rule.source}")
    for line in rs.errors:
        print(line)
    bad_files = {line.split(":", 1)[0] for line in rs.errors}
    print(f"{len(rs.rules)} workout(s) loaded, {len(rs.errors)} error(s) in {len(bad_files)} file(s)")
    return 1 if rs.errors or not rs.rules else 0


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.rules import load_rule_set

    rs = load_rule_set(settings.referee.rules_dir)
    for rule in sorted(rs.rules.values(), key=lambda r: r.name):
        kind = "hold" if rule.kind == "hold" else "reps"
        views = "/".join(rule.views) or "-"
        aliases = ", ".join(rule.aliases) or "-"
        print(f"{rule.name:16s} {kind:5s} {views:12s} {rule.title}  (aliases: {aliases})")
    if rs.errors:
        print(f"{len(rs.errors)} rules error(s): run `hiitpi rules check`")
    return 0
