"""Where keys are in a TOML file, so errors can name the line.

`tomllib` parses but forgets positions. This scanner reads the same text line by line and maps
each key path (``("pose", "model")``, ``("states", 0, "name")`` for arrays of tables) to the
1-based line that defines it. It understands what config and rules files use: ``[table]``,
``[[array.of.tables]]``, ``key = value`` and dotted/quoted keys, and skips multi-line strings
and arrays well enough to keep counting lines.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

from hiitpi.errors import InputError

KeyPath = tuple[str | int, ...]

_BARE = r"[A-Za-z0-9_-]+"
_QUOTED = r'"(?:[^"\\]|\\.)*"|\'[^\']*\''
_KEY = rf"(?:{_BARE}|{_QUOTED})"
_DOTTED = rf"{_KEY}(?:\s*\.\s*{_KEY})*"
_TABLE_RE = re.compile(rf"^\s*\[\s*({_DOTTED})\s*\]\s*(#.*)?$")
_ARRAY_RE = re.compile(rf"^\s*\[\[\s*({_DOTTED})\s*\]\]\s*(#.*)?$")
_ASSIGN_RE = re.compile(rf"^\s*({_DOTTED})\s*=")


def _split_dotted(text: str) -> list[str]:
    parts = re.findall(_KEY, text)
    return [p[1:-1] if p[:1] in "\"'" else p for p in parts]


def key_lines(text: str) -> dict[KeyPath, int]:
    """Map every key path defined in ``text`` to its 1-based line number."""
    lines: dict[KeyPath, int] = {}
    array_counts: dict[tuple, int] = {}
    prefix: KeyPath = ()
    in_multiline: str | None = None
    depth = 0  # bracket depth of a multi-line value
    for lineno, raw in enumerate(text.splitlines(), start=1):
        line = raw
        if in_multiline:
            if in_multiline in line:
                in_multiline = None
            continue
        if depth > 0:
            depth += line.count("[") + line.count("{") - line.count("]") - line.count("}")
            continue
        if m := _ARRAY_RE.match(line):
            path = tuple(_split_dotted(m.group(1)))
            idx = array_counts.get(path, 0)
            array_counts[path] = idx + 1
            prefix = (*path, idx)
            lines.setdefault(path, lineno)
            lines[prefix] = lineno
            continue
        if m := _TABLE_RE.match(line):
            prefix = tuple(_split_dotted(m.group(1)))
            lines.setdefault(prefix, lineno)
            continue
        if m := _ASSIGN_RE.match(line):
            key = (*prefix, *_split_dotted(m.group(1)))
            lines[key] = lineno
            value = line[m.end() :]
            for quote in ('"""', "'''"):
                if value.count(quote) == 1:
                    in_multiline = quote
            stripped = re.sub(_QUOTED, "", value.split("#")[0] if '"' not in value else value)
            depth = max(
                0, stripped.count("[") + stripped.count("{") - stripped.count("]") - stripped.count("}")
            )
    return lines


def line_of(lines: dict[KeyPath, int], path: KeyPath) -> int | None:
    """The line of ``path``, or of its nearest defined parent."""
    path = tuple(path)
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


@dataclass(frozen=True)
class TomlDocument:
    """A parsed TOML file that still knows where its keys are."""

    path: Path
    data: dict
    lines: dict[KeyPath, int]

    def where(self, key: KeyPath) -> str:
        """``file:line`` for a key path (the file alone if the line is unknown)."""
        line = line_of(self.lines, key)
        return f"{self.path}:{line}" if line else str(self.path)


class TomlSyntaxError(InputError, ValueError):
    """A TOML file that does not parse; the message names file and line."""


def load_toml(path: str | Path) -> TomlDocument:
    """Read and parse a TOML file; syntax errors become `TomlSyntaxError` naming file:line."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise TomlSyntaxError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise TomlSyntaxError(f"{path}: not UTF-8 text ({exc.reason})") from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
        where = f"{path}:{m.group(1)}" if m else str(path)
        reason = re.sub(r" \(at .*\)", "", msg)
        raise TomlSyntaxError(f"{where}: TOML syntax error: {reason}") from exc
    return TomlDocument(path=path, data=data, lines=key_lines(text))
