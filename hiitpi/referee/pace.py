"""Pace: reps per minute over a recent window, decaying to zero when the person stops."""

from __future__ import annotations

import bisect
from collections import deque


class PaceMeter:
    """Counts rep end times inside a sliding window.

    ``rate(now)`` is the number of reps that ended in the last ``window_s`` seconds per minute.
    Early in a session the window is shortened to the time seen so far (at least ``min_span_s``),
    so the first reps do not read as a slow pace. Reps drop out of the window as time passes, so
    the pace reaches zero ``window_s`` seconds after the last rep. Cost per call is O(1) amortised.
    """

    __slots__ = ("_t0", "_times", "min_span_s", "window_s")

    def __init__(self, window_s: float = 20.0, min_span_s: float = 3.0):
        self.window_s = float(window_s)
        self.min_span_s = float(min_span_s)
        self._times: deque[float] = deque()
        self._t0: float | None = None

    def reset(self) -> None:
        self._times.clear()
        self._t0 = None

    def seen(self, t: float) -> None:
        """Note that time ``t`` was observed (the first call starts the clock)."""
        if self._t0 is None:
            self._t0 = t

    def add(self, t: float) -> None:
        """A rep ended at ``t`` (one found late, measured again, may end before the last)."""
        self.seen(t)
        times = self._times
        if times and t < times[-1]:
            bisect.insort(times, t)
        else:
            times.append(t)
        cutoff = t - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()

    def rate(self, now: float) -> float:
        times = self._times
        cutoff = now - self.window_s
        while times and times[0] <= cutoff:
            times.popleft()
        if not times or self._t0 is None:
            return 0.0
        span = min(self.window_s, max(now - self._t0, self.min_span_s))
        return len(times) * 60.0 / span


#: Shorter sessions have no average pace: a 5-second burst is not a pace.
MIN_AVERAGE_S = 10.0


def average_rpm(reps: int, seconds: float, min_s: float = MIN_AVERAGE_S) -> float | None:
    """Reps per minute over a whole session or interval: the *average* pace (the live page's
    *pace* is `PaceMeter.rate`, the recent window). None below ``min_s`` seconds."""
    if seconds is None or seconds < min_s:
        return None
    return reps * 60.0 / seconds
