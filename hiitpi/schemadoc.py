"""A file model's JSON Schema, and the same as Markdown reference tables for a README.

The reference is generated from the JSON Schema (titles, descriptions, types, ranges, defaults
of `hiitpi.schema.FileModel` fields), so the documentation says exactly what is checked.
`replace_section` puts it between ``<!-- reference:begin -->`` and ``<!-- reference:end -->`` in
a hand-written README.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel

from hiitpi.errors import InputError

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
BEGIN = "<!-- reference:begin -->"
END = "<!-- reference:end -->"


def json_schema(model: type[BaseModel]) -> dict[str, Any]:
    """``model``'s JSON Schema (draft 2020-12) for the data of one file; descriptions on one line
    (the tables' come from docstrings)."""
    return _one_line({"$schema": JSON_SCHEMA_DIALECT, **model.model_json_schema()})


def _one_line(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: " ".join(v.split()) if k == "description" and isinstance(v, str) else _one_line(v)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_one_line(v) for v in node]
    return node


def _ref_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


def _type(prop: dict, defs: dict) -> str:
    """A property's type in words: 'number, 0..180', 'list of strings', '[[states]] tables'."""
    if "$ref" in prop:
        return f"table ({defs[_ref_name(prop['$ref'])].get('title', '')})"
    if "anyOf" in prop:
        kinds = [p for p in prop["anyOf"] if p.get("type") != "null"]
        return " or ".join(dict.fromkeys(_type(p, defs) for p in kinds))
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items", {})
        if "$ref" in items:
            return f"list of tables ({defs[_ref_name(items['$ref'])].get('title', '')})"
        return f"list of {_type(items, defs)}s"
    if kind == "object":
        inner = prop.get("additionalProperties", {})
        if isinstance(inner, dict) and "$ref" in inner:
            return f"tables by name ({defs[_ref_name(inner['$ref'])].get('title', '')})"
        return "table"
    words = {"number": "number", "integer": "whole number", "string": "string", "boolean": "true/false"}
    text = words.get(kind, kind or "any")
    lo, hi = prop.get("minimum"), prop.get("maximum")
    if lo is not None or hi is not None:
        text += f", {_num(lo) if lo is not None else ''}..{_num(hi) if hi is not None else ''}"
    if "pattern" in prop:
        text += ", lower_snake_case"
    return text


def _num(v: float) -> str:
    return f"{v:g}"


def _default(prop: dict, required: bool) -> str:
    if required:
        return "required"
    if "default" not in prop or prop["default"] is None or prop["default"] == []:
        return "–"
    return (
        f"`{json.dumps(prop['default'])}`"
        if not isinstance(prop["default"], str)
        else f'`"{prop["default"]}"`'
    )


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _where(schema: dict, defs: dict, heading: dict[str, str]) -> dict[str, list[str]]:
    """For each table model (a $defs name), the keys of the file that hold it."""
    used: dict[str, list[str]] = {}

    def walk(node: dict, path: str) -> None:
        for key, prop in node.get("properties", {}).items():
            for ref in _refs(prop):
                place = heading.get(key) or (f"{path} {key}" if path else f"`{key}`")
                if place not in used.setdefault(ref, []):
                    used[ref].append(place)
                    walk(defs[ref], heading.get(key) or place)

    walk(schema, "")
    return used


def _refs(prop: dict) -> list[str]:
    out = []
    for p in [prop, *prop.get("anyOf", []), prop.get("items", {}), prop.get("additionalProperties", {})]:
        if isinstance(p, dict):
            if "$ref" in p:
                out.append(_ref_name(p["$ref"]))
            for q in p.get("anyOf", []):
                out += _refs(q)
            if p is not prop and "items" in p:
                out += _refs(p["items"])
    return list(dict.fromkeys(out))


def _table(node: dict, defs: dict) -> list[str]:
    required = set(node.get("required", []))
    rows = ["| key | type | default | what it is |", "|---|---|---|---|"]
    for key, prop in node.get("properties", {}).items():
        desc = prop.get("description", "")
        rows.append(
            f"| `{key}` | {_cell(_type(prop, defs))} | {_default(prop, key in required)} | {_cell(desc)} |"
        )
    return rows


def markdown_reference(
    model: type[BaseModel], *, level: int = 3, tables: dict[str, str] | None = None
) -> str:
    """The reference of ``model`` as Markdown: the top-level keys, then one section per table.

    ``tables`` names how a key's tables are written in the file (``{"states": "`[[states]]`"}``);
    other tables are named by their key path.
    """
    schema = json_schema(model)
    defs = schema.get("$defs", {})
    hashes = "#" * level
    out = [f"{hashes} {schema.get('title', model.__name__)}", "", _cell(schema.get("description", "")), ""]
    out += _table(schema, defs)
    for ref, places in _where(schema, defs, tables or {}).items():
        node = defs[ref]
        out += ["", f"{hashes}# {node.get('title', ref)}: {', '.join(places)}", ""]
        if node.get("description"):
            out += [_cell(node["description"]), ""]
        out += _table(node, defs)
    return "\n".join(out) + "\n"


def replace_section(text: str, reference: str, *, where: str = "README") -> str:
    """``text`` with the part between the reference markers replaced by ``reference``."""
    if text.count(BEGIN) != 1 or text.count(END) != 1 or text.index(BEGIN) > text.index(END):
        raise InputError(
            f"{where}: needs one '{BEGIN}' line and, after it, one '{END}' line",
            "add them where the generated reference goes",
        )
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{BEGIN}\n{reference}{END}{tail}"


def current_section(text: str) -> str:
    """What is between the reference markers of ``text`` now ('' without markers)."""
    if BEGIN not in text or END not in text:
        return ""
    return text.split(BEGIN, 1)[1].split(END, 1)[0].removeprefix("\n")
