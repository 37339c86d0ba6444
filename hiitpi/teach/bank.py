"""The candidate features a demonstration is searched for: the feature types of the rules format
(joint angles, a segment's tilt, normalised heights and distances), on the body parts that move in
home workouts, each with the body part it is named by and the camera views it can be trusted in.

A candidate is an ordinary `FeatureSpec`, so what the teacher measures on the demonstration is
exactly what the referee will measure in a session (`hiitpi.referee.features.Feature` computes
both). ``series`` measures every candidate on a stream of poses at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.referee.features import BodyScale, FeatureSpec, make_feature

#: views where a tilt, an offset or a height measured along the image's vertical means what it
#: says: seen from the front the torso points at the camera and its tilt is noise
SIDE_VIEWS: tuple[str, ...] = ("side", "oblique")


@dataclass(frozen=True)
class Candidate:
    """A feature the teacher may choose: its key, the spec (a rules file's inline table), the
    body part it is said as ("knees"), and what it describes (the comment in the rules file)."""

    key: str
    spec: dict
    part: str
    what: str

    def feature_spec(self, **update) -> FeatureSpec:
        return FeatureSpec.model_validate({**self.spec, **update})


def _c(key: str, part: str, what: str, **spec) -> Candidate:
    return Candidate(key, spec, part, what)


#: The search space. Angles and heights on both sides are read with ``side = "min"``/``"max"`` too,
#: so an alternating movement (lunges, high knees) is one cycle per side and counts each side once.
CANDIDATES: tuple[Candidate, ...] = (
    _c("knee", "knees", "knee bend, both legs averaged (degrees)", type="angle",
       points=["hip", "knee", "ankle"], side="mean"),
    _c("front_knee", "knees", "the more bent knee (degrees)", type="angle",
       points=["hip", "knee", "ankle"], side="min"),
    _c("hip", "hips", "hip bend, shoulder - hip - knee, both sides averaged (degrees)", type="angle",
       points=["shoulder", "hip", "knee"], side="mean"),
    _c("hip_flex", "hips", "the more bent hip, shoulder - hip - knee (degrees)", type="angle",
       points=["shoulder", "hip", "knee"], side="min"),
    _c("elbow", "elbows", "elbow bend, both arms averaged (degrees)", type="angle",
       points=["shoulder", "elbow", "wrist"], side="mean"),
    _c("bent_elbow", "elbows", "the more bent elbow (degrees)", type="angle",
       points=["shoulder", "elbow", "wrist"], side="min"),
    _c("arm_raise", "arms", "arm raised from the side, hip - shoulder - elbow, both averaged (degrees)",
       type="angle", points=["hip", "shoulder", "elbow"], side="mean"),
    _c("torso", "torso", "torso lean from vertical (degrees)", type="tilt",
       points=["mid_shoulder", "mid_hip"], views=list(SIDE_VIEWS)),
    _c("stand", "body height", "shoulder height above the ankles, a share of the standing height",
       type="height", points=["shoulder", "ankle"], side="mean", scale="none", relative="peak",
       peak_half_life_s=8.0, min_score=0.1),
    _c("hands", "hands", "hands above the shoulders, in torso lengths", type="height",
       points=["wrist", "shoulder"], side="mean"),
    _c("knee_lift", "knees", "the higher knee above its hip, in torso lengths", type="height",
       points=["knee", "hip"], side="max"),
    _c("hips_over_knees", "hips", "hips above the knees, in torso lengths", type="height",
       points=["mid_hip", "mid_knee"]),
    _c("chest", "chest", "shoulders above the hands, in torso lengths", type="height",
       points=["shoulder", "wrist"], side="best", views=list(SIDE_VIEWS)),
    _c("feet", "feet", "feet apart, in torso lengths", type="distance",
       points=["left_ankle", "right_ankle"], axis="x"),
    _c("feet_wide", "feet", "feet apart, in hip widths", type="distance",
       points=["left_ankle", "right_ankle"], scale="hips"),
    _c("hands_apart", "hands", "hands apart, in torso lengths", type="distance",
       points=["left_wrist", "right_wrist"], axis="x"),
    _c("hip_line", "hips", "hips below the shoulder - ankle line, in torso lengths", type="offset",
       points=["shoulder", "hip", "ankle"], side="best", views=list(SIDE_VIEWS)),
    _c("body_line", "hips", "shoulder - hip - ankle, 180 a straight line (degrees)", type="angle",
       points=["shoulder", "hip", "ankle"], side="best"),
)  # fmt: skip

BY_KEY: dict[str, Candidate] = {c.key: c for c in CANDIDATES}

#: The features a rep's trajectory is compared on (the similarity score, `hiitpi.referee.similarity`):
#: one per body part, so the part that deviated most can be named.
SHAPE_KEYS: tuple[str, ...] = (
    "knee", "hip", "elbow", "arm_raise", "torso", "stand", "hands", "feet", "body_line",
)  # fmt: skip


#: for a workout whose sides alternate, these shape features are kept per side too, so a lift of
#: the wrong leg is told from a lift of the right one
SIDED_SHAPE_KEYS: tuple[str, ...] = ("knee", "hip", "elbow", "arm_raise", "stand", "hands")


def one_side(c: Candidate, side: str) -> Candidate:
    """``c`` read on one side only (``side``: left or right), keyed ``<key>_<side>``."""
    return Candidate(f"{c.key}_{side}", {**c.spec, "side": side}, c.part, f"{c.what}, {side} side")


def shape_candidates(alternating: bool = False) -> list[Candidate]:
    """The features a reference's reps are recorded on (and, for alternating sides, each side's own)."""
    out = [BY_KEY[k] for k in SHAPE_KEYS]
    if alternating:
        out += [one_side(BY_KEY[k], side) for k in SIDED_SHAPE_KEYS for side in ("left", "right")]
    return out


def compile_specs(specs: dict[str, FeatureSpec], min_score: float) -> list:
    return [make_feature(spec, min_score) for spec in specs.values()]


def series(
    poses: Sequence[Pose | None],
    times: Sequence[float],
    candidates: Iterable[Candidate] = CANDIDATES,
    min_score: float = 0.2,
) -> dict[str, np.ndarray]:
    """Every candidate measured on every pose: key → float array (NaN where it cannot be measured)."""
    cands = list(candidates)
    specs = {c.key: c.feature_spec() for c in cands}
    for key, spec in specs.items():
        spec._fill(name=key)
    feats = compile_specs(specs, min_score)
    return measure(feats, poses, times, min_score)


def measure(feats: list, poses: Sequence[Pose | None], times: Sequence[float], min_score: float):
    """Compiled features measured on every pose: name → float array (NaN where not measurable)."""
    n = len(poses)
    out = {f.spec.name: np.full(n, np.nan) for f in feats}
    scale = BodyScale(min_score)
    whs = None
    for i, (pose, t) in enumerate(zip(poses, times, strict=True)):
        if pose is None:
            continue
        if whs is None or whs[0] != pose.width or whs[1] != pose.height:
            whs = np.array([pose.width, pose.height, 1.0], dtype=np.float32)
        px = (pose.keypoints * whs).tolist()
        scale.update(px)
        for f in feats:
            v = f.compute(px, scale, t)
            if v is not None:
                out[f.spec.name][i] = v
    return out
