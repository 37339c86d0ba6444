"""Which features move periodically in a demonstration, and where their cycles are.

Each candidate's series is normalised by its robust range (the 5th to 95th percentile) and cut
into swings at its turning points: a turning point is confirmed once the value has come back from
it by half that range (the calibration's rule, `hiitpi.referee.calibrate`), so noise of less than
half the movement never makes a cycle. The *far* side of a feature is the end away from where the
demonstration starts and ends (people begin and finish standing, arms locked out, feet together);
each far turning point is one rep of that feature.

A movement moves several features together (a squat bends the knees and hips and lowers the
shoulders), and a feature that only shakes does not agree with anything. So a candidate's score is
how many other candidates, on other body parts, turned far at the same moments (`agreement`);
the teacher prefers the candidate most others agree with, then the largest swing for its noise.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass, field

import numpy as np

log = logging.getLogger(__name__)

#: a swing must come back by this share of the feature's robust range to be a turning point
TURN = 0.5
#: the smallest robust range a candidate must have to be called moving, by type and scale
#: (an angle of 20 degrees, a fifth of a torso length, 8 % of the standing height ...)
MIN_RANGE = {
    "angle": 20.0,
    "tilt": 15.0,
    "height": 0.2,
    "height_peak": 0.08,
    "distance": 0.25,
    "distance_hips": 0.8,
    "offset": 0.15,
}
#: longest gap (seconds) bridged by interpolation; a longer one splits the series
MAX_GAP_S = 1.0


def min_range(spec: dict) -> float:
    ftype = spec["type"]
    if ftype == "height" and spec.get("relative") == "peak":
        return MIN_RANGE["height_peak"]
    if ftype == "distance" and spec.get("scale") == "hips":
        return MIN_RANGE["distance_hips"]
    return MIN_RANGE[ftype]


@dataclass
class Swings:
    """One candidate's cycles in a demonstration."""

    key: str
    lo: float  # robust low (5th percentile)
    hi: float  # robust high (95th percentile)
    start_high: bool  # the start position is the high end
    far_t: list[float] = field(default_factory=list)  # times of the far turning points
    far_v: list[float] = field(default_factory=list)  # and their values
    start_t: list[float] = field(default_factory=list)
    start_v: list[float] = field(default_factory=list)
    coverage: float = 0.0
    noise: float = 0.0  # frame-to-frame jitter, as a share of the range
    score: float = 0.0
    agrees_with: list[str] = field(default_factory=list)
    #: how clearly the demo's ends say which end is the start (0: not at all, 0.5: clearly)
    start_weight: float = 0.0
    #: an alternating movement's candidate measured per side (`hiitpi.teach.sides`): the left and
    #: right swings its reps are merged from
    sides: tuple[Swings, Swings] | None = None

    def flipped(self) -> Swings:
        """The same swings with the start and far ends exchanged."""
        return Swings(
            self.key, self.lo, self.hi, not self.start_high, list(self.start_t), list(self.start_v),
            list(self.far_t), list(self.far_v), self.coverage, self.noise, self.score,
            list(self.agrees_with), self.start_weight,
            None if self.sides is None else (self.sides[0].flipped(), self.sides[1].flipped()),
        )  # fmt: skip

    @property
    def range(self) -> float:
        return self.hi - self.lo

    @property
    def count(self) -> int:
        return len(self.far_t)

    @property
    def start_value(self) -> float:
        """The start position: the median of the start-side turning points (else the robust end)."""
        if self.start_v:
            return float(np.median(self.start_v))
        return self.hi if self.start_high else self.lo

    @property
    def far_value(self) -> float:
        if self.far_v:
            return float(np.median(self.far_v))
        return self.lo if self.start_high else self.hi

    @property
    def travel(self) -> float:
        return abs(self.far_value - self.start_value)


