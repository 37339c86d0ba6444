#!/usr/bin/env python3
"""Leave-one-source-out figures for the referee's data-chosen constants.

Two groups of constants were chosen by measuring on the labelled data, each on a grid around the
shipped value:

- *travel*: the calibration's turning points (how far a turning point must come back, how many
  turning points the positions are the median of) and the states' levels in travel units (start
  below, far above, partial above);
- *re-learning*: when a stale travel is re-learnt from smaller turning points (how many of them,
  and how steady their rhythm must be);
- *plausible*: the physical floor below which a pose is a glitch (the push-up's folded elbows,
  30 degrees from anatomy, not from the data; 0 is no floor);
- *upright*: the same for the standing exercises (squat, lunge, jumping jack, high knees): the
  shoulders' height above the hips below which a pose is a glitch (0, the shoulders under the hips,
  from anatomy; "none" is no floor).
- *situp_min_s*: the shortest sit-up cycle (seconds out of the lying position) that is not noise.

For every source (a clip's `source_repo` in the clips manifest, the data set for pose sequences),
the grid value with the lowest MAE on every *other* source is picked and scored on the left-out
one, beside the shipped default. Prints a Markdown section for docs/accuracy.md.

    scripts/eval_loso.py DATA_DIR [MODEL]
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiitpi.config import load_settings  # noqa: E402
from hiitpi.referee import calibrate  # noqa: E402
from hiitpi.referee.catalog import load_catalog  # noqa: E402
from hiitpi.referee.datasets import read_manifest, read_pose_index  # noqa: E402
from hiitpi.referee.evaluate import score_clips, score_pose_sequences  # noqa: E402

#: the shipped travel levels (start below, far above, partial above) the grid replaces
LEVELS0 = (0.35, 0.65, 0.5)

#: name -> (title of the choice, shipped value, grid); a value is a tuple of the group's constants
GRIDS = {
    "travel": (
        "turn, turning points, levels",
        (0.5, 3, LEVELS0),
        list(itertools.product((0.35, 0.5, 0.65), (3, 5, 9), (LEVELS0, (0.3, 0.7, 0.45), (0.25, 0.75, 0.4)))),
    ),
    "relearn": (
        "small turning points, rhythm",
        (8, 0.3),
        list(itertools.product((6, 8, 10), (0.2, 0.3, 0.5))),
    ),
    "plausible": ("floor", (30,), [(0,), (20,), (30,), (40,)]),
    "upright": ("floor", (0.0,), [(None,), (-0.25,), (0.0,), (0.25,), (0.5,)]),
    "situp_min_s": ("min_s", (0.25,), [(0.2,), (0.25,), (0.3,)]),
}

#: the workout each rep-timing group sets the `min_s` of
RETIMED = {"situp_min_s": "situp"}

#: the features each floor group sets (the folded elbows; the shoulders above the hips)
FLOORED = {"plausible": "folded", "upright": "upright"}


class Relevelled:
    """The catalogue with the shipped travel levels replaced by others, and every calibrated
    feature reading ``reps`` turning points."""

    def __init__(self, catalog, levels, reps: int):
        self.catalog = catalog
        self.levels = dict(zip(LEVELS0, levels, strict=True))
        self.reps = reps
        self._cache: dict = {}

    def workout(self, name):
        rule = self.catalog.workout(name)
        if rule.name not in self._cache:
            self._cache[rule.name] = self._relevel(rule)
        return self._cache[rule.name]

    def _relevel(self, rule):
        travel = {n for n, f in rule.features.items() if f.calibrate is not None or f.type == "mean"}
        m = self.levels

        def fix(c):
            if c.feature not in travel:
                return c
            return c.model_copy(update={"above": m.get(c.above, c.above), "below": m.get(c.below, c.below)})

        states = tuple(
            s.model_copy(update={"when": tuple(map(fix, s.when)), "any": tuple(map(fix, s.any))})
            for s in rule.states
        )
        rep = rule.rep.model_copy(update={"partial": tuple(map(fix, rule.rep.partial))}) if rule.rep else None
        features = {
            n: f.model_copy(update={"calibrate": f.calibrate.model_copy(update={"reps": self.reps})})
            if f.calibrate is not None
            else f
            for n, f in rule.features.items()
        }
        return rule.model_copy(update={"states": states, "rep": rep, "features": features})


class Floored:
    """The catalogue with the ``plausible_min`` of every feature named ``feature`` set to ``floor``
    (None: no floor)."""

    def __init__(self, catalog, feature: str, floor: float | None):
        self.catalog = catalog
        self.feature = feature
        self.floor = floor
        self._cache: dict = {}

    def workout(self, name):
        rule = self.catalog.workout(name)
        if rule.name not in self._cache:
            features = {
                n: f.model_copy(update={"plausible_min": self.floor})
                if n == self.feature and f.plausible_min is not None
                else f
                for n, f in rule.features.items()
            }
            self._cache[rule.name] = rule.model_copy(update={"features": features})
        return self._cache[rule.name]


class Retimed:
    """The catalogue with ``workout``'s shortest rep (`[rep] min_s`) set to ``min_s``."""

    def __init__(self, catalog, workout: str, min_s: float):
        self.catalog = catalog
        self.name = workout
        self.min_s = min_s

    def workout(self, name):
        rule = self.catalog.workout(name)
        if rule.name != self.name or rule.rep is None:
            return rule
        return rule.model_copy(update={"rep": rule.rep.model_copy(update={"min_s": self.min_s})})


