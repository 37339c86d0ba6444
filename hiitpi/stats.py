"""Order statistics of measured timings: one percentile, one summary, for every benchmark."""

from __future__ import annotations

import math
from collections.abc import Iterable


def percentile(values: Iterable[float], q: float) -> float:
    """The ``q``-th percentile (0..100) with linear interpolation between order statistics
    (numpy's default method); NaN for no values."""
    s = sorted(values)
    if not s:
        return math.nan
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    k = (len(s) - 1) * q / 100
    lo = math.floor(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summary(values: Iterable[float], digits: int = 3) -> dict[str, float | int]:
    """{median, p90, p95, n} of ``values``, rounded to ``digits`` (NaN figures for no values)."""
    vals = list(values)
    return {
        "median": round(percentile(vals, 50), digits),
        "p90": round(percentile(vals, 90), digits),
        "p95": round(percentile(vals, 95), digits),
        "n": len(vals),
    }