def _filled(t: np.ndarray, x: np.ndarray) -> np.ndarray:
    """``x`` with gaps of up to MAX_GAP_S interpolated; longer gaps stay NaN."""
    ok = ~np.isnan(x)
    if ok.sum() < 2:
        return x.copy()
    y = np.interp(t, t[ok], x[ok])
    idx = np.flatnonzero(ok)
    for a, b in itertools.pairwise(idx):
        if b - a > 1 and t[b] - t[a] > MAX_GAP_S:
            y[a + 1 : b] = np.nan
    y[: idx[0]] = np.nan
    y[idx[-1] + 1 :] = np.nan
    return y


def turning_points(t: np.ndarray, z: np.ndarray, turn: float = TURN) -> list[tuple[float, float, bool]]:
    """(time, value, is_high) of each confirmed turning point of ``z`` (NaN splits the series)."""
    out: list[tuple[float, float, bool]] = []
    ext_i = None  # index of the running extreme
    rising: bool | None = None
    lo_i = hi_i = None
    for i in range(len(z)):
        v = z[i]
        if math.isnan(v):
            ext_i = lo_i = hi_i = None
            rising = None
            continue
        if rising is None:
            if lo_i is None:
                lo_i = hi_i = i
                continue
            if v < z[lo_i]:
                lo_i = i
            if v > z[hi_i]:
                hi_i = i
            if v > z[lo_i] + turn and lo_i > hi_i:
                out.append((t[lo_i], z[lo_i], False))
                rising, ext_i = True, i
            elif v < z[hi_i] - turn and hi_i > lo_i:
                out.append((t[hi_i], z[hi_i], True))
                rising, ext_i = False, i
            continue
        if rising:
            if v > z[ext_i]:
                ext_i = i
            elif v < z[ext_i] - turn:
                out.append((t[ext_i], z[ext_i], True))
                rising, ext_i = False, i
        else:
            if v < z[ext_i]:
                ext_i = i
            elif v > z[ext_i] + turn:
                out.append((t[ext_i], z[ext_i], False))
                rising, ext_i = True, i
    return out


def swings(
    key: str,
    spec: dict,
    t: np.ndarray,
    x: np.ndarray,
    use_end: bool = True,
    seen: tuple[float, float] | None = None,
) -> Swings | None:
    """The cycles of one candidate, or None if it does not move enough (or is rarely seen).
    ``seen``: when the person is clearly seen from and until (`clearly_seen`), for where the
    demonstration starts and ends."""
    ok = ~np.isnan(x)
    coverage = float(ok.mean()) if len(x) else 0.0
    if coverage < 0.5 or ok.sum() < 10:
        return None
    lo, hi = np.percentile(x[ok], [5, 95])
    rng = hi - lo
    if rng < min_range(spec):
        return None
    y = _filled(t, x)
    z = (y - lo) / rng
    tps = turning_points(t, z)
    if len(tps) < 2:
        return None
    # where the demonstration starts and ends: the first and last second of what was seen
    # (people start and finish at the start position; ``use_end=False`` for a clip cut short)
    valid = np.flatnonzero(~np.isnan(z))
    t0, t1 = t[valid[0]], t[valid[-1]]
    if seen is not None:
        t0, t1 = max(t0, seen[0]), min(t1, seen[1])
    at_end = (t[valid] >= t1 - 1.0) if use_end else np.zeros(len(valid), dtype=bool)
    ends = z[valid][(t[valid] <= t0 + 1.0) | at_end]
    start_high = bool(np.median(ends) > 0.5)
    s = Swings(key, float(lo), float(hi), start_high, coverage=coverage)
    s.start_weight = float(abs(np.median(ends) - 0.5))
    for tt, v, high in tps:
        value = lo + v * rng
        if high != start_high:
            s.far_t.append(float(tt))
            s.far_v.append(float(value))
        else:
            s.start_t.append(float(tt))
            s.start_v.append(float(value))
    d = np.abs(np.diff(z[valid]))
    s.noise = float(np.median(d)) if len(d) else 0.0
    return s


#: the person is clearly seen where the pose's score, over a quarter second, is at least this
#: share of its median over the clip
CLEAR_SHARE = 0.8
CLEAR_WINDOW_S = 0.25


