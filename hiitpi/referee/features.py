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

from pydantic import ConfigDict, Field, ValidationInfo, field_validator

from hiitpi.pose.types import KEYPOINT_INDEX
from hiitpi.referee.calibrate import CalibrateSpec, Calibrator
from hiitpi.referee.view import VIEWS
from hiitpi.schema import FileModel, Internal, Name, Number, OneOf, Texts

#: Names that take a side: ``knee`` is ``left_knee`` or ``right_knee`` depending on ``side``.
SIDED_PARTS: tuple[str, ...] = ("eye", "ear", "shoulder", "elbow", "wrist", "hip", "knee", "ankle")
#: Midpoints of a left/right pair: ``mid_hip`` is halfway between the hips.
MID_POINTS: tuple[str, ...] = tuple(f"mid_{p}" for p in SIDED_PARTS)

FEATURE_TYPES: dict[str, int] = {"angle": 3, "tilt": 2, "height": 2, "distance": 2, "offset": 3}
#: a feature made of other features (``of``), not of keypoints: the mean of those valid in the
#: current view and visible in this pose
COMBINED_TYPES: tuple[str, ...] = ("mean",)
SIDE_MODES: tuple[str, ...] = ("left", "right", "best", "mean", "min", "max")
SCALES: tuple[str, ...] = ("torso", "shoulders", "hips", "none")
RELATIVE: tuple[str, ...] = ("none", "peak", "range")
AXES: tuple[str, ...] = ("xy", "x", "y")

