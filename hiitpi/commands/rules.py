"""`hiitpi rules check|list|schema`: check and list the workouts and programs, print their schema."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hiitpi.config import Settings
from hiitpi.errors import ErrorList, InputError

#: How the tables of each kind of file are written, for the generated reference.
RULE_TABLES = {
    "features": "`[features]`",
    "states": "`[[states]]`",
    "rep": "`[rep]`",
    "hold": "`[hold]`",
    "checks": "`[[checks]]`",
}
PROGRAM_TABLES = {"blocks": "`[[blocks]]`"}


class RulesCheckFailed(ErrorList):
    """`rules check` found errors: one 'file:line: key: what' line each."""


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "rules", help="check and list the workouts and programs (rules/*.toml)", description=__doc__
    )
    rsub = p.add_subparsers(dest="rules_command", metavar="ACTION", required=True)
    check = rsub.add_parser(
        "check",
        help="check rules and program files; every error names file, line and key",
        description="Checks a workout or program file, or a rules folder with its programs/ (default "
        "[referee] rules_dir). Exit code 2 if any file has errors; warnings do not fail.",
    )
    check.add_argument(
        "path", nargs="?", help="a rules or program file, or a folder (default [referee] rules_dir)"
    )
    check.set_defaults(func=check_cmd)
    ls = rsub.add_parser("list", help="every workout and program that loads, with aliases and views")
    ls.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    ls.set_defaults(func=list_cmd, settings_overrides=lambda a: {("referee", "rules_dir"): a.rules_dir})
    schema = rsub.add_parser(
        "schema",
        help="the rules file format as JSON Schema (or the Markdown reference)",
        description="Prints the JSON Schema of a workout rules file (--program: of a program file). "
        "--markdown prints the reference part of rules/README.md, --write updates it there.",
    )
    schema.add_argument("--program", action="store_true", help="the schema of a program file")
    schema.add_argument("--markdown", action="store_true", help="the Markdown reference of both formats")
    schema.add_argument(
        "--write",
        metavar="README",
        nargs="?",
        const="",
        help="replace the reference in README (default <rules_dir>/README.md) with the generated one",
    )
    schema.set_defaults(func=schema_cmd)


def _is_program(path: Path) -> bool:
    from hiitpi.tomlpos import load_toml

    if path.parent.name == "programs":
        return True
    data = load_toml(path).data
    return "blocks" in data and "states" not in data


def _check_file(path: Path, settings: Settings) -> tuple[list[str], list[str]]:
    """(ok and warning lines, error lines) for one workout or program file."""
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.programs import ProgramError, load_program
    from hiitpi.referee.rulecheck import unused_features
    from hiitpi.referee.rules import RulesError, load_rule
    from hiitpi.tomlpos import TomlSyntaxError, load_toml

    try:
        if _is_program(path):
            rules_dir = (
                path.parent.parent if path.parent.name == "programs" else Path(settings.referee.rules_dir)
            )
            cat = load_catalog(rules_dir)
            prog = load_program(path, {**{n: n for n in cat.workouts}, **cat.aliases}, cat.broken)
            if prog.name in cat.workouts or prog.name in cat.aliases:
                return [], [f"{path}: name: '{prog.name}' is also a workout's name; rename the program"]
            return [f"ok  {prog.name:16s} {path}  (program: {prog.describe()})"], []
        rule = load_rule(path)
    except (RulesError, ProgramError, TomlSyntaxError) as exc:
        return [], exc.errors if isinstance(exc, ErrorList) else [str(exc)]
    return [f"ok  {rule.name:16s} {path}", *unused_features(rule, load_toml(path))], []


def _check_folder(path: Path) -> tuple[list[str], list[str], str]:
    """(ok and warning lines, error lines, summary) for a rules folder and its programs."""
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.rulecheck import unused_features
    from hiitpi.tomlpos import load_toml

    cat = load_catalog(path)
    out = []
    for rule in cat.workouts.values():
        out += [f"ok  {rule.name:16s} {rule.source}", *unused_features(rule, load_toml(rule.source))]
    out += [f"ok  {p.name:16s} {p.source}  (program)" for p in cat.programs.values()]
    bad_files = {line.split(":", 1)[0] for line in cat.errors}
    summary = (
        f"{len(cat.workouts)} workout(s) loaded, {len(cat.programs)} program(s) loaded, "
        f"{len(cat.errors)} error(s) in {len(bad_files)} file(s)"
    )
    errors = list(cat.errors)
    if not cat.workouts and not errors:
        errors.append(f"{path}: no workout rules (*.toml) here")
    return out, errors, summary


def check_cmd(args: argparse.Namespace, settings: Settings) -> int:
    path = Path(args.path) if args.path else Path(settings.referee.rules_dir)
    if path.is_file():
        out, errors = _check_file(path, settings)
        summary = f"{len(errors)} error(s) in {path}" if errors else ""
    elif path.is_dir():
        out, errors, summary = _check_folder(path)
    else:
        raise InputError(f"{path}: no such file or folder", "name a rules file, a program file or a folder")
    for line in out:
        print(line)
    if summary:
        print(summary)
    if errors:
        raise RulesCheckFailed(errors, hint="fix each line above, then run `hiitpi rules check` again")
    return 0


def list_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(settings.referee.rules_dir)
    for rule in sorted(cat.workouts.values(), key=lambda r: r.name):
        views = "/".join(rule.views) or "-"
        aliases = ", ".join(rule.aliases) or "-"
        print(f"{rule.name:16s} {rule.kind:5s} {views:12s} {rule.title}  (aliases: {aliases})")
    for prog in sorted(cat.programs.values(), key=lambda p: p.name):
        print(f"{prog.name:16s} {'prog':5s} {'-':12s} {prog.title}  ({prog.describe()})")
    if cat.errors:
        print(f"{len(cat.errors)} rules error(s): run `hiitpi rules check`")
    return 0


def reference() -> str:
    """The generated reference part of rules/README.md: the rules format, then the program format."""
    from hiitpi.referee.programs import Program
    from hiitpi.referee.rules import Rule
    from hiitpi.schemadoc import markdown_reference

    return (
        markdown_reference(Rule, tables=RULE_TABLES)
        + "\n"
        + markdown_reference(Program, tables=PROGRAM_TABLES)
    )


def schema_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.programs import Program
    from hiitpi.referee.rules import Rule
    from hiitpi.schemadoc import json_schema, replace_section

    if args.write is not None:
        readme = Path(args.write or Path(settings.referee.rules_dir) / "README.md")
        try:
            text = readme.read_text(encoding="utf-8")
        except OSError as exc:
            raise InputError(
                f"{readme}: cannot read: {exc.strerror or exc}", "name the README to update"
            ) from None
        new = replace_section(text, reference(), where=str(readme))
        if new != text:
            readme.write_text(new, encoding="utf-8")
        print(f"{readme}: reference {'updated' if new != text else 'already up to date'}")
        return 0
    if args.markdown:
        print(reference(), end="")
        return 0
    print(json.dumps(json_schema(Program if args.program else Rule), indent=2))
    return 0
