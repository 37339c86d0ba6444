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

import math
import re
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, TypeVar

from annotated_types import Interval, Len, MinLen
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from hiitpi.errors import ErrorList
from hiitpi.tomlpos import KeyPath, TomlDocument

M = TypeVar("M", bound=BaseModel)


class FileModel(BaseModel):
    """Base of every model of a user-edited file (or a table in one): unknown keys are errors.

    A field typed ``Internal[...]`` is filled in by the loader (the file's path, a table's key),
    not written in the file: it is left out of the JSON Schema, and a file that sets it is told
    the key is unknown there.
    """

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_internal_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for name in internal_fields(cls):
                if name in data:
                    allowed = ", ".join(allowed_keys(cls, ())) or "none"
                    raise ValueError(f"unknown key '{name}'; allowed here: {allowed}")
        return data

    def _fill(self, **values: Any) -> None:
        """Set fields after validation (internal ones, defaults that depend on other tables)."""
        for name, value in values.items():
            object.__setattr__(self, name, value)


T = TypeVar("T")
#: A field the loader fills in: not a key of the file, not in the JSON Schema.
Internal = Annotated[SkipJsonSchema[T], Field(exclude=True)]


def internal_fields(model: type[BaseModel]) -> list[str]:
    """Names of ``model``'s `Internal` fields."""
    return [
        name
        for name, info in model.model_fields.items()
        if any(isinstance(m, SkipJsonSchema) for m in info.metadata)
    ]


# --------------------------------------------------------------------------------------------
# value types: each checks its value and says in words what is wrong, with what the file had


def _number(lo: float, hi: float, unit: str) -> Any:
    what = f"a number of {unit}" if unit else "a number"
    span = f"{lo:g}..{hi:g}" + (f" {unit}" if unit else "")

    def check(v: Any) -> float:
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            raise ValueError(f"must be {what}, got {v!r}")
        if not lo <= v <= hi:
            raise ValueError(f"{v!r} is outside {span}")
        return float(v)

    return check


def Number(lo: float = -math.inf, hi: float = math.inf, *, unit: str = "") -> Any:
    """A float field (TOML integer or float, never a boolean or a string) within ``lo..hi``."""
    bounds = Interval(ge=lo if math.isfinite(lo) else None, le=hi if math.isfinite(hi) else None)
    return Annotated[float, bounds, BeforeValidator(_number(lo, hi, unit))]


def WholeNumber(lo: int = 0, hi: int | None = None) -> Any:
    """An int field within ``lo..hi`` (``hi`` None: no upper limit)."""
    what = f"a whole number from {lo} to {hi}" if hi is not None else f"a whole number >= {lo}"

    def check(v: Any) -> int:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            raise ValueError(f"must be {what}, got {v!r}")
        return v

    return Annotated[int, Interval(ge=lo, le=hi), BeforeValidator(check)]


def OneOf(*choices: str) -> Any:
    """A string field that is one of ``choices``."""

    def check(v: Any) -> str:
        if v not in choices:
            raise ValueError(f"{v!r} is not one of: {', '.join(choices)}")
        return v

    return Annotated[Literal[choices], BeforeValidator(check)]  # type: ignore[valid-type]


def _text(v: Any) -> str:
    if not isinstance(v, str):
        raise ValueError(f"must be text, got {v!r}")
    return v


def _flag(v: Any) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"must be true or false, got {v!r}")
    return v


NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def _name(v: Any) -> str:
    if not isinstance(v, str) or not NAME_RE.match(v):
        raise ValueError(f"{v!r} must be lower_snake_case: a-z, 0-9 and _, starting with a letter")
    return v


def _ref(v: Any) -> str:
    if not isinstance(v, str) or not v.strip():
        raise ValueError(f"must be a name, got {v!r}")
    return v


def _texts(v: Any) -> Any:
    if isinstance(v, str):
        return (v,)
    if not isinstance(v, list | tuple) or not all(isinstance(x, str) for x in v):
        raise ValueError(f"must be a list of strings, got {v!r}")
    return tuple(v)


#: Text (a TOML string).
Text = Annotated[str, BeforeValidator(_text)]
#: true or false (not 0/1, not "yes").
Flag = Annotated[bool, BeforeValidator(_flag)]
#: A lower_snake_case name (``push_up``) of the thing the file defines.
Name = Annotated[str, StringConstraints(pattern=NAME_RE.pattern), BeforeValidator(_name)]
#: A name that refers to something defined elsewhere (a state, a feature, a workout).
Ref = Annotated[str, MinLen(1), BeforeValidator(_ref)]
#: A list of strings; one string alone is a list of one.
Texts = Annotated[tuple[str, ...], BeforeValidator(_texts, json_schema_input_type=str | list[str])]


def _one_or_many(v: Any) -> Any:
    return [v] if isinstance(v, dict) else v


def OneOrMany(model: type[BaseModel]) -> Any:
    """A list of ``model`` tables, where one inline table alone stands for a list of one
    (``partial = { feature = ... }``)."""
    return Annotated[
        tuple[model, ...], BeforeValidator(_one_or_many, json_schema_input_type=model | list[model])
    ]


def array_of_tables(key: str) -> BeforeValidator:
    """A before-validator for an array of tables: anything but a list of tables says how to write it."""

    def check(v: Any) -> Any:
        if not isinstance(v, list | tuple) or not all(isinstance(x, dict) for x in v):
            raise ValueError(f"must be an array of tables: [[{key}]]")
        return v

    return BeforeValidator(check)


def Tables(model: type[BaseModel], key: str, *, min_items: int = 0, max_items: int | None = None) -> Any:
    """An array of ``model`` tables, ``[[key]]`` in the file."""
    return Annotated[tuple[model, ...], Len(min_items, max_items), array_of_tables(key)]


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
    hidden = set(internal_fields(sub))
    return sorted(info.alias or name for name, info in sub.model_fields.items() if name not in hidden)


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
        self.lines.append(self.line(key, message))

    def line(self, key: KeyPath, message: str) -> str:
        """'file:line: key: message' for ``key`` in this document."""
        return f"{self.doc.where(key)}: {dotted(key)}: {message}"

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
