"""Features the rules watch, computed from one pose in pixels.

A feature is a number measured on the body: a joint angle, the tilt of a segment from vertical,
how far one point is above another, or a distance — the last two normalised by a body size
(torso length by default) so they do not depend on how far the person stands from the camera.

Points are COCO keypoint names (``left_knee``), side-less names (``knee``) that a feature's
``side`` setting resolves, or midpoints (``mid_hip``). A point whose score is below the rule's
``min_score`` is not visible and a feature that needs it is ``None`` for that pose.

Everything here is plain Python on floats: the referee must handle tens of thousands of poses
per second, and per-element numpy indexing would cost more than the arithmetic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from hiitpi.pose.types import KEYPOINT_INDEX

#: Names that take a side: ``knee`` is ``left_knee`` or ``right_knee`` depending on ``side``.
SIDED_PARTS: tuple[str, ...] = ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
#: Midpoints of a left/right pair: ``mid_hip`` is halfway between the hips.
MID_POINTS: tuple[str, ...] = tuple(f"mid_{p}" for p in SIDED_PARTS)

FEATURE_TYPES: dict[str, int] = {"angle": 3, "tilt": 2, "height": 2, "distance": 2}
SIDE_MODES: tuple[str, ...] = ("left", "right", "best", "mean", "min", "max")
SCALES: tuple[str, ...] = ("torso", "shoulders", "hips", "none")
RELATIVE: tuple[str, ...] = ("none", "peak")
AXES: tuple[str, ...] = ("xy", "x", "y")

#: Value ranges a feature type can take; thresholds outside them can never be met.
TYPE_RANGES: dict[str, tuple[float, float]] = {
    "angle": (0.0, 180.0),
    "tilt": (0.0, 90.0),
    "height": (-math.inf, math.inf),
    "distance": (0.0, math.inf),
}

Point = tuple[float, float, float]  # x px, y px, score


def known_point_names() -> list[str]:
    return [*KEYPOINT_INDEX, *SIDED_PARTS, *MID_POINTS]


def point_needs_side(name: str) -> bool:
    return name in SIDED_PARTS


def check_point_name(name: str) -> str | None:
    """None if ``name`` is a usable point, else what is wrong with it."""
    if name in KEYPOINT_INDEX or name in SIDED_PARTS or name in MID_POINTS:
        return None
    return f"unknown keypoint '{name}'; use a COCO name (left_knee), a side-less part ({', '.join(SIDED_PARTS)}) or mid_<part>"


def _resolver(name: str, side: str | None, min_score: float) -> Callable[[list[Point]], Point | None]:
    """A function returning the (x, y, score) of a named point in a pose, or None if hidden."""
    if name in SIDED_PARTS:
        name = f"{side}_{name}"
    if name.startswith("mid_"):
        li = KEYPOINT_INDEX["left_" + name[4:]]
        ri = KEYPOINT_INDEX["right_" + name[4:]]

        def mid(px: list[Point]) -> Point | None:
            a = px[li]
            b = px[ri]
            if a[2] < min_score or b[2] < min_score:
                return None
            return ((a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5, min(a[2], b[2]))

        return mid
    idx = KEYPOINT_INDEX[name]

    def single(px: list[Point]) -> Point | None:
        p = px[idx]
        return p if p[2] >= min_score else None

    return single


def angle_deg(a: Point, b: Point, c: Point) -> float | None:
    """The angle ABC at B in degrees, 0..180."""
    v1x = a[0] - b[0]
    v1y = a[1] - b[1]
    v2x = c[0] - b[0]
    v2y = c[1] - b[1]
    d = math.hypot(v1x, v1y) * math.hypot(v2x, v2y)
    if d <= 0.0:
        return None
    cos = (v1x * v2x + v1y * v2y) / d
    return math.degrees(math.acos(-1.0 if cos < -1.0 else 1.0 if cos > 1.0 else cos))


def tilt_deg(a: Point, b: Point) -> float | None:
    """How far the segment AB leans from vertical, 0 (upright) .. 90 (horizontal)."""
    dx = abs(b[0] - a[0])
    dy = abs(b[1] - a[1])
    if dx == 0.0 and dy == 0.0:
        return None
    return math.degrees(math.atan2(dx, dy))


class BodyScale:
    """Body sizes of one pose in pixels, computed once and shared by every feature."""

    __slots__ = ("hips", "min_score", "shoulders", "torso")

    _LS = KEYPOINT_INDEX["left_shoulder"]
    _RS = KEYPOINT_INDEX["right_shoulder"]
    _LH = KEYPOINT_INDEX["left_hip"]
    _RH = KEYPOINT_INDEX["right_hip"]

    def __init__(self, min_score: float):
        self.min_score = min_score
        self.torso: float | None = None
        self.shoulders: float | None = None
        self.hips: float | None = None

    def update(self, px: list[Point]) -> None:
        m = self.min_score
        ls, rs, lh, rh = px[self._LS], px[self._RS], px[self._LH], px[self._RH]
        best = 0.0
        if ls[2] >= m and lh[2] >= m:
            best = math.hypot(ls[0] - lh[0], ls[1] - lh[1])
        if rs[2] >= m and rh[2] >= m:
            best = max(best, math.hypot(rs[0] - rh[0], rs[1] - rh[1]))
        self.torso = best if best > 1e-6 else None
        self.shoulders = math.hypot(ls[0] - rs[0], ls[1] - rs[1]) if ls[2] >= m and rs[2] >= m else None
        self.hips = math.hypot(lh[0] - rh[0], lh[1] - rh[1]) if lh[2] >= m and rh[2] >= m else None
        if self.shoulders is not None and self.shoulders < 1e-6:
            self.shoulders = None
        if self.hips is not None and self.hips < 1e-6:
            self.hips = None


@dataclass(frozen=True, slots=True)
class FeatureSpec:
    """A validated feature definition from a rules file."""

    name: str
    type: str
    points: tuple[str, ...]
    side: str = "best"
    scale: str = "torso"
    axis: str = "xy"
    min_score: float | None = None  # None: the rule's min_score
    #: "peak": divide by the feature's own recent maximum (e.g. standing height), decaying
    #: toward the current value with ``peak_half_life_s`` so the reference follows the person.
    relative: str = "none"
    peak_half_life_s: float = 30.0

    @property
    def sided(self) -> bool:
        return any(point_needs_side(p) for p in self.points)


class Feature:
    """A compiled feature: ``compute(px, scale)`` returns its value (or None) and sets ``side``."""

    __slots__ = ("_fns", "_measure", "_peak", "_peak_t", "_scale_attr", "_sticky", "side", "spec")

    def __init__(self, spec: FeatureSpec, min_score: float):
        self.spec = spec
        ms = spec.min_score if spec.min_score is not None else min_score
        self.side: str | None = None
        self._sticky: str = "left"
        sides = ("left", "right") if spec.sided else (None,)
        self._fns = [(s, [_resolver(p, s, ms) for p in spec.points]) for s in sides]
        self._scale_attr = None if spec.scale == "none" else spec.scale
        self._measure = self._measurer()
        self._peak: float | None = None
        self._peak_t = 0.0

    def reset(self) -> None:
        self.side = None
        self._sticky = "left"
        self._peak = None
        self._peak_t = 0.0

    def compute(self, px: list[Point], sc: BodyScale, t: float = 0.0) -> float | None:
        v = self._compute(px, sc)
        if v is None or self.spec.relative == "none":
            return v
        # relative to its own recent peak: the reference rises at once, and sinks toward the
        # current value with a half-life, so a person who steps back is followed within seconds
        peak = self._peak
        if peak is None or v >= peak:
            self._peak = v
        else:
            dt = t - self._peak_t
            if dt > 0:
                peak -= (peak - v) * (1.0 - 0.5 ** (dt / self.spec.peak_half_life_s))
                self._peak = peak
        self._peak_t = t
        return v / self._peak if self._peak > 1e-9 else None

    def _measurer(self) -> Callable[[list[Point], BodyScale], float | None]:
        t = self.spec.type
        scale_attr = self._scale_attr
        if t == "angle":
            return lambda pts, sc: angle_deg(pts[0], pts[1], pts[2])
        if t == "tilt":
            return lambda pts, sc: tilt_deg(pts[0], pts[1])
        if t == "height":

            def height(pts: Sequence[Point], sc: BodyScale) -> float | None:
                s = getattr(sc, scale_attr) if scale_attr else 1.0
                if s is None:
                    return None
                return (pts[1][1] - pts[0][1]) / s

            return height
        axis = self.spec.axis

        def distance(pts: Sequence[Point], sc: BodyScale) -> float | None:
            s = getattr(sc, scale_attr) if scale_attr else 1.0
            if s is None:
                return None
            dx = pts[0][0] - pts[1][0]
            dy = pts[0][1] - pts[1][1]
            if axis == "x":
                return abs(dx) / s
            if axis == "y":
                return abs(dy) / s
            return math.hypot(dx, dy) / s

        return distance

    def _one(self, fns: list, px: list[Point], sc: BodyScale) -> tuple[float | None, float]:
        pts = []
        score = 0.0
        for fn in fns:
            p = fn(px)
            if p is None:
                return None, 0.0
            pts.append(p)
            score += p[2]
        return self._measure(pts, sc), score

    def _compute(self, px: list[Point], sc: BodyScale) -> float | None:
        fns = self._fns
        if len(fns) == 1:
            self.side = None
            return self._one(fns[0][1], px, sc)[0]
        lv, ls = self._one(fns[0][1], px, sc)
        rv, rs = self._one(fns[1][1], px, sc)
        mode = self.spec.side
        if mode == "left":
            self.side = "left"
            return lv
        if mode == "right":
            self.side = "right"
            return rv
        if lv is None and rv is None:
            self.side = None
            return None
        if lv is None:
            self.side = "right"
            return rv
        if rv is None:
            self.side = "left"
            return lv
        if mode == "mean":
            self.side = None
            return (lv + rv) * 0.5
        if mode == "max":
            if lv >= rv:
                self.side = "left"
                return lv
            self.side = "right"
            return rv
        if mode == "min":
            if lv <= rv:
                self.side = "left"
                return lv
            self.side = "right"
            return rv
        # best: the side seen with more confidence, sticky so a near-tie does not flip-flop
        n = len(self.spec.points)
        if self._sticky == "left" and rs > ls + 0.15 * n:
            self._sticky = "right"
        elif self._sticky == "right" and ls > rs + 0.15 * n:
            self._sticky = "left"
        self.side = self._sticky
        return lv if self._sticky == "left" else rv
