"""Workout rules as data: one TOML file per workout in rules/, checked against a schema.

A rules file names the features it watches, the states (each a set of threshold conditions on
features), how states make one rep (or, for timed holds, which state runs the clock), and form
checks that turn a movement into a no-rep or a fault with a reason. Nothing in a file is
executed. The models below are the schema — one per table, ``extra="forbid"``, with the checks
that need only their own table — and also what the referee runs on. Checks across tables (state
and feature references, thresholds inside a feature's range, hysteresis) are in
`hiitpi.referee.rulecheck`; `parse_rule` runs both and reports every problem with the file, the
line and the key. The field descriptions are the reference part of rules/README.md
(`hiitpi rules schema --markdown`).
"""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from pydantic import ConfigDict, Field, ValidationError, ValidationInfo, field_validator, model_validator

from hiitpi.errors import ErrorList
from hiitpi.referee.features import FeatureSpec
from hiitpi.schema import (
    FileModel,
    Flag,
    Internal,
    Name,
    Number,
    OneOf,
    OneOrMany,
    Problems,
    Ref,
    Tables,
    Text,
    Texts,
    validation_lines,
)
from hiitpi.tomlpos import TomlDocument, TomlSyntaxError, load_toml

log = logging.getLogger(__name__)


class RuleModel(FileModel):
    """A table of a rules file; frozen, since the referee shares one rule between sessions."""

    model_config = ConfigDict(frozen=True)


class Condition(RuleModel):
    """`feature` is above `above` and/or below `below`."""

    model_config = ConfigDict(title="Condition")

    feature: Ref = Field(title="Feature", description="The feature tested: a key of `[features]`.")
    above: Number() | None = Field(
        None, title="Above", description="Holds while the feature is above this value (strictly)."
    )
    below: Number() | None = Field(
        None, title="Below", description="Holds while the feature is below this value (strictly)."
    )
    or_missing: Flag = Field(
        False,
        title="Or missing",
        description="Also holds while the feature cannot be measured (its keypoints are hidden).",
    )

    @model_validator(mode="after")
    def _bounds(self) -> Condition:
        if self.above is None and self.below is None:
            raise ValueError("a condition needs 'above' and/or 'below'")
        if self.above is not None and self.below is not None and self.above >= self.below:
            raise ValueError(
                f"impossible threshold: above {self.above:g} and below {self.below:g} can never both hold"
            )
        return self

    def describe(self) -> str:
        parts = []
        if self.above is not None:
            parts.append(f"{self.feature} > {self.above:g}")
        if self.below is not None:
            parts.append(f"{self.feature} < {self.below:g}")
        return " and ".join(parts)


#: A list of conditions; one inline table alone is a list of one.
Conditions = OneOrMany(Condition)


def interval(conds: tuple[Condition, ...], feature: str) -> tuple[float, float]:
    """The values of ``feature`` for which every condition of ``conds`` on it holds: (low, high)."""
    lo, hi = -math.inf, math.inf
    for c in conds:
        if c.feature == feature:
            if c.above is not None:
                lo = max(lo, c.above)
            if c.below is not None:
                hi = min(hi, c.below)
    return lo, hi


class StateSpec(RuleModel):
    """A position of the movement: it holds when every `when` condition holds and, if `any` is given,
    at least one of those."""

    model_config = ConfigDict(title="State")

    name: Name = Field(title="Name", description="The state's name, used by `[rep]`, `[hold]` and `during`.")
    when: Conditions = Field(
        (),
        title="When",
        description='Conditions that must all hold: `[{ feature = "knee", above = 150 }, ...]`.',
    )
    any: Conditions = Field(
        (),
        title="Any",
        description="If given, at least one of these must hold too (an alternative way to be in the state).",
    )
    min_dwell_s: Number(0.0, 5.0, unit="seconds") | None = Field(
        None,
        title="Minimum dwell",
        description="How long the state must hold before it counts (default: the rule's `min_dwell_s`).",
    )

    @field_validator("when")
    @classmethod
    def _when_can_hold(cls, when: tuple[Condition, ...]) -> tuple[Condition, ...]:
        for feature in dict.fromkeys(c.feature for c in when):
            lo, hi = interval(when, feature)
            if lo >= hi:
                raise ValueError(f"impossible thresholds: '{feature}' must be above {lo:g} and below {hi:g}")
        return when

    @model_validator(mode="after")
    def _has_a_condition(self) -> StateSpec:
        if not self.when and not self.any:
            raise ValueError("needs at least one condition: when = [{ feature = ..., above/below = ... }]")
        return self