@contextlib.contextmanager
def constants(**values):
    """The calibration module's constants set to ``values`` for the duration."""
    saved = {k: getattr(calibrate, k) for k in values}
    for k, v in values.items():
        setattr(calibrate, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(calibrate, k, v)


def catalog_for(group: str, value, rules):
    if group == "travel":
        turn, reps, levels = value
        return Relevelled(rules, levels, reps), {"TURN": turn}
    if group in FLOORED:
        return Floored(rules, FLOORED[group], value[0]), {}
    if group in RETIMED:
        return Retimed(rules, RETIMED[group], value[0]), {}
    turns, cv = value
    return rules, {"RELEARN_TURNS": turns, "RHYTHM_CV": cv}


def run(data: Path, settings, catalog, consts: dict) -> list:
    with constants(**consts):
        clips = score_clips(read_manifest(data / "clips" / "manifest.csv"), catalog, settings, "judge")
        seqs = [
            r
            for name, folder in (("RepCount-A", "repcount_pose"), ("Countix", "countix_pose"))
            for r in score_pose_sequences(
                read_pose_index(data / folder / "index.csv"),
                data / folder / "poses",
                catalog,
                settings,
                counting="attempts",
                source=name,
            )
        ]
    return [r for r in (*clips, *seqs) if r.scored and not r.is_hold]


def mae(results) -> float:
    return float(np.mean([r.rel_err for r in results])) if results else float("nan")


def obo(results) -> float:
    return float(np.mean([r.abs_err <= 1 for r in results])) if results else float("nan")


def fmt(value) -> str:
    parts = []
    for v in value:
        if v is None:
            parts.append("none")
        else:
            parts.append("/".join(f"{x:g}" for x in v) if isinstance(v, tuple) else f"{v:g}")
    return ", ".join(parts)


def table(group: str, data: Path, settings, rules) -> list[str]:
    title, default, grid = GRIDS[group]
    assert default in grid
    by_value = {}
    for value in grid:
        catalog, consts = catalog_for(group, value, rules)
        by_value[value] = run(data, settings, catalog, consts)
    sources = sorted({r.source for r in by_value[default]}, key=lambda s: (s in ("RepCount-A", "Countix"), s))
    lines = [
        f"| left out | clips | chosen without it ({title}) | MAE shipped | OBO shipped | MAE left out | OBO left out |",
        "|---|---:|---|---:|---:|---:|---:|",
    ]
    for held in sources:
        rest = {v: [r for r in rs if r.source != held] for v, rs in by_value.items()}
        best = min(grid, key=lambda v: (mae(rest[v]), v != default, str(v)))
        mine = [r for r in by_value[best] if r.source == held]
        shipped = [r for r in by_value[default] if r.source == held]
        lines.append(
            f"| {held} | {len(mine)} | {fmt(best)} | {mae(shipped):.3f} | {obo(shipped):.2f} "
            f"| {mae(mine):.3f} | {obo(mine):.2f} |"
        )
    return lines


def main() -> int:
    logging.disable(logging.WARNING)
    data = Path(sys.argv[1])
    model = sys.argv[2] if len(sys.argv) > 2 else "movenet-lightning"
    groups = sys.argv[3:] or list(GRIDS)
    settings = load_settings(None, overrides={("pose", "model"): model})
    rules = load_catalog(REPO / "rules")
    for i, group in enumerate(groups):
        if i:
            print()
        title, default, grid = GRIDS[group]
        print(f"**{group}** ({title}; shipped {fmt(default)}; a grid of {len(grid)}):")
        print()
        print("\n".join(table(group, data, settings, rules)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
