"""Alternating movements: one side, then the other (high knees, mountain climbers).

The side-less candidates of `hiitpi.teach.bank` read both sides at once (their mean, the more bent
one), so in a fast alternating movement each stride looks like a rep and the body's bounce, which
also comes once a stride, agrees with it. What tells an alternating movement is that the two sides
move in *antiphase*: the left knee's bend is high when the right one's is low. When candidates on
at least two body parts do that (`antiphase`), the movement is taught per side: each such candidate
is measured on the left and on the right, cut into swings on each side, and the two sides' swings
are merged into one candidate (`sided_swings`: a rep on either side is a rep) whose rule runs one
machine per side (the rules format's ``each_side``), so each side is judged against its own travel.
"""

from __future__ import annotations

import logging
from dataclasses import replace

import numpy as np

from hiitpi.teach.bank import Candidate, one_side, series
from hiitpi.teach.periodic import Swings, _filled, min_range, swings

log = logging.getLogger(__name__)

#: a candidate's left and right series correlated below this move in antiphase
ANTIPHASE = -0.6
#: the drift taken off each side before they are compared (seconds)
DETREND_S = 1.0
#: the alternation must be seen on at least this many body parts (one part can be a tracking glitch)
MIN_PARTS = 2
#: both sides must be seen together in this share of the frames
MIN_BOTH_SEEN = 0.5


def bilateral(candidates: tuple[Candidate, ...]) -> list[Candidate]:
    """The candidates read on both sides at once (side-less points and a side rule such as ``mean``),
    one per measurement (the mean and the more bent knee are the same knee on one side)."""
    out, seen = [], set()
    for c in candidates:
        if c.spec.get("side") not in ("mean", "min", "max") or "points" not in c.spec:
            continue
        what = repr(sorted((k, v) for k, v in c.spec.items() if k != "side"))
        if what not in seen:
            seen.add(what)
            out.append(c)
    return out


def side_series(poses, times, candidates: list[Candidate]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """key → (left series, right series) of each candidate."""
    sided = [one_side(c, s) for c in candidates for s in ("left", "right")]
    f = series(poses, times, sided)
    return {c.key: (f[f"{c.key}_left"], f[f"{c.key}_right"]) for c in candidates}


def correlation(
    t: np.ndarray, left: np.ndarray, right: np.ndarray, window_s: float = DETREND_S
) -> float | None:
    """The Pearson correlation of the two sides' movement over the frames both are seen (None: too
    few). Each side's slower drift (its mean over ``window_s``: the person settling, a plank set
    up) is taken off first, so what is compared is the back and forth."""
    a, b = _filled(t, left), _filled(t, right)
    ok = ~np.isnan(a) & ~np.isnan(b)
    if ok.mean() < MIN_BOTH_SEEN or ok.sum() < 10:
        return None
    a, b = a[ok], b[ok]
    dt = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    win = round(window_s / dt) if dt > 0 else 0
    if win >= 3:
        if len(a) < 2 * win:
            return None
        k = np.ones(win) / win
        half = win // 2
        a = (a - np.convolve(a, k, mode="same"))[half:-half]
        b = (b - np.convolve(b, k, mode="same"))[half:-half]
    a, b = a - a.mean(), b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 0 else None


def antiphase(
    t: np.ndarray, sides: dict[str, tuple[np.ndarray, np.ndarray]], candidates: list[Candidate]
) -> list[Candidate]:
    """The candidates whose sides move in antiphase, each side moving enough on its own, the most
    clearly opposed first; none unless they are on at least `MIN_PARTS` body parts."""
    out = []
    for c in candidates:
        left, right = sides[c.key]
        r = correlation(t, left, right)
        if r is None or r > ANTIPHASE:
            continue
        floor = min_range(c.spec)
        if any(_robust_range(x) < floor for x in (left, right)):
            continue
        log.debug("alternating: %s left/right correlation %.2f", c.key, r)
        out.append((r, c))
    out.sort(key=lambda rc: rc[0])
    return [c for _, c in out] if len({c.part for _, c in out}) >= MIN_PARTS else []


def _robust_range(x: np.ndarray) -> float:
    ok = ~np.isnan(x)
    if ok.sum() < 10:
        return 0.0
    lo, hi = np.percentile(x[ok], [5, 95])
    return float(hi - lo)


def sided_swings(
    c: Candidate, t: np.ndarray, left: np.ndarray, right: np.ndarray, use_end: bool = True
) -> Swings | None:
    """One candidate's swings on both sides merged: its far turning points are each side's reps,
    the two sides turned the same way round (the side whose ends showed its start more clearly
    decides). ``sides`` keeps the two."""
    per = [swings(c.key, c.spec, t, x, use_end=use_end) for x in (left, right)]
    if any(s is None or s.count < 1 for s in per):
        return None
    a, b = per
    if a.start_high != b.start_high:
        if b.start_weight > a.start_weight:
            a = a.flipped()
        else:
            b = b.flipped()
    far = sorted(zip(a.far_t + b.far_t, a.far_v + b.far_v, strict=True))
    start = sorted(zip(a.start_t + b.start_t, a.start_v + b.start_v, strict=True))
    merged = replace(
        a,
        lo=min(a.lo, b.lo),
        hi=max(a.hi, b.hi),
        far_t=[x for x, _ in far],
        far_v=[v for _, v in far],
        start_t=[x for x, _ in start],
        start_v=[v for _, v in start],
        coverage=min(a.coverage, b.coverage),
        noise=max(a.noise, b.noise),
        start_weight=max(a.start_weight, b.start_weight),
        agrees_with=[],
        sides=(a, b),
    )
    return merged


def sided_found(demo, candidates: tuple[Candidate, ...]) -> dict[str, Swings]:
    """The per-side swings of the candidates that alternate in ``demo``, the most clearly opposed
    sides first (empty: no alternation)."""
    bil = bilateral(candidates)
    sides = side_series(demo.poses, demo.times, bil)
    alt = antiphase(demo.times, sides, bil)
    out = {}
    for c in alt:
        sw = sided_swings(c, demo.times, *sides[c.key], use_end=demo.ends_at_rest)
        if sw is not None and sw.count >= 2:
            out[c.key] = sw
    return out


def moving_side(c: Candidate, demo, start_high: bool) -> np.ndarray:
    """One series to show a per-side candidate by: at each moment the side further from the start
    (the lower of the two when the start is the high end), so each side's rep is one swing."""
    left, right = side_series(demo.poses, demo.times, [c])[c.key]
    pick = np.fmin if start_high else np.fmax
    return pick(left, right)