class RomSpec(RuleModel):
    """Range of motion: `feature` going from `start` (0) to `full` (1)."""

    model_config = ConfigDict(title="Range of motion")

    feature: Ref = Field(title="Feature", description="The feature whose travel is the range of motion.")
    start: Number() = Field(title="Start", description="Its value at the start of a rep (range 0).")
    full: Number() = Field(title="Full", description="Its value at full range (range 1).")

    @model_validator(mode="after")
    def _a_range(self) -> RomSpec:
        if self.start == self.full:
            raise ValueError("impossible range: start and full are equal")
        return self


class RepSpec(RuleModel):
    """How states make one rep: leave `start`, pass through `sequence` in order, come back to `start`."""

    model_config = ConfigDict(title="Rep")

    start: Ref = Field(title="Start state", description="The state a rep leaves and comes back to.")
    sequence: Texts = Field(
        title="Sequence",
        description="The states a rep passes through, in order, between leaving `start` and coming back.",
    )
    partial: Conditions = Field(
        (),
        title="Partial",
        description="A condition, or a list of them (any one): reaching it without completing the "
        "sequence is a short rep: a no-rep with `partial_reason` (or the reason of a failed check) when "
        "judging, an attempt with a fault when counting attempts (once a full rep follows it).",
    )
    partial_reason: Text = Field(
        "incomplete rep", title="Partial reason", description="The reason a partial rep is called with."
    )
    min_s: Number(0.0, 60.0, unit="seconds") = Field(
        0.25, title="Shortest rep", description="Cycles no longer than this are noise and are not counted."
    )
    max_s: Number(0.1, 600.0, unit="seconds") = Field(
        10.0,
        title="Longest rep",
        description="A rep that has not reached the end of its sequence within this time is dropped "
        "(timeout); once there, the person may hold the position (a paused squat) as long as they like.",
    )
    rom: RomSpec | None = Field(
        None,
        title="Range of motion",
        description="`{ feature = ..., start = ..., full = ... }`: each rep's range of motion, 0..1.",
    )
    alternate: Flag = Field(
        False,
        title="Alternate",
        description="Sides must alternate: the same side counting twice in a row is a fault (lunges) - "
        "unless the other side could not be seen at all since (the far leg, side on): then the "
        "alternation says it went in between, and it counts too.",
    )
    each_side: Flag = Field(
        False,
        title="Each side",
        description="Run one state machine per side (left leg, right leg) and count both: for alternating "
        'limbs that are rarely both "down" at once (high knees, marching). Needs side-less points.',
    )

    @field_validator("sequence")
    @classmethod
    def _sequence(cls, seq: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        if not seq:
            raise ValueError("needs at least one state the rep must pass through")
        start = info.data.get("start")
        if start in seq:
            raise ValueError(f"'{start}' is the start state; list only the states between start and back")
        return seq

    @field_validator("max_s")
    @classmethod
    def _timing(cls, max_s: float, info: ValidationInfo) -> float:
        min_s = info.data.get("min_s", 0.25)
        if min_s >= max_s:
            raise ValueError(f"impossible timing: max_s {max_s:g} must be above min_s {min_s:g}")
        return max_s


class HoldSpec(RuleModel):
    """A timed hold: the clock runs while `state` holds and no check is violated."""

    model_config = ConfigDict(title="Hold")

    state: Ref = Field(title="State", description="The state that runs the clock.")
    tick_s: Number(0.05, 60.0, unit="seconds") = Field(
        1.0, title="Tick", description="How often the held time is reported, in seconds."
    )


class CheckSpec(RuleModel):
    """A form check: `min`/`max` the feature must stay within while the check is active (`during`
    those states, or the whole rep or hold), or `reach_above`/`reach_below` a value it must pass at
    least once in each rep. A failed check calls a no-rep or a fault with `reason`."""

    model_config = ConfigDict(title="Check")

    feature: Ref = Field(title="Feature", description="The feature checked: a key of `[features]`.")
    reason: Text = Field(
        title="Reason", description='What the person is told when the check fails (`"hips too high"`).'
    )
    action: OneOf("no_rep", "fault") | None = Field(
        None,
        title="Action",
        description="`no_rep`: the rep does not count; `fault`: it counts and the fault is called "
        "(default: `no_rep` for reps, `fault` for holds, which have no reps).",
    )
    min: Number() | None = Field(None, title="Minimum", description="The feature must stay at or above this.")
    max: Number() | None = Field(None, title="Maximum", description="The feature must stay at or below this.")
    reach_above: Number() | None = Field(
        None, title="Reach above", description="During each rep the feature must go above this at least once."
    )
    reach_below: Number() | None = Field(
        None, title="Reach below", description="During each rep the feature must go below this at least once."
    )
    during: Texts = Field(
        (),
        title="During",
        description="States in which `min`/`max` apply (default: the whole rep or hold).",
    )
    min_s: Number(0.0, 10.0, unit="seconds") = Field(
        0.07,
        title="Minimum time",
        description="How long the check must fail without a break before it is called, in seconds (not "
        "frames: 30 and 60 fps are judged alike).",
    )

    @model_validator(mode="after")
    def _limits(self) -> CheckSpec:
        if all(v is None for v in (self.min, self.max, self.reach_above, self.reach_below)):
            raise ValueError("a check needs one of min, max, reach_above, reach_below")
        if self.min is not None and self.max is not None and self.min >= self.max:
            raise ValueError(f"impossible thresholds: min {self.min:g} is not below max {self.max:g}")
        return self

    @property
    def thresholds(self) -> dict[str, float]:
        """The limits that are set, by key."""
        keys = ("min", "max", "reach_above", "reach_below")
        return {k: getattr(self, k) for k in keys if getattr(self, k) is not None}


class Rule(RuleModel):
    """One workout: how to measure it, count it and judge its form."""

    model_config = ConfigDict(
        title="HIIT PI workout rules",
        json_schema_extra={
            "description": "One workout for the HIIT PI referee: rules/<name>.toml. Features are numbers "
            "measured on the body, states are threshold conditions on them, [rep] (or [hold]) says how "
            "states make a rep (or run a clock), [[checks]] turn bad form into a no-rep or a fault."
        },
    )

    name: Name = Field(
        title="Name", description="The workout's name: lower_snake_case, unique in the rules folder."
    )
    title: Text = Field("", title="Title", description="What the page shows (default: from the name).")
    kind: OneOf("reps", "hold") = Field(
        "reps",
        title="Kind",
        description="`reps`: count repetitions (needs `[rep]`); `hold`: time a held position (needs `[hold]`).",
    )
    aliases: Texts = Field(
        (),
        title="Aliases",
        description="Other names a manifest, the page or `--workout` may use (`pushups`); matched "
        "case-insensitively, with spaces and dashes read as `_`.",
    )
    description: Text = Field("", title="Description", description="One or two sentences on how it is done.")
    views: Texts = Field((), title="Views", description="Camera views the rule is made for: `front`, `side`.")
    min_score: Number(0.0, 1.0) = Field(
        0.3, title="Minimum keypoint score", description='Keypoints scored below this are "not visible".'
    )
    min_dwell_s: Number(0.0, 5.0, unit="seconds") = Field(
        0.1, title="Minimum dwell", description="A state must hold this long before it counts (debounce)."
    )
    max_gap_s: Number(0.0, 60.0, unit="seconds") = Field(
        1.5,
        title="Longest gap",
        description="The person unseen for longer than this: the half-done rep is dropped.",
    )
    up_cue: OneOf("none", "standing", "hands", "knees") = Field(
        "none",
        title="Which way is up",
        description="How the body shows which way is up, so a turned picture (a camera on its side, a phone "
        "video whose rotation was not applied) is read upright: `standing` (the torso and the whole body point "
        "up), `hands` (the hands under the shoulders: push-ups, planks), `knees` (lying with the knees bent "
        "up, or sitting up with the legs out: sit-ups), `none` (not read). Read in the set's first seconds (1.5 s "
        "of poses that agree, within 10 s); the keypoints are turned back before any feature is measured.",
    )
    features: dict[str, FeatureSpec] = Field(
        title="Features",
        description='The numbers measured on the body, by name: `knee = { type = "angle", points = '
        '["hip", "knee", "ankle"] }`.',
    )
    states: Tables(StateSpec, "states", min_items=1) = Field(
        title="States",
        description="`[[states]]`: the positions of the movement. On each frame, of the states whose "
        "conditions hold (on the features valid in the camera view), the one held by the largest margin is "
        "the candidate (margins in travel units for calibrated features); it becomes the state once it has "
        "held for its dwell.",
    )
    rep: RepSpec | None = Field(None, title="Rep", description='How states make one rep (`kind = "reps"`).')
    hold: HoldSpec | None = Field(
        None, title="Hold", description='Which state runs the clock (`kind = "hold"`).'
    )
    checks: Tables(CheckSpec, "checks") = Field(
        (),
        title="Checks",
        description="`[[checks]]`: form checks that call a no-rep or a fault with a reason.",
    )
    source: Internal[str] = ""

    @model_validator(mode="after")
    def _fill_in(self, info: ValidationInfo) -> Rule:
        for key, spec in self.features.items():
            spec._fill(name=key)
        default_action = "no_rep" if self.kind == "reps" else "fault"
        for check in self.checks:
            if check.action is None:
                check._fill(action=default_action)
        self._fill(
            title=self.title or self.name.replace("_", " ").title(),
            source=str((info.context or {}).get("source", "")),
        )
        return self

    def state(self, name: str) -> StateSpec:
        return next(s for s in self.states if s.name == name)

    def features_read(self) -> set[str]:
        """The features a state, a partial condition, the range of motion or a check reads, the
        features those are the mean of, and the features that stand in for them (`fallback`)."""
        used = {c.feature for st in self.states for c in (*st.when, *st.any)}
        used |= {c.feature for c in self.checks}
        # a feature with a plausible range is read on every pose: outside it the pose is a glitch
        used |= {
            n for n, f in self.features.items() if f.plausible_min is not None or f.plausible_max is not None
        }
        if self.rep is not None:
            used |= {c.feature for c in self.rep.partial}
            if self.rep.rom is not None:
                used.add(self.rep.rom.feature)
        todo = list(used)
        while todo:
            spec = self.features.get(todo.pop())
            stand_ins = (spec.fallback,) if spec is not None and spec.fallback else ()
            for name in (*spec.of, *stand_ins) if spec is not None else ():
                if name not in used:
                    used.add(name)
                    todo.append(name)
        return used


class RulesError(ErrorList, ValueError):
    """A rules file that cannot be used; ``errors`` lists each problem as 'file:line: key: what'."""


def parse_rule(doc: TomlDocument) -> Rule:
    """Check one parsed rules document; raises `RulesError` listing every problem."""
    from hiitpi.referee.rulecheck import check_tables

    problems = Problems(doc)
    rule = None
    try:
        rule = Rule.model_validate(doc.data, context={"source": str(doc.path)})
    except ValidationError as exc:
        problems.extend(validation_lines(exc, Rule, doc))
    check_tables(doc, problems)
    problems.raise_if_any(RulesError)
    assert rule is not None  # no problems: the schema accepted the document
    return rule


def load_rule(path: str | Path) -> Rule:
    """Load and check one rules file; raises `RulesError` naming file/line/key."""
    try:
        doc = load_toml(path)
    except TomlSyntaxError as exc:
        raise RulesError([str(exc)]) from exc
    return parse_rule(doc)


def normalise_name(name: str) -> str:
    """How names are matched: ``"Plank Jacks"`` and ``"plank-jacks"`` are ``plank_jacks``."""
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")
