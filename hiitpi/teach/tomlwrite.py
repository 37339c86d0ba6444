"""A taught rules document written as an ordinary, commented rules file, and read back through the
rules schema (`hiitpi.referee.rules.parse_rule`) so what is saved is exactly what was checked."""

from __future__ import annotations

import json
import textwrap
import tomllib
from pathlib import Path

from hiitpi.referee.rules import Rule, parse_rule
from hiitpi.tomlpos import TomlDocument, key_lines


def value(v) -> str:
    """One TOML value: strings, numbers, booleans, lists and inline tables."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return f"{v:g}" if abs(v) >= 1e-4 or v == 0 else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list | tuple):
        return "[" + ", ".join(value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")


def _comment(text: str, width: int = 100) -> list[str]:
    out = []
    for line in text.splitlines():
        out += [f"# {w}" for w in textwrap.wrap(line, width - 2)] or ["#"]
    return out


def render(doc: dict, header: str, comments: dict[str, str] | None = None) -> str:
    """The rules file's text: ``header`` as the opening comment, then the keys in the house order
    (top-level keys, [features] with a comment each, [[states]], [rep] or [hold], [[checks]])."""
    comments = comments or {}
    out = _comment(header)
    for key in (
        "name",
        "title",
        "kind",
        "aliases",
        "description",
        "views",
        "min_score",
        "min_dwell_s",
        "up_cue",
    ):
        if key in doc:
            out.append(f"{key} = {value(doc[key])}")
    out += ["", "[features]"]
    for key, spec in doc["features"].items():
        if key in comments:
            out += _comment(comments[key])
        out.append(f"{key} = {value(spec)}")
    if comments.get("states"):
        out += ["", *_comment(comments["states"])]
    for state in doc["states"]:
        out += ["", "[[states]]"]
        out += [f"{k} = {value(v)}" for k, v in state.items()]
    for table in ("rep", "hold"):
        if table in doc:
            out += ["", f"[{table}]"]
            if comments.get(table):
                out += _comment(comments[table])
            out += [f"{k} = {value(v)}" for k, v in doc[table].items()]
    for check in doc.get("checks", ()):
        out += ["", "[[checks]]"]
        out += [f"{k} = {value(v)}" for k, v in check.items()]
    return "\n".join(out) + "\n"


def parse_text(text: str, path: str | Path) -> Rule:
    """A rules file's text through the rules schema (`RulesError` lists every problem)."""
    doc = TomlDocument(path=Path(path), data=tomllib.loads(text), lines=key_lines(text))
    return parse_rule(doc)
