"""One way to check every file a person edits: a pydantic model per kind of file, and errors that
name the file, the line and the key.

Settings (`hiitpi.config`), workout rules, HIIT programs and the model manifest are each a
`FileModel` (``extra="forbid"``: a misspelled key is an error listing the keys allowed there).
`validate_document` checks a parsed `TomlDocument` against one and raises an `ErrorList` whose lines
read ``file:line: key: what is wrong``. Checks that need more than one field, or what exists
elsewhere (a state a rep refers to, a workout a program names), collect their findings in a
`Problems` list with the key path each is about, so they are reported the same way.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from hiitpi.errors import ErrorList
from hiitpi.tomlpos import KeyPath, TomlDocument

M = TypeVar("M", bound=BaseModel)


class FileModel(BaseModel):
    """Base of every model of a user-edited file (or a table in one): unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def dotted(key: KeyPath) -> str:
    """``("states", 0, "when")`` → ``states.0.when``; the empty path is the file itself."""
    return ".".join(str(k) for k in key) if key else "(file)"


def _model_at(model: type[BaseModel], path: KeyPath) -> type[BaseModel] | None:
    """The model class that describes the table at ``path`` inside ``model`` (None if not a table)."""
    current: Any = model
    for key in path:
        if isinstance(key, int):
            continue  # an index into an array of tables: same model
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        info = current.model_fields.get(str(key))
        if info is None:
            return None
        current = _table_type(info.annotation)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _table_type(annotation: Any) -> Any:
    """The BaseModel inside list[M], tuple[M, ...], dict[str, M], M | None; else the annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, tuple, dict, typing.Annotated):
        for arg in typing.get_args(annotation):
            found = _table_type(arg)
            if isinstance(found, type) and issubclass(found, BaseModel):
                return found
    return annotation


def allowed_keys(model: type[BaseModel], path: KeyPath) -> list[str]:
    """The keys allowed in the table at ``path`` (by their names in the file)."""
    sub = _model_at(model, path)
    if sub is None:
        return []
    return sorted(info.alias or name for name, info in sub.model_fields.items())


_KEYLIKE = re.compile(r"^[a-z0-9_-]+$")


def doc_path(data: Any, loc: tuple) -> KeyPath:
    """pydantic's error location reduced to keys of the file: it also names union members and
    validators (``function-after[...]``, class names), which a person never wrote."""
    out: list[str | int] = []
    node = data
    for part in loc:
        if isinstance(node, list) and isinstance(part, int):
            out.append(part)
            node = node[part] if 0 <= part < len(node) else None
        elif isinstance(node, dict) and isinstance(part, str) and (part in node or _KEYLIKE.match(part)):
            out.append(part)  # a key of the file, or one missing from it
            node = node.get(part)
        elif isinstance(part, int) and node is None:
            out.append(part)
    return tuple(out)


def describe(err: dict, model: type[BaseModel], path: KeyPath) -> str:
    """One pydantic error as 'key: what is wrong', in words."""
    kind = err.get("type", "")
    key = dotted(path)
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, path[:-1])
        return (
            f"{key}: unknown key '{path[-1] if path else ''}'; allowed here: {', '.join(allowed) or 'none'}"
        )
    if kind == "missing":
        return f"{key}: missing required key '{path[-1] if path else ''}'"
    msg = str(err.get("msg", "invalid value"))
    msg = msg.removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if kind in ("value_error", "assertion_error") or "input" not in err:
        return f"{key}: {msg}"
    return f"{key}: {msg} (got {err['input']!r})"


@dataclass
class Problems:
    """Findings of checks across fields: each with the key path it is about."""

    doc: TomlDocument
    lines: list[str] = field(default_factory=list)

    def add(self, key: KeyPath, message: str) -> None:
        self.lines.append(f"{self.doc.where(key)}: {dotted(key)}: {message}")

    def extend(self, lines: Iterable[str]) -> None:
        self.lines.extend(lines)

    def __bool__(self) -> bool:
        return bool(self.lines)

    def raise_if_any(self, error: type[ErrorList] = ErrorList) -> None:
        if self.lines:
            raise error(self.lines)


def validation_lines(exc: ValidationError, model: type[BaseModel], doc: TomlDocument) -> list[str]:
    """Every error of ``exc`` as 'file:line: key: what'."""
    out = []
    for err in exc.errors():
        path = doc_path(doc.data, tuple(err.get("loc", ())))
        out.append(f"{doc.where(path)}: {describe(err, model, path)}")
    return out


def validate_document(
    model: type[M],
    doc: TomlDocument,
    *,
    error: type[ErrorList] = ErrorList,
    context: dict | None = None,
) -> M:
    """``doc`` checked against ``model``; raises ``error`` listing every problem with file:line: key."""
    try:
        return model.model_validate(doc.data, context=context)
    except ValidationError as exc:
        raise error(validation_lines(exc, model, doc)) from None