#: Value ranges a feature type can take; thresholds outside them can never be met.
TYPE_RANGES: dict[str, tuple[float, float]] = {
    "angle": (0.0, 180.0),
    "tilt": (0.0, 90.0),
    "height": (-math.inf, math.inf),
    "distance": (0.0, math.inf),
    "offset": (-math.inf, math.inf),
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


def offset_px(a: Point, m: Point, c: Point) -> float | None:
    """How far M lies below the line through A and C, in pixels (negative: above it).

    "Below" is along the line's normal that points down the image, so the sign does not depend
    on which way the person faces: hips sagging under the shoulder–ankle line of a push-up are
    positive, hips piked above it negative. Meant for lines that are not near vertical.
    """
    dx = c[0] - a[0]
    dy = c[1] - a[1]
    n = math.hypot(dx, dy)
    if n <= 0.0:
        return None
    nx = -dy / n
    ny = dx / n
    if ny < 0.0 or (ny == 0.0 and nx < 0.0):
        nx = -nx
        ny = -ny
    return (m[0] - a[0]) * nx + (m[1] - a[1]) * ny


def tilt_deg(a: Point, b: Point) -> float | None:
    """How far the segment AB leans from vertical, 0 (upright) .. 90 (horizontal)."""
    dx = abs(b[0] - a[0])
    dy = abs(b[1] - a[1])
    if dx == 0.0 and dy == 0.0:
        return None
    return math.degrees(math.atan2(dx, dy))


class BodyScale:
    """Body sizes of one pose in pixels, measured on first use and shared by every feature."""

    __slots__ = ("_hips", "_px", "_shoulders", "_torso", "min_score")

    _LS = KEYPOINT_INDEX["left_shoulder"]
    _RS = KEYPOINT_INDEX["right_shoulder"]
    _LH = KEYPOINT_INDEX["left_hip"]
    _RH = KEYPOINT_INDEX["right_hip"]
    _UNSET = -1.0

    def __init__(self, min_score: float):
        self.min_score = min_score
        self._px: list = []
        self._torso = self._shoulders = self._hips = self._UNSET

    def update(self, px: list[Point]) -> None:
        self._px = px
        self._torso = self._shoulders = self._hips = self._UNSET

    def _pair(self, a: int, b: int) -> float | None:
        pa, pb = self._px[a], self._px[b]
        m = self.min_score
        if pa[2] < m or pb[2] < m:
            return None
        d = math.hypot(pa[0] - pb[0], pa[1] - pb[1])
        return d if d > 1e-6 else None

    @property
    def torso(self) -> float | None:
        """Shoulder-to-hip length, the longer of the two sides seen."""
        if self._torso == self._UNSET:
            a = self._pair(self._LS, self._LH)
            b = self._pair(self._RS, self._RH)
            self._torso = a if b is None else b if a is None else max(a, b)
        return self._torso

    @property
    def shoulders(self) -> float | None:
        if self._shoulders == self._UNSET:
            self._shoulders = self._pair(self._LS, self._RS)
        return self._shoulders

    @property
    def hips(self) -> float | None:
        if self._hips == self._UNSET:
            self._hips = self._pair(self._LH, self._RH)
        return self._hips


class FeatureSpec(FileModel):
    """A number measured on the body, named by its key in `[features]`: a joint angle, a segment's
    tilt, a height, a distance or an offset."""

    model_config = ConfigDict(frozen=True, title="Feature")

    name: Internal[str] = ""
    type: OneOf(*FEATURE_TYPES, *COMBINED_TYPES) = Field(
        title="Type",
        description="What is measured. `angle` (3 points): the angle at the middle point, 0..180 degrees. "
        "`tilt` (2): the segment's lean from vertical, 0 (upright) .. 90 (horizontal). `height` (2): how "
        "far the first point is above the second. `distance` (2): the distance between the points (see "
        "`axis`). `offset` (3): how far the middle point sits below the line through the other two "
        "(negative: above it), whichever way the person faces. Heights, distances and offsets are divided "
        "by `scale`. `mean` (no points): the mean of the calibrated features listed in `of` that are "
        "valid in the current view and visible.",
    )
    points: Texts = Field(
        (),
        title="Points",
        description="The keypoints, in order (3 for angle and offset, 2 otherwise): a COCO name "
        "(`left_knee`), a side-less part (`shoulder`, `elbow`, `wrist`, `hip`, `knee`, `ankle`, `eye`, "
        "`ear`) resolved by `side`, or a midpoint of a pair (`mid_hip`, `mid_shoulder`, ...).",
    )
    side: OneOf(*SIDE_MODES) = Field(
        "best",
        title="Side",
        description="Which side a side-less point uses: `left`, `right`, `best` (the side seen more "
        "confidently, sticky), `mean` of both, or `min`/`max` (the more bent or higher side; the event "
        "says which).",
    )
    scale: OneOf(*SCALES) = Field(
        "torso",
        title="Scale",
        description="What heights, distances and offsets are divided by, so they do not depend on how far "
        "the person stands: `torso` (shoulder-to-hip length), `shoulders` or `hips` (widths), or `none` "
        "(pixels).",
    )
    axis: OneOf(*AXES) = Field(
        "xy",
        title="Axis",
        description="For a distance: measured in the image plane (`xy`), across only (`x`) or up-down only (`y`).",
    )
    min_score: Number(0.0, 1.0) | None = Field(
        None,
        title="Minimum keypoint score",
        description="Keypoints scored below this are not visible for this feature (default: the rule's "
        "`min_score`).",
    )
    relative: OneOf(*RELATIVE) = Field(
        "none",
        title="Relative to",
        description="`none`: the value itself. `peak`: divided by its own recent maximum (e.g. the standing "
        "height), which decays toward the current value with `peak_half_life_s` so camera moves are "
        "followed; thresholds are then at most 1. `range`: where the value sits between its recent low (0) "
        "and high (1); thresholds are then 0..1.",
    )
    peak_half_life_s: Number(0.5, 3600.0, unit="seconds") = Field(
        30.0,
        title="Peak half-life",
        description="With `relative`: how fast the remembered peak (or low and high) decays toward the "
        "current value, in seconds.",
    )
    min_range: Number(0.0, 1e6) = Field(
        0.0,
        title="Minimum range",
        description='With `relative = "range"`: below this spread between low and high (in the feature\'s '
        "own units) the person is not moving enough and the feature is not measured.",
    )

    views: Texts = Field(
        (),
        title="Views",
        description="The camera views the feature can be trusted in (`front`, `oblique`, `side`, `above`; "
        "default: all). In another view (read from the body: shoulder and hip widths, torso "
        "foreshortening) conditions and checks on it are left out, and a state that needs it cannot be "
        "told: a torso tilt seen from the front, a hip line seen from above.",
    )
    calibrate: CalibrateSpec | None = Field(
        None,
        title="Calibrate",
        description="`{ start = ..., far = ..., min_travel = ..., max_travel = ... }`: measure the feature "
        "in the person's own travel, 0 at their start position and 1 at their far position (the medians "
        "of their recent turning points), so thresholds are shares of the way (`above = 0.7`). The travel "
        "is clamped to `min_travel`..`max_travel` in the feature's units.",
    )
    plausible_min: Number() | None = Field(
        None,
        title="Plausible minimum",
        description="A value below this cannot be the body in this exercise (an elbow closed past its "
        "anatomical limit, a knee folded over the shoulders): the pose is a pose-model glitch and the "
        "referee treats that frame as if nobody had been seen. In the feature's own units, before "
        "calibration.",
    )
    plausible_max: Number() | None = Field(
        None,
        title="Plausible maximum",
        description="A value above this cannot be the body in this exercise: as `plausible_min`.",
    )
    of: Texts = Field(
        (),
        title="Of",
        description='For `type = "mean"`: the calibrated features it averages (`["knee", "stand"]`).',
    )
    fallback: Name | None = Field(
        None,
        title="Fallback",
        description="A feature that stands in when this one cannot be measured (a point it needs is not "
        "seen: the feet out of the frame): its value is used in this one's place, in a mean too. Both "
        "calibrated, or neither; it is measured and calibrated on its own all along.",
    )

    @field_validator("points")
    @classmethod
    def _points_fit_the_type(cls, points: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        problems = [p for p in map(check_point_name, points) if p]
        ftype = info.data.get("type")
        if ftype in FEATURE_TYPES and len(points) != FEATURE_TYPES[ftype]:
            problems.insert(0, f"a '{ftype}' feature needs {FEATURE_TYPES[ftype]} points, got {len(points)}")
        if ftype in COMBINED_TYPES and points:
            problems.insert(0, f"a '{ftype}' feature is made of other features (`of`), not of points")
        if problems:
            raise ValueError("; ".join(problems))
        return points

    @field_validator("views")
    @classmethod
    def _known_views(cls, views: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in views if v not in VIEWS]
        if bad:
            raise ValueError(f"unknown view {', '.join(map(repr, bad))}; views: {', '.join(VIEWS)}")
        return views

    @field_validator("of")
    @classmethod
    def _of_needs_mean(cls, of: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        ftype = info.data.get("type")
        if ftype in COMBINED_TYPES and not of:
            raise ValueError(f"a '{ftype}' feature needs the features it is made of")
        if ftype not in COMBINED_TYPES and of:
            raise ValueError(f'`of` applies only to type = "{COMBINED_TYPES[0]}"')
        return of

    @field_validator("min_range")
    @classmethod
    def _min_range_needs_range(cls, v: float, info: ValidationInfo) -> float:
        if info.data.get("relative", "none") != "range":
            raise ValueError('min_range applies only to relative = "range"')
        return v

    @property
    def sided(self) -> bool:
        return any(point_needs_side(p) for p in self.points)

    @property
    def unit(self) -> float:
        """A typical change of the value over one movement: margins between states are in these."""
        if self.calibrate is not None or self.type in COMBINED_TYPES or self.relative == "range":
            return 1.0
        if self.relative == "peak":
            return 0.5
        if self.type in ("angle", "tilt"):
            return 90.0
        return 100.0 if self.scale == "none" else 1.0

    def valid_in(self, view: str | None) -> bool:
        """Whether the feature can decide anything in ``view`` (None: the view is not known yet)."""
        return view is None or not self.views or view in self.views

    @property
    def value_range(self) -> tuple[float, float]:
        """The thresholds that mean something for this feature: outside them one can never be met
        (for a calibrated feature, shares of the person's travel)."""
        if self.relative == "range" or self.calibrate is not None or self.type in COMBINED_TYPES:
            return 0.0, 1.0
        lo, hi = TYPE_RANGES[self.type]
        return (lo, 1.0) if self.relative == "peak" else (lo, hi)


def _point_ref(name: str, side: str | None) -> int | tuple[int, int]:
    """A keypoint index, or a (left, right) index pair for a midpoint."""
    if name in SIDED_PARTS:
        name = f"{side}_{name}"
    if name.startswith("mid_"):
        return (KEYPOINT_INDEX["left_" + name[4:]], KEYPOINT_INDEX["right_" + name[4:]])
    return KEYPOINT_INDEX[name]


_ANGLE, _TILT, _HEIGHT, _DISTANCE, _OFFSET = range(5)
_TYPE_CODE = {"angle": _ANGLE, "tilt": _TILT, "height": _HEIGHT, "distance": _DISTANCE, "offset": _OFFSET}


class Feature:
    """A compiled feature: ``compute(px, scale, t)`` returns its value (or None) and sets ``side``."""

    __slots__ = (
        "_axis",
        "_cal",
        "_code",
        "_half_life",
        "_low",
        "_min_range",
        "_mode",
        "_ms",
        "_npoints",
        "_peak",
        "_peak_t",
        "_refs",
        "_relative",
        "_scale_attr",
        "_sticky",
        "seen",
        "side",
        "spec",
    )

    def __init__(self, spec: FeatureSpec, min_score: float):
        self.spec = spec
        self._ms = spec.min_score if spec.min_score is not None else min_score
        self.side: str | None = None
        self._sticky: str = "left"
        if not spec.sided:
            sides: tuple = (None,)
        elif spec.side in ("left", "right"):
            sides = (spec.side,)
        else:
            sides = ("left", "right")
        self._refs = [(s, tuple(_point_ref(p, s) for p in spec.points)) for s in sides]
        self._scale_attr = None if spec.scale == "none" else spec.scale
        self._code = _TYPE_CODE[spec.type]
        self._axis = spec.axis
        # what compute() reads on every pose, copied from the spec (a slot is faster to read)
        self._relative = spec.relative
        self._half_life = spec.peak_half_life_s
        self._min_range = spec.min_range
        self._mode = spec.side
        self._npoints = len(spec.points)
        self._peak: float | None = None
        self._low: float | None = None
        self._peak_t = 0.0
        self._cal = Calibrator(spec.calibrate) if spec.calibrate is not None else None
        self.seen = {"left": False, "right": False}

    def reset(self) -> None:
        self.side = None
        #: which sides could be measured since the referee last cleared it (after each rep)
        self.seen = {"left": False, "right": False}
        self._sticky = "left"
        self._peak = None
        self._low = None
        self._peak_t = 0.0
        if self._cal is not None:
            self._cal.reset()

    @property
    def calibrator(self) -> Calibrator | None:
        """The person's travel for a calibrated feature (the referee applies it to `compute`)."""
        return self._cal

    @property
    def two_sided(self) -> bool:
        """Measured on both sides and one chosen (best, min, max), so `side` and `seen` say which."""
        return len(self._refs) == 2

    def compute(self, px: list[Point], sc: BodyScale, t: float = 0.0) -> float | None:
        """The value, relative to its peak or range if asked, before any calibration."""
        v = self._compute(px, sc)
        if v is None or self._relative == "none":
            return v
        if self._relative == "range":
            return self._in_range(v, t)
        # relative to its own recent peak: the reference rises at once, and sinks toward the
        # current value with a half-life, so a person who steps back is followed within seconds
        peak = self._peak
        if peak is None or v >= peak:
            self._peak = v
        else:
            dt = t - self._peak_t
            if dt > 0:
                peak -= (peak - v) * (1.0 - 0.5 ** (dt / self._half_life))
                self._peak = peak
        self._peak_t = t
        return v / self._peak if self._peak > 1e-9 else None

    def _in_range(self, v: float, t: float) -> float | None:
        hi, lo = self._peak, self._low
        if hi is None or lo is None:
            self._peak = self._low = v
            self._peak_t = t
            return None
        dt = t - self._peak_t
        k = 1.0 - 0.5 ** (dt / self._half_life) if dt > 0 else 0.0
        hi = v if v >= hi else hi - (hi - v) * k
        lo = v if v <= lo else lo + (v - lo) * k
        self._peak, self._low, self._peak_t = hi, lo, t
        span = hi - lo
        if span < self._min_range or span <= 1e-9:
            return None
        return (v - lo) / span

    def _one(self, refs: tuple, px: list[Point], sc: BodyScale) -> tuple[float | None, float]:
        ms = self._ms
        pts = []
        score = 0.0
        for r in refs:
            if r.__class__ is int:
                p = px[r]
                if p[2] < ms:
                    return None, 0.0
            else:
                a = px[r[0]]
                b = px[r[1]]
                if a[2] < ms or b[2] < ms:
                    return None, 0.0
                p = ((a[0] + b[0]) * 0.5, (a[1] + b[1]) * 0.5, a[2] if a[2] < b[2] else b[2])
            pts.append(p)
            score += p[2]
        code = self._code
        if code == _ANGLE:
            return angle_deg(pts[0], pts[1], pts[2]), score
        if code == _TILT:
            return tilt_deg(pts[0], pts[1]), score
        if self._scale_attr is None:
            s = 1.0
        else:
            s = getattr(sc, self._scale_attr)
            if s is None:
                return None, score
        a = pts[0]
        b = pts[1]
        if code == _OFFSET:
            o = offset_px(a, b, pts[2])
            return (None if o is None else o / s), score
        if code == _HEIGHT:
            return (b[1] - a[1]) / s, score
        axis = self._axis
        if axis == "x":
            return abs(a[0] - b[0]) / s, score
        if axis == "y":
            return abs(a[1] - b[1]) / s, score
        return math.hypot(a[0] - b[0], a[1] - b[1]) / s, score

    def _compute(self, px: list[Point], sc: BodyScale) -> float | None:
        refs = self._refs
        if len(refs) == 1:
            self.side = refs[0][0]
            return self._one(refs[0][1], px, sc)[0]
        lv, ls = self._one(refs[0][1], px, sc)
        rv, rs = self._one(refs[1][1], px, sc)
        if lv is not None:
            self.seen["left"] = True
        if rv is not None:
            self.seen["right"] = True
        mode = self._mode
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
        n = self._npoints
        if self._sticky == "left" and rs > ls + 0.15 * n:
            self._sticky = "right"
        elif self._sticky == "right" and ls > rs + 0.15 * n:
            self._sticky = "left"
        self.side = self._sticky
        return lv if self._sticky == "left" else rv


class MeanFeature:
    """A feature of type "mean": the referee averages its inputs (``spec.of``) after measuring them."""

    __slots__ = ("seen", "side", "spec")

    def __init__(self, spec: FeatureSpec):
        self.spec = spec
        self.side: str | None = None
        self.seen = {"left": False, "right": False}

    def reset(self) -> None:
        self.side = None

    @property
    def calibrator(self) -> None:
        return None


def make_feature(spec: FeatureSpec, min_score: float) -> Feature | MeanFeature:
    """The compiled feature for ``spec``."""
    return MeanFeature(spec) if spec.type in COMBINED_TYPES else Feature(spec, min_score)
