"""Checks of a rules file across its tables: what the schema of one table cannot see.

- references: the states that ``[rep]``, ``[hold]`` and ``during`` name, and the features that
  conditions, ``rom`` and checks read, are defined;
- kinds: a ``reps`` rule has ``[rep]``, a ``hold`` rule ``[hold]``, and a hold's checks are faults;
- thresholds inside the range of the feature they test (an angle is 0..180, a tilt 0..90, a
  feature relative to its peak at most 1, to its range 0..1);
- hysteresis: the start state and each state of the rep cannot hold at once on a shared feature.

Each table is checked alone against its model first, and only tables that pass take part here:
a broken one is reported once, by the schema, not again by everything that uses it.
`unused_features` lists features nothing reads (a warning, not an error).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from hiitpi.referee.features import FeatureSpec
from hiitpi.referee.rules import CheckSpec, Condition, HoldSpec, RepSpec, Rule, StateSpec, interval
from hiitpi.schema import NAME_RE, Problems
from hiitpi.tomlpos import KeyPath, TomlDocument

M = TypeVar("M", bound=BaseModel)


def _valid(model: type[M], raw: Any) -> M | None:
    """``raw`` as ``model`` if it passes on its own (its errors are the schema's to report)."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _table(raw: Any) -> dict:
    return raw if isinstance(raw, dict) else {}


def _tables(raw: Any) -> list[dict]:
    return [t if isinstance(t, dict) else {} for t in raw] if isinstance(raw, list) else []


@dataclass
class _Tables:
    """The tables of one document that are valid on their own, with their key paths."""

    kind: str | None
    features: dict[str, FeatureSpec | None]  # None: defined but broken
    states: list[tuple[KeyPath, StateSpec]]
    state_names: list[str]  # every name written, broken states too
    rep: RepSpec | None
    hold: HoldSpec | None
    checks: list[tuple[KeyPath, CheckSpec]]
    conditions: list[tuple[KeyPath, Condition]] = field(default_factory=list)

    @classmethod
    def of(cls, data: dict) -> _Tables:
        kind = data.get("kind", "reps")
        features = {k: _valid(FeatureSpec, v) for k, v in _table(data.get("features")).items()}
        raw_states = _tables(data.get("states"))
        states = [(("states", i), s) for i, raw in enumerate(raw_states) if (s := _valid(StateSpec, raw))]
        rep = _valid(RepSpec, data["rep"]) if "rep" in data else None
        checks = [
            (("checks", i), c)
            for i, raw in enumerate(_tables(data.get("checks")))
            if (c := _valid(CheckSpec, raw))
        ]
        t = cls(
            kind=kind if kind in ("reps", "hold") else None,
            features=features,
            states=states,
            state_names=[s["name"] for s in raw_states if isinstance(s.get("name"), str)],
            rep=rep,
            hold=_valid(HoldSpec, data["hold"]) if "hold" in data else None,
            checks=checks,
        )
        for key, s in states:
            for group in ("when", "any"):
                t.conditions += [((*key, group, j), c) for j, c in enumerate(getattr(s, group))]
        if rep is not None:
            t.conditions += [(("rep", "partial", j), c) for j, c in enumerate(rep.partial)]
        return t


def check_tables(doc: TomlDocument, problems: Problems) -> None:
    """Add every cross-table problem of ``doc`` to ``problems``."""
    data = doc.data if isinstance(doc.data, dict) else {}
    t = _Tables.of(data)
    _check_feature_names(t, problems)
    _check_kind(data, t, problems)
    _check_state_names(t, problems)
    _check_state_references(t, problems)
    _check_feature_references(t, problems)
    _check_thresholds(t, problems)
    _check_hysteresis(t, problems)


def _check_feature_names(t: _Tables, problems: Problems) -> None:
    for name in t.features:
        if not NAME_RE.match(name):
            problems.add(("features", name), f"feature name '{name}' must be lower_snake_case")


def _check_kind(data: dict, t: _Tables, problems: Problems) -> None:
    if t.kind == "reps":
        if "hold" in data:
            problems.add(("hold",), 'only a kind = "hold" rule has a [hold] table')
        if "rep" not in data:
            problems.add((), 'a kind = "reps" rule needs a [rep] table (start, sequence)')
        sided = any(f is not None and f.sided for f in t.features.values())
        if t.rep is not None and t.rep.each_side and not sided:
            problems.add(("rep", "each_side"), "needs a feature on side-less points (knee, hip...)")
    elif t.kind == "hold":
        if "rep" in data:
            problems.add(("rep",), 'a kind = "hold" rule has [hold], not [rep]')
        if "hold" not in data:
            problems.add((), 'a kind = "hold" rule needs a [hold] table (state)')
        for key, c in t.checks:
            if c.action == "no_rep":
                problems.add((*key, "action"), 'a hold has no reps: use action = "fault"')
            if c.reach_above is not None or c.reach_below is not None:
                problems.add(key, "reach_above/reach_below apply to reps; a hold uses min/max")


def _check_state_names(t: _Tables, problems: Problems) -> None:
    seen: set[str] = set()
    for i, name in enumerate(t.state_names):
        if name in seen:
            problems.add(("states", i, "name"), f"state '{name}' is defined twice")
        seen.add(name)


def _check_state_references(t: _Tables, problems: Problems) -> None:
    defined = set(t.state_names)
    known = ", ".join(sorted(defined)) or "none"

    def need(name: str, key: KeyPath) -> None:
        if name not in defined:
            problems.add(key, f"missing state '{name}'; defined: {known}")

    if t.rep is not None:
        need(t.rep.start, ("rep", "start"))
        for s in t.rep.sequence:
            need(s, ("rep", "sequence"))
    if t.hold is not None:
        need(t.hold.state, ("hold", "state"))
    for key, c in t.checks:
        for s in c.during:
            need(s, (*key, "during"))


def _check_feature_references(t: _Tables, problems: Problems) -> None:
    known = ", ".join(sorted(t.features)) or "none"
    refs = [((*key, "feature"), c.feature) for key, c in (*t.conditions, *t.checks)]
    if t.rep is not None and t.rep.rom is not None:
        refs.append((("rep", "rom", "feature"), t.rep.rom.feature))
    for key, name in refs:
        if name not in t.features:
            problems.add(key, f"unknown feature '{name}'; defined: {known}")
    # a mean is taken of calibrated features: their values are shares of the person's travel, so
    # they agree in units whatever they measure
    for name, spec in t.features.items():
        fb = spec.fallback if spec is not None else None
        if fb is not None:
            other = t.features.get(fb, False)
            if other is False or fb == name:
                problems.add(
                    ("features", name, "fallback"),
                    f"unknown feature '{fb}'; defined: {known}"
                    if fb != name
                    else "a feature cannot stand in for itself",
                )
            elif other is not None and (other.calibrate is None) != (spec.calibrate is None):
                problems.add(
                    ("features", name, "fallback"),
                    f"'{fb}' and '{name}' must both be calibrated or neither: the one stands in for the other",
                )
        for part in spec.of if spec is not None else ():
            other = t.features.get(part, False)
            if other is False:
                problems.add(("features", name, "of"), f"unknown feature '{part}'; defined: {known}")
            elif other is not None and other.calibrate is None:
                problems.add(
                    ("features", name, "of"),
                    f"'{part}' is not calibrated: a mean needs features in the same units (add calibrate)",
                )


def _check_thresholds(t: _Tables, problems: Problems) -> None:
    """Every threshold inside the range its feature can take; a condition that can hold at all."""
    for key, c in t.conditions:
        spec = t.features.get(c.feature)
        if spec is None:
            continue
        lo, hi = spec.value_range
        for name, v in (("above", c.above), ("below", c.below)):
            if v is None:
                continue
            if not lo <= v <= hi:
                problems.add((*key, name), _outside(spec, v))
            elif (name == "above" and v == hi) or (name == "below" and v == lo):
                edge = "max" if name == "above" else "min"
                problems.add(
                    (*key, name),
                    f"impossible threshold: a '{spec.type}' feature is never {name} {v:g} ({edge} {v:g})",
                )
    for key, c in t.checks:
        spec = t.features.get(c.feature)
        if spec is None:
            continue
        lo, hi = spec.value_range
        for name, v in c.thresholds.items():
            if not lo <= v <= hi:
                problems.add((*key, name), _outside(spec, v))


def _outside(spec: FeatureSpec, v: float) -> str:
    lo, hi = spec.value_range
    what = f"a '{spec.type}' feature" + (
        f" relative to its {spec.relative}" if spec.relative != "none" else ""
    )
    return f"impossible threshold: {what} is always within {_span(lo, hi)}, never {v:g}"


def _span(lo: float, hi: float) -> str:
    def f(x: float) -> str:
        return "-inf" if x == -math.inf else "inf" if x == math.inf else f"{x:g}"

    return f"{f(lo)}..{f(hi)}"


def _boxes(s: StateSpec) -> list[tuple[Condition, ...]]:
    """The state as alternatives, each a set of conditions that all hold: when + one of any."""
    return [(*s.when, a) for a in s.any] if s.any else [s.when]


def _check_hysteresis(t: _Tables, problems: Problems) -> None:
    """The start state and a state of the rep must not both hold for one pose: where they test
    the same features, their intervals must leave a gap on at least one (the hysteresis that keeps
    a jittery value from flickering between them). Alternatives that test different features are
    told apart by those and are left alone."""
    if t.rep is None:
        return
    by_name = {s.name: (key, s) for key, s in t.states}
    if t.rep.start not in by_name:
        return
    start = by_name[t.rep.start][1]
    for name in t.rep.sequence:
        if name not in by_name or name == start.name:
            continue
        key, other = by_name[name]
        for a, b in itertools.product(_boxes(start), _boxes(other)):
            shared = sorted({c.feature for c in a})
            if shared != sorted({c.feature for c in b}):
                continue
            spans = {f: (interval(a, f), interval(b, f)) for f in shared}
            if all(max(x[0], y[0]) < min(x[1], y[1]) for x, y in spans.values()):
                f, (x, y) = next(iter(spans.items()))
                problems.add(
                    key,
                    f"states '{start.name}' and '{name}' overlap on '{f}' ({_span(*x)} vs {_span(*y)}): "
                    "leave a gap between them (hysteresis)",
                )
                break


def unused_features(rule: Rule, doc: TomlDocument) -> list[str]:
    """Warning lines for features no state, check or range of motion reads."""
    p = Problems(doc)
    read = rule.features_read()
    for name in rule.features:
        if name not in read:
            p.add(("features", name), "warning: no state, check or rom reads this feature")
    return p.lines
