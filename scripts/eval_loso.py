#!/usr/bin/env python3
"""Leave-one-source-out figures for the referee's data-chosen constants.

The calibration's constants (how far a turning point must come back, how many turning points the
positions are the median of) and the states' levels in travel units (start below, far above,
partial above) were chosen by measuring on the labelled data. This re-chooses them without each
source in turn: for every source (a clip's `source_repo` in the clips manifest, the data set for
pose sequences), the grid value with the lowest MAE on every *other* source is picked and scored
on the left-out one, beside the shipped default. Prints a Markdown section for docs/accuracy.md.

    scripts/eval_loso.py DATA_DIR [MODEL]
"""

from __future__ import annotations

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

#: the shipped choice and the grid around it
DEFAULT = (0.5, 3, (0.35, 0.65, 0.5))
TURNS = (0.35, 0.5, 0.65)
REPS = (3, 5, 9)
LEVELS = ((0.35, 0.65, 0.5), (0.3, 0.7, 0.45), (0.25, 0.75, 0.4))


class Relevelled:
    """The catalogue with the shipped travel levels (0.35, 0.65, 0.5) replaced by others, and every
    calibrated feature reading ``reps`` turning points."""

    def __init__(self, catalog, levels, reps: int):
        self.catalog = catalog
        self.levels = dict(zip(DEFAULT[2], levels, strict=True))
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


def run(data: Path, settings, combo) -> list:
    turn, reps, levels = combo
    calibrate.TURN = turn
    catalog = Relevelled(load_catalog(REPO / "rules"), levels, reps)
    try:
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
    finally:
        calibrate.TURN = DEFAULT[0]
    return [r for r in (*clips, *seqs) if r.scored and not r.is_hold]


def mae(results) -> float:
    return float(np.mean([r.rel_err for r in results])) if results else float("nan")


def obo(results) -> float:
    return float(np.mean([r.abs_err <= 1 for r in results])) if results else float("nan")


def main() -> int:
    logging.disable(logging.WARNING)
    data = Path(sys.argv[1])
    model = sys.argv[2] if len(sys.argv) > 2 else "movenet-lightning"
    settings = load_settings(None, overrides={("pose", "model"): model})
    combos = list(itertools.product(TURNS, REPS, LEVELS))
    assert DEFAULT in combos
    by_combo = {c: run(data, settings, c) for c in combos}
    sources = sorted({r.source for r in by_combo[DEFAULT]}, key=lambda s: (s in ("RepCount-A", "Countix"), s))
    rows = []
    for held in sources:
        rest = {c: [r for r in rs if r.source != held] for c, rs in by_combo.items()}
        best = min(combos, key=lambda c: (mae(rest[c]), c != DEFAULT))
        mine = [r for r in by_combo[best] if r.source == held]
        shipped = [r for r in by_combo[DEFAULT] if r.source == held]
        rows.append((held, len(mine), best, mae(shipped), obo(shipped), mae(mine), obo(mine)))
    print(
        "| left out | clips | chosen without it (turn, turning points, levels) | MAE shipped | OBO shipped "
        "| MAE left out | OBO left out |"
    )
    print("|---|---:|---|---:|---:|---:|---:|")
    for held, n, best, m0, o0, m1, o1 in rows:
        turn, reps, lv = best
        print(
            f"| {held} | {n} | {turn:g}, {reps}, {lv[0]:g}/{lv[1]:g}/{lv[2]:g} | {m0:.3f} | {o0:.2f} | {m1:.3f} | {o1:.2f} |"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
