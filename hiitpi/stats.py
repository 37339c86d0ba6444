"""Summary statistics for benchmarks and reports: one percentile definition everywhere."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation (numpy's default); NaN when empty."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return math.nan
    if not 0.0 <= q <= 100.0:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (len(vals) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(vals) - 1)
    return vals[lo] + (vals[hi] - vals[lo]) * (pos - lo)


def summary(values: Iterable[float], digits: int = 3) -> dict[str, float | int | None]:
    """``{median, p90, p95, max, n}`` of ``values``, rounded; None figures when there are none."""
    vals = [float(v) for v in values]
    if not vals:
        return {"median": None, "p90": None, "p95": None, "max": None, "n": 0}
    return {
        "median": round(percentile(vals, 50), digits),
        "p90": round(percentile(vals, 90), digits),
        "p95": round(percentile(vals, 95), digits),
        "max": round(max(vals), digits),
        "n": len(vals),
    }
