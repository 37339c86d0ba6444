"""Dash callback requests checked at the edge, before Dash reads them.

Dash's dispatcher trusts its body: a body without ``output``, an array or ``null`` body, inputs
that are not objects, 5,000-deep nesting, a page number of 10**30 or a list where a string
belongs each ended in a 500 (inside Dash, or in a callback). `install_callback_guard` puts one
``before_request`` hook in front of ``/_dash-update-component`` that refuses, with a 400 and a
short JSON ``{"error": ...}``, any body that is not exactly what the callback it names takes:

- a JSON object, at most `MAX_DEPTH` deep, whose ``output`` is a callback of this app;
- ``inputs`` and ``state``: the callback's own inputs and states, in its order (same ids and
  properties), each value of the type and range its rule says (`ARG_RULES` by property,
  `ID_RULES` for one component); ``outputs``: its outputs; ``changedPropIds``: its inputs.

Every argument of every callback has a rule: `missing_rules(app)` lists those that have none (a
test keeps it empty), and a request for such an argument is refused rather than passed through
unchecked. Pattern-matching ids are not used by this app; a callback that declares one would get
the structural checks and its values the `bounded_json` rule.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Callable
from typing import Any

from hiitpi.web.params import MAX_ID, MAX_PAGE

log = logging.getLogger(__name__)

MAX_DEPTH = 32
MAX_TEXT = 2000
MAX_ITEMS = 200
MAX_COUNT = 10**9

#: A rule: the value → None when it is fine, else what is wrong with it.
Rule = Callable[[Any], str | None]


def optional_text(limit: int = MAX_TEXT) -> Rule:
    def rule(v: Any) -> str | None:
        if v is None:
            return None
        if not isinstance(v, str):
            return "must be text"
        return None if len(v) <= limit else f"is longer than {limit} characters"

    return rule


def optional_int(lo: int, hi: int) -> Rule:
    def rule(v: Any) -> str | None:
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, int):
            return "must be a whole number"
        return None if lo <= v <= hi else f"must be between {lo} and {hi}"

    return rule


def optional_number(v: Any) -> str | None:
    """None or a finite number not over `MAX_COUNT` either way (a number input; its callback
    explains a value out of its own range)."""
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        return "must be a number"
    return None if abs(v) <= MAX_COUNT else f"must be at most {MAX_COUNT} either way"


def optional_bool(v: Any) -> str | None:
    return None if v is None or isinstance(v, bool) else "must be true or false"


def bounded_json(v: Any, depth: int = 0) -> str | None:
    """Any JSON value that is not huge: at most 8 levels, `MAX_ITEMS` per list or object, finite numbers."""
    if depth > 8:
        return "is nested too deeply"
    if v is None or isinstance(v, bool | int | str):
        return None if not isinstance(v, str) or len(v) <= MAX_TEXT else "is too long"
    if isinstance(v, float):
        return None if math.isfinite(v) else "must be a finite number"
    if isinstance(v, list | dict):
        if len(v) > MAX_ITEMS:
            return "has too many items"
        items = v.values() if isinstance(v, dict) else v
        return next((why for x in items if (why := bounded_json(x, depth + 1))), None)
    return "is not JSON"


def flat_record(v: Any) -> str | None:
    """None, or an object of at most 20 text keys whose values are text, numbers, booleans or null."""
    if v is None:
        return None
    if not isinstance(v, dict) or len(v) > 20:
        return "must be a small object"
    for k, x in v.items():
        if len(k) > 100 or not (x is None or isinstance(x, bool | int | str) or _finite(x)):
            return "must map names to plain values"
        if isinstance(x, str) and len(x) > MAX_TEXT:
            return "has a value that is too long"
    return None


def _finite(x: Any) -> bool:
    return isinstance(x, float) and math.isfinite(x)


#: Rules by property name, for every component that has no rule of its own in `ID_RULES`.
ARG_RULES: dict[str, Rule] = {
    "n_clicks": optional_int(0, MAX_COUNT),
    "n_intervals": optional_int(0, MAX_COUNT),
    "n_submit": optional_int(0, MAX_COUNT),
    "n_blur": optional_int(0, MAX_COUNT),
    "submit_n_clicks": optional_int(0, MAX_COUNT),  # dcc.ConfirmDialog
    "cancel_n_clicks": optional_int(0, MAX_COUNT),
    # text inputs, single dropdowns, date inputs: long text is the callback's to explain ("a name
    # is 10000 characters long; use at most 40"), the body cap bounds it
    "value": optional_text(20_000),
    "pathname": optional_text(),
    "search": optional_text(),
    "hash": optional_text(),
    "href": optional_text(),
    "disabled": optional_bool,
    "modified_timestamp": optional_int(-1, 2**53),
    "timestamp": optional_int(-1, 2**53),
}
#: Rules for one component's property: (id, property) → rule.
ID_RULES: dict[tuple[str, str], Rule] = {
    ("hist-page", "data"): optional_int(1, MAX_PAGE),
    ("summary-sid", "data"): optional_int(1, MAX_ID),
    ("sess-id", "data"): optional_int(1, MAX_ID),
    ("me", "data"): flat_record,
}


class Refused(ValueError):
    """The body is not what the callback takes (the message says why, for the 400)."""


def rule_for(cid: Any, prop: str) -> Rule | None:
    """The rule for one argument; a pattern-matching id (``{"type": ..., "x": ALL}``) by its
    ``type`` in `ID_RULES`, else by the property."""
    pattern = _pattern(cid)
    if pattern is not None:
        kind = pattern.get("type")
        return (ID_RULES.get((kind, prop)) if isinstance(kind, str) else None) or ARG_RULES.get(prop)
    if not isinstance(cid, str):
        return None
    return ID_RULES.get((cid, prop)) or ARG_RULES.get(prop)


def _pattern(cid: Any) -> dict | None:
    """A pattern-matching id as a dict (Dash names it in its callback map as JSON text), else None."""
    if isinstance(cid, dict):
        return cid
    if isinstance(cid, str) and cid.startswith("{"):
        try:
            parsed = json.loads(cid)
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def _pattern_values(got: Any, cid: dict, prop: str, what: str) -> list:
    """The values of a pattern-matching argument: MATCH sends one object, ALL a list of them (one
    per component on the page, none at all possible); each names a component of the pattern."""
    items = got if isinstance(got, list) else [got]
    if len(items) > MAX_ITEMS:
        raise Refused(f"{what}: too many components for {cid.get('type')}.{prop}")
    values = []
    for item in items:
        if not isinstance(item, dict) or item.get("property") != prop:
            raise Refused(f"{what} do not match the callback's ({cid.get('type')}.{prop} expected)")
        iid = item.get("id")
        if not isinstance(iid, dict) or iid.get("type") != cid.get("type"):
            raise Refused(f"{what}: a component that is not a {cid.get('type')}")
        if bounded_json(iid):
            raise Refused(f"{what}: {cid.get('type')} id {bounded_json(iid)}")
        values.append(item.get("value"))
    return values


def missing_rules(app: Any) -> list[str]:
    """Every ``id.property`` a callback of ``app`` takes that has no rule (should be none)."""
    missing = []
    for spec in app.callback_map.values():
        for dep in [*spec.get("inputs", []), *spec.get("state", [])]:
            if rule_for(dep["id"], dep["property"]) is None:
                missing.append(f"{dep['id']}.{dep['property']}")
    return sorted(set(missing))


def _depth_ok(raw: bytes) -> bool:
    """Whether the JSON text nests brackets at most `MAX_DEPTH` deep (strings skipped), without
    parsing it (a parser would recurse 5,000 times first)."""
    depth, in_str, escaped = 0, False, False
    for b in raw:
        if in_str:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:
                in_str = False
        elif b == 0x22:
            in_str = True
        elif b in (0x5B, 0x7B):
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif b in (0x5D, 0x7D):
            depth -= 1
    return True


def parse_body(raw: bytes) -> dict:
    if not _depth_ok(raw):
        raise Refused(f"the request nests deeper than {MAX_DEPTH} levels")
    try:
        body = json.loads(raw)
    except (ValueError, RecursionError):
        raise Refused("the request is not JSON") from None
    if not isinstance(body, dict):
        raise Refused("the request must be a JSON object")
    return body


def _deps(value: Any, declared: list[dict], what: str) -> None:
    if value is None and not declared:
        return
    if not isinstance(value, list) or len(value) != len(declared):
        raise Refused(f"{what} must be a list of {len(declared)}")
    for got, want in zip(value, declared, strict=True):
        cid, prop = want["id"], want["property"]
        rule = rule_for(cid, prop)
        if rule is None:
            raise Refused(f"{cid}.{prop} has no input rule")
        pattern = _pattern(cid)
        if pattern is not None:  # pattern-matching: each matched component's value
            for v in _pattern_values(got, pattern, prop, what):
                if why := rule(v):
                    raise Refused(f"{pattern.get('type')}.{prop} {why}")
            continue
        if not isinstance(got, dict):
            raise Refused(f"each of {what} must be an object")
        if got.get("id") != cid or got.get("property") != prop:
            raise Refused(f"{what} do not match the callback's ({cid}.{prop} expected)")
        why = rule(got.get("value"))
        if why:
            raise Refused(f"{cid}.{prop} {why}")


def _outputs(value: Any, output: str) -> None:
    specs = value if isinstance(value, list) else [value]
    if not output.startswith("..") and isinstance(value, list):
        raise Refused("outputs must be one object for this callback")
    if output.startswith(".."):
        # several outputs: the renderer sends one object for each (Dash fails on any other number)
        want = len(output.strip(".").split("..."))
        if not isinstance(value, list) or len(value) != want:
            raise Refused(f"outputs must be a list of this callback's {want} outputs")
    for spec in specs:
        if not isinstance(spec, dict) or not isinstance(spec.get("property"), str):
            raise Refused("outputs must be objects with an id and a property")
        cid = spec.get("id")
        if not isinstance(cid, str | dict) or f"{cid}.{spec['property'].split('@')[0]}" not in output:
            raise Refused("outputs do not match the callback")


def check_body(callback_map: dict, body: dict) -> None:
    """Raise `Refused` unless ``body`` is a request for one of ``callback_map``'s callbacks, with
    its own inputs and states, each value passing its rule."""
    output = body.get("output")
    if not isinstance(output, str) or output not in callback_map:
        raise Refused("the request names no callback of this app")
    spec = callback_map[output]
    if "outputs" not in body:  # Dash's page always sends them; Dash fails without them
        raise Refused("the request has no outputs")
    _outputs(body["outputs"], output)
    _deps(body.get("inputs"), spec.get("inputs", []), "inputs")
    _deps(body.get("state"), spec.get("state", []), "state")
    changed = body.get("changedPropIds", [])
    names = {f"{d['id']}.{d['property']}" for d in spec.get("inputs", []) if isinstance(d["id"], str)}
    if not isinstance(changed, list) or len(changed) > len(spec.get("inputs", [])):
        raise Refused("changedPropIds must be a list of the callback's inputs")
    for c in changed:
        if not isinstance(c, str) or (c not in names and not c.startswith("{")):
            raise Refused("changedPropIds must name the callback's inputs")
    parsed = body.get("parsedChangedPropsIds", [])
    if not isinstance(parsed, list) or bounded_json(parsed):
        raise Refused("parsedChangedPropsIds must be a short list")


def install_callback_guard(app: Any) -> None:
    """The check in front of ``app``'s callback route (reads ``app.callback_map`` at each request,
    so callbacks registered later are covered too)."""
    from flask import jsonify, request

    path = app.config.requests_pathname_prefix + "_dash-update-component"

    @app.server.before_request
    def _guard_callback():
        if request.path != path or request.method != "POST":
            return None
        try:
            check_body(app.callback_map, parse_body(request.get_data(cache=True)))
        except Refused as exc:
            log.info("callback request refused: %s", exc)
            resp = jsonify(error=str(exc))
            resp.status_code = 400
            return resp
        return None
