"""Workout rules as data: one TOML file per workout in rules/, parsed and validated.

A rules file names the features it watches, the states (each a set of threshold conditions on
features), how states make one rep (or, for timed holds, which state runs the clock), and form
checks that turn a movement into a no-rep or a fault with a reason. Nothing in a file is
executed: every value is checked against this schema, and every problem is reported with the
file, the line and the key. See rules/README.md for the format.
"""

from __future__ import annotations

import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hiitpi.errors import ErrorList
from hiitpi.referee.features import (
    AXES,
    FEATURE_TYPES,
    RELATIVE,
    SCALES,
    SIDE_MODES,
    TYPE_RANGES,
    FeatureSpec,
    check_point_name,
)
from hiitpi.tomlpos import KeyPath, TomlDocument, TomlSyntaxError, load_toml

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True, slots=True)
class Condition:
    """``feature`` is above ``above`` and/or below ``below``."""

    feature: str
    above: float | None = None
    below: float | None = None
    #: also holds while the feature cannot be measured (its keypoints are hidden)
    or_missing: bool = False

    def describe(self) -> str:
        parts = []
        if self.above is not None:
            parts.append(f"{self.feature} > {self.above:g}")
        if self.below is not None:
            parts.append(f"{self.feature} < {self.below:g}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class StateSpec:
    """A state holds when every ``when`` condition holds and, if ``any`` is given, one of those."""

    name: str
    when: tuple[Condition, ...]
    min_dwell_s: float | None = None  # None: the rule's min_dwell_s
    any: tuple[Condition, ...] = ()


@dataclass(frozen=True, slots=True)
class RomSpec:
    """Range of motion: ``feature`` going from ``start`` (0) to ``full`` (1)."""

    feature: str
    start: float
    full: float


@dataclass(frozen=True, slots=True)
class RepSpec:
    start: str
    sequence: tuple[str, ...]
    #: reaching any of these without completing the sequence is a no-rep with partial_reason
    partial: tuple[Condition, ...] = ()
    partial_reason: str = "incomplete rep"
    min_s: float = 0.25
    max_s: float = 10.0
    rom: RomSpec | None = None
    alternate: bool = False
    #: run one state machine per side (left leg, right leg) and count both: for alternating
    #: movements where both limbs are rarely "down" at the same moment (high knees, marching)
    each_side: bool = False


@dataclass(frozen=True, slots=True)
class HoldSpec:
    state: str
    tick_s: float = 1.0


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A form check.

    ``min``/``max``: the feature must stay within them while the check is active; ``reach_above``
    /``reach_below``: by the end of the rep the feature must have gone past the value at least once.
    ``during``: states in which the check is active (empty: the whole rep or hold).
    """

    feature: str
    reason: str
    action: str = "no_rep"  # no_rep | fault
    min: float | None = None
    max: float | None = None
    reach_above: float | None = None
    reach_below: float | None = None
    during: tuple[str, ...] = ()
    min_frames: int = 3


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    title: str
    kind: str  # reps | hold
    features: dict[str, FeatureSpec]
    states: tuple[StateSpec, ...]
    rep: RepSpec | None = None
    hold: HoldSpec | None = None
    checks: tuple[CheckSpec, ...] = ()
    aliases: tuple[str, ...] = ()
    description: str = ""
    views: tuple[str, ...] = ()
    min_score: float = 0.3
    min_dwell_s: float = 0.1
    max_gap_s: float = 1.5
    source: str = ""

    def state(self, name: str) -> StateSpec:
        return next(s for s in self.states if s.name == name)


class RulesError(ErrorList, ValueError):
    """A rules file that cannot be used; ``errors`` lists each problem as 'file:line: key: what'."""


# --------------------------------------------------------------------------------------------
# parsing


class _Parser:
    """Reads one rules document, collecting every error instead of stopping at the first."""

    def __init__(self, doc: TomlDocument):
        self.doc = doc
        self.errors: list[str] = []
        self.broken: set[str] = set()  # features that failed validation

    def err(self, key: KeyPath, msg: str) -> None:
        dotted = ".".join(str(k) for k in key) if key else "(file)"
        self.errors.append(f"{self.doc.where(key)}: {dotted}: {msg}")

    def table(self, value: Any, key: KeyPath, allowed: set[str], required: set[str] = frozenset()) -> dict:
        if not isinstance(value, dict):
            self.err(key, f"must be a table, got {type(value).__name__}")
            return {}
        for k in sorted(set(value) - allowed):
            self.err((*key, k), f"unknown key '{k}'; allowed here: {', '.join(sorted(allowed))}")
        for k in sorted(required - set(value)):
            self.err(key, f"missing required key '{k}'")
        return value

    def num(
        self,
        d: dict,
        key: KeyPath,
        name: str,
        default: Any = None,
        lo: float = -math.inf,
        hi: float = math.inf,
    ) -> Any:
        if name not in d:
            return default
        v = d[name]
        if isinstance(v, bool) or not isinstance(v, int | float):
            self.err((*key, name), f"must be a number, got {v!r}")
            return default
        if not (lo <= v <= hi):
            self.err((*key, name), f"{v!r} is outside {lo:g}..{hi:g}")
            return default
        return float(v)

    def string(
        self, d: dict, key: KeyPath, name: str, default: Any = None, choices: tuple[str, ...] | None = None
    ) -> Any:
        if name not in d:
            return default
        v = d[name]
        if not isinstance(v, str):
            self.err((*key, name), f"must be a string, got {v!r}")
            return default
        if choices is not None and v not in choices:
            self.err((*key, name), f"'{v}' is not one of: {', '.join(choices)}")
            return default
        return v

    def strings(self, d: dict, key: KeyPath, name: str) -> tuple[str, ...]:
        v = d.get(name, [])
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.err((*key, name), f"must be a list of strings, got {v!r}")
            return ()
        return tuple(v)

    # ---------------------------------------------------------------------------------------

    def feature(self, name: str, d: Any) -> FeatureSpec | None:
        key = ("features", name)
        allowed = {
            "type", "points", "side", "scale", "axis", "min_score", "relative", "peak_half_life_s", "min_range",
        }  # fmt: skip
        d = self.table(d, key, allowed, {"type", "points"})
        if not d:
            return None
        ok = True
        if not NAME_RE.match(name):
            self.err(key, f"feature name '{name}' must be lower_snake_case")
            ok = False
        ftype = self.string(d, key, "type", choices=tuple(FEATURE_TYPES))
        points = self.strings(d, key, "points")
        if ftype is None:
            return None
        if len(points) != FEATURE_TYPES[ftype]:
            self.err(
                (*key, "points"),
                f"a '{ftype}' feature needs {FEATURE_TYPES[ftype]} points, got {len(points)}",
            )
            ok = False
        for p in points:
            problem = check_point_name(p)
            if problem:
                self.err((*key, "points"), problem)
                ok = False
        side = self.string(d, key, "side", "best", SIDE_MODES)
        scale = self.string(d, key, "scale", "torso", SCALES)
        axis = self.string(d, key, "axis", "xy", AXES)
        min_score = self.num(d, key, "min_score", None, 0.0, 1.0)
        relative = self.string(d, key, "relative", "none", RELATIVE)
        half_life = self.num(d, key, "peak_half_life_s", 30.0, 0.5, 3600.0)
        min_range = self.num(d, key, "min_range", 0.0, 0.0, 1e6)
        if "min_range" in d and relative != "range":
            self.err((*key, "min_range"), 'min_range applies only to relative = "range"')
            ok = False
        if relative == "peak" and ftype not in FEATURE_TYPES:
            self.err(
                (*key, "relative"), 'relative = "peak" needs an angle, height or distance feature, not a tilt'
            )
            ok = False
        if not ok:
            return None
        return FeatureSpec(
            name,
            ftype,
            points,
            side,
            scale,
            axis,
            min_score,
            relative or "none",
            half_life or 30.0,
            min_range or 0.0,
        )

    def condition(self, d: Any, key: KeyPath, features: dict[str, FeatureSpec]) -> Condition | None:
        d = self.table(d, key, {"feature", "above", "below", "or_missing"}, {"feature"})
        if not d:
            return None
        fname = self.string(d, key, "feature")
        above = self.num(d, key, "above")
        below = self.num(d, key, "below")
        if fname is None:
            return None
        if above is None and below is None:
            self.err(key, "a condition needs 'above' and/or 'below'")
            return None
        if fname not in features:
            self.err(
                (*key, "feature"),
                f"unknown feature '{fname}'; defined: {', '.join(sorted(features)) or 'none'}",
            )
            return None
        lo, hi = TYPE_RANGES[features[fname].type]
        if features[fname].relative == "peak":
            hi = 1.0  # a value relative to its own peak never exceeds 1
        elif features[fname].relative == "range":
            lo, hi = 0.0, 1.0
        if above is not None and below is not None and above >= below:
            self.err(key, f"impossible threshold: above {above:g} and below {below:g} can never both hold")
            return None
        if above is not None and above >= hi:
            self.err(
                (*key, "above"),
                f"impossible threshold: a '{features[fname].type}' feature is never above {above:g} (max {hi:g})",
            )
            return None
        if below is not None and below <= lo:
            self.err(
                (*key, "below"),
                f"impossible threshold: a '{features[fname].type}' feature is never below {below:g} (min {lo:g})",
            )
            return None
        or_missing = d.get("or_missing", False)
        if not isinstance(or_missing, bool):
            self.err((*key, "or_missing"), "must be true or false")
            return None
        return Condition(fname, above, below, or_missing)


def _interval(conds: tuple[Condition, ...], feature: str) -> tuple[float, float]:
    lo, hi = -math.inf, math.inf
    for c in conds:
        if c.feature == feature:
            if c.above is not None:
                lo = max(lo, c.above)
            if c.below is not None:
                hi = min(hi, c.below)
    return lo, hi


def parse_rule(doc: TomlDocument) -> Rule:
    """Validate one parsed rules document; raises `RulesError` listing every problem."""
    p = _Parser(doc)
    top_allowed = {
        "name", "title", "kind", "aliases", "description", "views", "min_score", "min_dwell_s",
        "max_gap_s", "features", "states", "rep", "hold", "checks",
    }  # fmt: skip
    d = p.table(doc.data, (), top_allowed, {"name", "features", "states"})
    name = p.string(d, (), "name", "")
    if name and not NAME_RE.match(name):
        p.err(("name",), f"'{name}' must be lower_snake_case (letters, digits, _)")
    kind = p.string(d, (), "kind", "reps", ("reps", "hold"))
    title = p.string(d, (), "title", name.replace("_", " ").title() if name else "")
    min_score = p.num(d, (), "min_score", 0.3, 0.0, 1.0)
    min_dwell = p.num(d, (), "min_dwell_s", 0.1, 0.0, 5.0)
    max_gap = p.num(d, (), "max_gap_s", 1.5, 0.0, 60.0)

    features: dict[str, FeatureSpec] = {}
    raw_features = d.get("features", {})
    if not isinstance(raw_features, dict):
        p.err(("features",), "must be a table of feature definitions")
        raw_features = {}
    for fname, fd in raw_features.items():
        spec = p.feature(fname, fd)
        if spec:
            features[fname] = spec
    broken_features = set(raw_features) - set(features)
    p.broken = broken_features

    states: list[StateSpec] = []
    raw_states = d.get("states", [])
    if not isinstance(raw_states, list):
        p.err(("states",), "must be an array of tables: [[states]]")
        raw_states = []
    seen: set[str] = set()
    for i, sd in enumerate(raw_states):
        key = ("states", i)
        sd = p.table(sd, key, {"name", "when", "any", "min_dwell_s"}, {"name"})
        sname = p.string(sd, key, "name")
        if not sname:
            continue
        if sname in seen:
            p.err((*key, "name"), f"state '{sname}' is defined twice")
            continue
        seen.add(sname)
        groups: dict[str, list[Condition]] = {"when": [], "any": []}
        skip = False
        for group in ("when", "any"):
            raw = sd.get(group, [])
            if isinstance(raw, dict):
                raw = [raw]
            if not isinstance(raw, list):
                p.err((*key, group), "must be a list of conditions: [{ feature = ..., above/below = ... }]")
                skip = True
                continue
            for cd in raw:
                if isinstance(cd, dict) and cd.get("feature") in broken_features:
                    skip = True  # already reported at the feature
                    continue
                c = p.condition(cd, (*key, group), features)
                if c is None:
                    skip = True
                else:
                    groups[group].append(c)
        if not groups["when"] and not groups["any"] and not skip:
            p.err(key, "needs at least one condition: when = [{ feature = ..., above/below = ... }]")
            continue
        if skip:
            continue
        conds = groups["when"]
        for fname in {c.feature for c in conds}:
            lo, hi = _interval(tuple(conds), fname)
            if lo >= hi:
                p.err(
                    (*key, "when"), f"impossible thresholds: '{fname}' must be above {lo:g} and below {hi:g}"
                )
                skip = True
        if skip:
            continue
        dwell = p.num(sd, key, "min_dwell_s", None, 0.0, 5.0)
        states.append(StateSpec(sname, tuple(conds), dwell, tuple(groups["any"])))
    if not raw_states:
        p.err(("states",), "a rule needs at least one state ([[states]] with name and when)")

    state_names = {s.name for s in states}

    def need_state(sname: str, key: KeyPath) -> None:
        if sname not in state_names and sname not in seen:
            p.err(key, f"missing state '{sname}'; defined: {', '.join(sorted(seen)) or 'none'}")

    rep = None
    hold = None
    if kind == "reps":
        if "hold" in d:
            p.err(("hold",), 'only a kind = "hold" rule has a [hold] table')
        rd = (
            p.table(
                d.get("rep"),
                ("rep",),
                {
                    "start",
                    "sequence",
                    "partial",
                    "partial_reason",
                    "min_s",
                    "max_s",
                    "rom",
                    "alternate",
                    "each_side",
                },
                {"start", "sequence"},
            )
            if "rep" in d
            else None
        )
        if rd is None:
            p.err((), 'a kind = "reps" rule needs a [rep] table (start, sequence)')
        elif rd:
            start = p.string(rd, ("rep",), "start", "")
            seq = p.strings(rd, ("rep",), "sequence")
            if start:
                need_state(start, ("rep", "start"))
            if not seq:
                p.err(("rep", "sequence"), "needs at least one state the rep must pass through")
            for s in seq:
                need_state(s, ("rep", "sequence"))
                if s == start:
                    p.err(
                        ("rep", "sequence"),
                        f"'{s}' is the start state; list only the states between start and back",
                    )
            partial_list = []
            raw_partial = rd.get("partial", [])
            for cd in (
                [raw_partial]
                if isinstance(raw_partial, dict)
                else raw_partial
                if isinstance(raw_partial, list)
                else [None]
            ):
                c = p.condition(cd, ("rep", "partial"), features)
                if c is not None:
                    partial_list.append(c)
            partial = tuple(partial_list)
            min_s = p.num(rd, ("rep",), "min_s", 0.25, 0.0, 60.0)
            max_s = p.num(rd, ("rep",), "max_s", 10.0, 0.1, 600.0)
            if min_s is not None and max_s is not None and min_s >= max_s:
                p.err(("rep", "max_s"), f"impossible timing: max_s {max_s:g} must be above min_s {min_s:g}")
            rom = None
            if "rom" in rd:
                rk = ("rep", "rom")
                rmd = p.table(rd["rom"], rk, {"feature", "start", "full"}, {"feature", "start", "full"})
                rf = p.string(rmd, rk, "feature")
                rs = p.num(rmd, rk, "start")
                rfull = p.num(rmd, rk, "full")
                if rf is not None and rf not in features and rf not in broken_features:
                    p.err((*rk, "feature"), f"unknown feature '{rf}'")
                elif rf is not None and rs is not None and rfull is not None:
                    if rs == rfull:
                        p.err(rk, "impossible range: start and full are equal")
                    else:
                        rom = RomSpec(rf, rs, rfull)
            alternate = rd.get("alternate", False)
            if not isinstance(alternate, bool):
                p.err(("rep", "alternate"), "must be true or false")
                alternate = False
            each_side = rd.get("each_side", False)
            if not isinstance(each_side, bool):
                p.err(("rep", "each_side"), "must be true or false")
                each_side = False
            if each_side and not any(f.sided for f in features.values()):
                p.err(("rep", "each_side"), "needs at least one feature on side-less points (knee, hip...)")
                each_side = False
            if start and seq:
                rep = RepSpec(
                    start, seq, partial, p.string(rd, ("rep",), "partial_reason", "incomplete rep"),
                    min_s or 0.25, max_s or 10.0, rom, alternate, each_side,
                )  # fmt: skip
            # hysteresis: the start state and the states of the rep must not overlap
            by_name = {s.name: s for s in states}
            for s in seq:
                if start in by_name and s in by_name:
                    a, b = by_name[start], by_name[s]
                    for fname in {c.feature for c in a.when} & {c.feature for c in b.when}:
                        alo, ahi = _interval(a.when, fname)
                        blo, bhi = _interval(b.when, fname)
                        single = len(a.when) == 1 and len(b.when) == 1 and not a.any and not b.any
                        if max(alo, blo) < min(ahi, bhi) and single:
                            p.err(
                                ("states",),
                                f"states '{start}' and '{s}' overlap on '{fname}' ({alo:g}..{ahi:g} vs {blo:g}..{bhi:g}): leave a gap between them (hysteresis)",
                            )
    else:
        if "rep" in d:
            p.err(("rep",), 'a kind = "hold" rule has [hold], not [rep]')
        hd = p.table(d.get("hold"), ("hold",), {"state", "tick_s"}, {"state"}) if "hold" in d else None
        if hd is None:
            p.err((), 'a kind = "hold" rule needs a [hold] table (state)')
        elif hd:
            hs = p.string(hd, ("hold",), "state", "")
            if hs:
                need_state(hs, ("hold", "state"))
            tick = p.num(hd, ("hold",), "tick_s", 1.0, 0.05, 60.0)
            if hs:
                hold = HoldSpec(hs, tick or 1.0)

    checks: list[CheckSpec] = []
    raw_checks = d.get("checks", [])
    if not isinstance(raw_checks, list):
        p.err(("checks",), "must be an array of tables: [[checks]]")
        raw_checks = []
    for i, cd in enumerate(raw_checks):
        key = ("checks", i)
        cd = p.table(
            cd,
            key,
            {
                "feature",
                "reason",
                "action",
                "min",
                "max",
                "reach_above",
                "reach_below",
                "during",
                "min_frames",
            },
            {"feature", "reason"},
        )
        if not cd:
            continue
        fname = p.string(cd, key, "feature")
        if fname is not None and fname not in features:
            if fname not in broken_features:
                p.err((*key, "feature"), f"unknown feature '{fname}'; defined: {', '.join(sorted(features))}")
            continue
        lims = {k: p.num(cd, key, k) for k in ("min", "max", "reach_above", "reach_below")}
        if all(v is None for v in lims.values()):
            p.err(key, "a check needs one of min, max, reach_above, reach_below")
            continue
        if lims["min"] is not None and lims["max"] is not None and lims["min"] >= lims["max"]:
            p.err(key, f"impossible thresholds: min {lims['min']:g} is not below max {lims['max']:g}")
            continue
        action = p.string(cd, key, "action", "no_rep" if kind == "reps" else "fault", ("no_rep", "fault"))
        if kind == "hold" and action == "no_rep":
            p.err((*key, "action"), 'a hold has no reps: use action = "fault"')
        if kind == "hold" and (lims["reach_above"] is not None or lims["reach_below"] is not None):
            p.err(key, "reach_above/reach_below apply to reps; a hold uses min/max")
        during = p.strings(cd, key, "during")
        for s in during:
            need_state(s, (*key, "during"))
        frames = cd.get("min_frames", 3)
        if not isinstance(frames, int) or isinstance(frames, bool) or frames < 1:
            p.err((*key, "min_frames"), f"must be a whole number >= 1, got {frames!r}")
            frames = 3
        reason = p.string(cd, key, "reason", "")
        if fname and reason:
            checks.append(
                CheckSpec(
                    fname,
                    reason,
                    action or "no_rep",
                    lims["min"],
                    lims["max"],
                    lims["reach_above"],
                    lims["reach_below"],
                    during,
                    frames,
                )
            )

    aliases = p.strings(d, (), "aliases")
    views = p.strings(d, (), "views")
    if p.errors:
        raise RulesError(p.errors)
    return Rule(
        name=name,
        title=title or name,
        kind=kind,
        features=features,
        states=tuple(states),
        rep=rep,
        hold=hold,
        checks=tuple(checks),
        aliases=aliases,
        description=p.string(d, (), "description", "") or "",
        views=views,
        min_score=min_score,
        min_dwell_s=min_dwell,
        max_gap_s=max_gap,
        source=str(doc.path),
    )


def load_rule(path: str | Path) -> Rule:
    """Load and validate one rules file; raises `RulesError` naming file/line/key."""
    try:
        doc = load_toml(path)
    except TomlSyntaxError as exc:
        raise RulesError([str(exc)]) from exc
    return parse_rule(doc)


def normalise_name(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


@dataclass
class RuleSet:
    """Every loaded rule by name, with aliases; ``errors`` from files that did not load."""

    rules: dict[str, Rule] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def resolve(self, name: str) -> Rule:
        key = normalise_name(name)
        real = key if key in self.rules else self.aliases.get(key)
        if real is None:
            raise KeyError(
                f"no workout rules named '{name}'; known: {', '.join(sorted(self.rules))} (see `hiitpi rules list`)"
            )
        return self.rules[real]


def load_rules_dir(path: str | Path) -> tuple[dict[str, Rule], list[str]]:
    """Every ``*.toml`` in ``path``: (rules by name, error lines). A broken file never stops the others."""
    rs = load_rule_set(path)
    return rs.rules, rs.errors


def load_rule_set(path: str | Path, previous: RuleSet | None = None) -> RuleSet:
    """Every ``*.toml`` in ``path``. With ``previous`` (a reload), a file that no longer loads keeps
    its last good version, and the error says so."""
    path = Path(path)
    rs = RuleSet()
    last_good = {r.source: r for r in previous.rules.values()} if previous else {}
    if not path.is_dir():
        rs.errors.append(f"{path}: rules folder not found (set [referee] rules_dir)")
        return rs
    for file in sorted(path.glob("*.toml")):
        try:
            rule = load_rule(file)
        except RulesError as exc:
            rs.errors.extend(exc.errors)
            kept = last_good.get(str(file))
            if kept is None:
                log.warning("rules file %s skipped: %d error(s)", file, len(exc.errors))
                continue
            rs.errors.append(
                f"{file}: keeping the last good version of '{kept.name}' until the file is fixed"
            )
            log.warning(
                "rules file %s broken (%d error(s)): keeping its last good version", file, len(exc.errors)
            )
            rule = kept
        if rule.name in rs.rules:
            rs.errors.append(
                f"{file}: name: '{rule.name}' is already defined in {rs.rules[rule.name].source}"
            )
            continue
        rs.rules[rule.name] = rule
    for rule in rs.rules.values():
        for alias in rule.aliases:
            a = normalise_name(alias)
            if a in rs.rules and a != rule.name:
                rs.errors.append(f"{rule.source}: aliases: '{alias}' is the name of another rule")
            elif a in rs.aliases and rs.aliases[a] != rule.name:
                rs.errors.append(f"{rule.source}: aliases: '{alias}' is also an alias of '{rs.aliases[a]}'")
            else:
                rs.aliases[a] = rule.name
    return rs