def clearly_seen(t: np.ndarray, scores: np.ndarray) -> tuple[float, float]:
    """From when until when the person is clearly seen: a title card, a fade or a blurred
    transition at either end of a clip (poses with a low score) is not where the demo starts."""
    if len(t) < 2:
        return float(t[0]) if len(t) else 0.0, float(t[-1]) if len(t) else 0.0
    dt = float(np.median(np.diff(t))) or 1.0
    win = max(1, round(CLEAR_WINDOW_S / dt))
    k = np.ones(win)
    smooth = np.convolve(scores, k, mode="same") / np.convolve(np.ones(len(scores)), k, mode="same")
    ok = np.flatnonzero(smooth >= CLEAR_SHARE * float(np.median(scores)))
    if not len(ok):
        return float(t[0]), float(t[-1])
    return float(t[ok[0]]), float(t[ok[-1]])


def _match(a: list[float], b: list[float], tol: float) -> float:
    """The share of the times in ``a`` that have a time of ``b`` within ``tol``."""
    if not a:
        return 0.0
    if not b:
        return 0.0
    bb = np.asarray(b)
    return float(np.mean([np.min(np.abs(bb - x)) <= tol for x in a]))


def tolerance(times: list[float]) -> float:
    """How close two features' turning points must be to be the same rep: a quarter of the period."""
    if len(times) < 2:
        return 0.4
    return max(0.15, 0.25 * float(np.median(np.diff(times))))


def agreement(a: Swings, b: Swings) -> float:
    """How much ``a`` and ``b`` turn far at the same moments (0..1, symmetric): both ways matched."""
    tol = min(tolerance(a.far_t), tolerance(b.far_t))
    # b's far side may be the other end for a's start rule when its ends were ambiguous
    best = 0.0
    for other in (b.far_t, b.start_t):
        m = min(_match(a.far_t, other, tol), _match(other, a.far_t, tol))
        best = max(best, m)
    return best


#: body parts whose movement carries the body (the trunk, the legs): preferred to the arms, which
#: often move along without being the exercise (dumbbells held, hands balancing)
CORE_PARTS = frozenset({"body height", "hips", "knees", "torso", "feet"})
CORE_BONUS = 0.3


def same_way(a: Swings, b: Swings) -> bool:
    """Whether ``b`` turns far when ``a`` does (rather than turning back to its start then)."""
    tol = min(tolerance(a.far_t), tolerance(b.far_t))
    return _match(a.far_t, b.far_t, tol) >= _match(a.far_t, b.start_t, tol)


def orient(primary: Swings, others: list[Swings]) -> Swings:
    """The primary, its start end decided by a vote of itself and the features that agree with it
    (each weighted by how clearly the demo's ends showed its start): one feature's ends can
    mislead (a clip that starts mid-rep), several rarely all do."""
    vote = primary.start_weight
    for b in others:
        agrees = (
            b.start_high == primary.start_high if same_way(primary, b) else b.start_high != primary.start_high
        )
        vote += b.start_weight if agrees else -b.start_weight
    return primary if vote >= 0 else primary.flipped()


def align(primary: Swings, b: Swings) -> Swings:
    """``b`` with its start end where the primary's is."""
    return b if same_way(primary, b) else b.flipped()


def rank(found: dict[str, Swings], parts: dict[str, str]) -> list[Swings]:
    """Candidates by how many others, on other body parts, agree with their reps (then the trunk
    and legs before the arms, then swing for noise); each one's ``score`` and ``agrees_with``
    filled in."""
    for a in found.values():
        score = 0.0
        a.agrees_with = []
        seen_parts: dict[str, float] = {}
        for b in found.values():
            if b.key == a.key or parts[b.key] == parts[a.key]:
                continue
            m = agreement(a, b)
            if m >= 0.8:
                a.agrees_with.append(b.key)
            seen_parts[parts[b.key]] = max(seen_parts.get(parts[b.key], 0.0), m)
        score = sum(seen_parts.values())
        a.score = score + 0.2 * (1.0 - min(a.noise * 20.0, 1.0))
        if parts[a.key] in CORE_PARTS:
            a.score += CORE_BONUS
    return sorted(found.values(), key=lambda s: (-s.score, s.key))
