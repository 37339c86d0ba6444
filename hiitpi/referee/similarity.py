"""How close a rep came to the reference: a score 0–100 and the body part that deviated most.

A rep's trajectory (each reference feature from the rep's start to its end) and every recorded
rep of the reference in the same camera view are resampled to the same number of points, so a
slow and a fast rep of the same shape compare alike, and aligned by dynamic time warping within a
band (a quarter of the rep): a pause at the bottom or a quick way up does not count against form
either. A feature's difference is measured in its ``scale`` (the reference's own range of that
feature, with a floor), so knees and hands weigh alike, and counts at most one scale. The distance is the root mean square difference along
the warped path, over the features valid in the view; the score is ``100 * (1 - d)``, floored at 0
(a rep one full range away from the reference, all the way, scores 0), against the closest
recorded rep. The part named is the one with the largest difference along that path. A reference
of a workout whose sides alternate keeps each rep's side and each side's own features: a rep is
compared with the reps of the side the alternation calls for (the other one from the rep before),
so the same leg lifted twice scores lower than a lift of the leg that was due.

`RepScorer` is the referee's hook (`Referee.scorer`): it keeps a buffer of the feature values of
the last frames and scores each rep and no-rep the referee calls, setting the event's
``similarity`` and ``deviation``.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass

import numpy as np

from hiitpi.referee.events import RefEvent
from hiitpi.referee.features import BodyScale, make_feature
from hiitpi.referee.reference import Reference

log = logging.getLogger(__name__)

#: the warping band, as a share of the points
BAND = 0.25
#: a feature seen in less than this share of a rep is left out of its score
MIN_SEEN = 0.7
#: how long the buffer keeps frames (seconds): longer than any rep a rules file allows
BUFFER_S = 90.0
#: the views a reference may stand in for when none was recorded in the person's view
NEAR_VIEWS = {"side": ("oblique",), "oblique": ("side", "front"), "front": ("oblique",), "above": ()}
#: a feature's difference counts up to this many scales: one part far off lowers the score, it
#: does not take it all
CLIP = 1.0


@dataclass(frozen=True)
class Similarity:
    score: float  # 0..100
    deviation: str | None  # the body part that deviated most ("knees")
    distance: float  # the RMS difference in scale units
    view: str | None  # the view of the reference reps compared with


def resample(values: np.ndarray, points: int) -> np.ndarray | None:
    """``values`` (n,) at ``points`` evenly spaced positions, NaNs interpolated; None if too little was seen."""
    n = len(values)
    ok = ~np.isnan(values)
    if n == 0 or ok.mean() < MIN_SEEN or ok.sum() < 2:
        return None
    x = np.linspace(0.0, 1.0, n)
    return np.interp(np.linspace(0.0, 1.0, points), x[ok], values[ok])


def dtw(a: np.ndarray, b: np.ndarray, band: float = BAND) -> tuple[float, np.ndarray]:
    """Dynamic time warping of ``a`` and ``b`` ((points, features) each, already scaled) within a
    Sakoe-Chiba band: (mean squared difference along the path, per-feature mean squared difference)."""
    n, m = len(a), len(b)
    w = max(1, math.ceil(band * max(n, m)))
    diff = np.minimum(np.abs(a[:, None, :] - b[None, :, :]), CLIP) ** 2
    cost = diff.mean(axis=2)
    acc = np.full((n + 1, m + 1), np.inf)
    steps = np.zeros((n + 1, m + 1), dtype=np.int32)
    acc[0, 0] = 0.0
    for i in range(1, n + 1):
        lo, hi = max(1, i - w), min(m, i + w)
        for j in range(lo, hi + 1):
            choices = (acc[i - 1, j - 1], acc[i - 1, j], acc[i, j - 1])
            k = int(np.argmin(choices))
            acc[i, j] = cost[i - 1, j - 1] + choices[k]
            steps[i, j] = k
    # walk the path back for its length and per-feature differences
    i, j = n, m
    per = np.zeros(a.shape[1])
    length = 0
    while i > 0 and j > 0:
        per += np.minimum(np.abs(a[i - 1] - b[j - 1]), CLIP) ** 2
        length += 1
        k = steps[i, j]
        if k == 0:
            i, j = i - 1, j - 1
        elif k == 1:
            i -= 1
        else:
            j -= 1
    return float(acc[n, m] / length), per / length


def score_trajectory(
    traj: dict[str, np.ndarray],
    ref: Reference,
    view: str | None,
    valid: dict[str, tuple[str, ...]],
    side: str | None = None,
) -> Similarity | None:
    """Score one rep's raw trajectory (feature → values over the rep) against ``ref``.

    ``valid``: feature → the views it can be trusted in (empty: all). ``side``: the side this rep
    should have moved (an alternating reference: it is compared with that side's reps only). None
    if the reference has no rep in this (or a nearby) view, or no feature could be compared."""
    views = [view] if view in ref.views else []
    if not views:
        views = [v for v in NEAR_VIEWS.get(view or "", ()) if v in ref.views]
    if not views and view is None:
        views = list(ref.views)
    if not views:
        return None
    ref_view = views[0]
    keys = [
        k
        for k in ref.features
        if k in traj
        and (not valid.get(k) or (view or ref_view) in valid[k])
        and (not valid.get(k) or ref_view in valid[k])
    ]
    rep = {}
    for k in keys:
        r = resample(np.asarray(traj[k], dtype=float), ref.points)
        if r is not None:
            rep[k] = r / ref.scale[k]
    best: Similarity | None = None
    reps = ref.views[ref_view]
    if side is not None and any(rr.side == side for rr in reps):
        reps = [rr for rr in reps if rr.side == side]
    for rr in reps:
        common = [k for k in rep if k in rr.values and _seen(rr.values[k])]
        if not common:
            continue
        a = np.stack([rep[k] for k in common], axis=1)
        b = np.stack([_filled(rr.values[k]) / ref.scale[k] for k in common], axis=1)
        msd, per = dtw(a, b)
        d = math.sqrt(msd)
        if best is None or d < best.distance:
            parts: dict[str, float] = {}
            for k, v in zip(common, per, strict=True):
                part = ref.parts.get(k, k)
                parts[part] = max(parts.get(part, 0.0), float(v))
            worst = max(parts, key=parts.get) if parts else None
            best = Similarity(round(max(0.0, 100.0 * (1.0 - d)), 1), worst, d, ref_view)
    return best


def _seen(vs: list) -> bool:
    return sum(v is not None for v in vs) >= 2


def _filled(vs: list) -> np.ndarray:
    x = np.array([np.nan if v is None else v for v in vs], dtype=float)
    ok = ~np.isnan(x)
    idx = np.arange(len(x))
    return np.interp(idx, idx[ok], x[ok])


class Alternation:
    """Which side each rep of an alternating workout should have moved: the other side from the
    rep before it (the first rep: its own side). Events without a side expect none."""

    def __init__(self) -> None:
        self.last: str | None = None

    def expect(self, ev: RefEvent) -> str | None:
        """The side ``ev`` (a rep or no-rep) is compared with; a rep moves the alternation on."""
        if ev.side is None:
            return None
        side = ev.side if self.last is None else ("right" if self.last == "left" else "left")
        if ev.kind == "rep":
            self.last = ev.side
        return side

    @classmethod
    def expected_sides(cls, events: list[RefEvent]) -> dict[int, str | None]:
        """``id(event)`` → the side each rep and no-rep of a session (in order) is compared with."""
        alt = cls()
        return {id(e): alt.expect(e) for e in events if e.kind in ("rep", "no_rep")}


class RepScorer:
    """The referee's similarity hook: ``observe(px, t, view, events)`` on every pose buffers the
    reference's features and scores the reps and no-reps among ``events`` (in place)."""

    def __init__(self, ref: Reference):
        self.ref = ref
        min_score = ref.min_score
        specs = ref.feature_specs()
        self._feats = [make_feature(s, min_score) for s in specs.values()]
        self._keys = list(specs)
        self._valid = {k: tuple(s.views) for k, s in specs.items()}
        self._scale = BodyScale(min_score)
        self._buf: deque = deque()  # (t, view, values tuple)
        self.last: Similarity | None = None
        self._alternation = Alternation()

    def reset(self) -> None:
        self._buf.clear()
        self._alternation = Alternation()
        for f in self._feats:
            f.reset()
        self.last = None

    def observe(self, px: list | None, t: float, view: str | None, events: list[RefEvent]) -> None:
        if px is not None:
            self._scale.update(px)
            vals = tuple(f.compute(px, self._scale, t) for f in self._feats)
            self._buf.append((t, view, vals))
        while self._buf and self._buf[0][0] < t - BUFFER_S:
            self._buf.popleft()
        self.annotate(events)

    def annotate(self, events: list[RefEvent]) -> None:
        for ev in events:
            if ev.kind not in ("rep", "no_rep"):
                continue
            side = self._alternation.expect(ev) if self.ref.alternating else None
            if ev.t_end > ev.t_start:
                sim = self.score(ev.t_start, ev.t_end, side)
                if sim is not None:
                    ev.similarity = sim.score
                    ev.deviation = sim.deviation
                    self.last = sim

    def trajectory(self, t0: float, t1: float) -> tuple[dict[str, np.ndarray], str | None]:
        rows = [(v, vals) for t, v, vals in self._buf if t0 - 1e-6 <= t <= t1 + 1e-6]
        if not rows:
            return {}, None
        views = [v for v, _ in rows if v is not None]
        view = max(set(views), key=views.count) if views else None
        arr = np.array([[np.nan if x is None else x for x in vals] for _, vals in rows], dtype=float)
        return {k: arr[:, i] for i, k in enumerate(self._keys)}, view

    def score(self, t0: float, t1: float, side: str | None = None) -> Similarity | None:
        traj, view = self.trajectory(t0, t1)
        if not traj:
            return None
        return score_trajectory(traj, self.ref, view, self._valid, side)


def attach_scorer(referee) -> RepScorer | None:
    """Give ``referee`` a `RepScorer` if its workout has a reference next to its rules file."""
    from hiitpi.referee.reference import reference_for

    ref = reference_for(referee.rule)
    if ref is None:
        return None
    referee.scorer = RepScorer(ref)
    log.info(
        "%s: reps are scored against %s (%d reference reps)",
        referee.name,
        ref.source or "a reference",
        ref.reps,
    )
    return referee.scorer
