"""Retry delays that double after each failure, up to a cap: one helper for every reconnect loop."""

from __future__ import annotations


class Backoff:
    """``next()`` gives the delay before the next try (initial, 2×, 4× … up to ``maximum``);
    ``reset()`` after a success starts again from ``initial``."""

    def __init__(self, initial_s: float = 0.2, maximum_s: float = 5.0, factor: float = 2.0):
        if initial_s <= 0 or maximum_s < initial_s or factor < 1:
            raise ValueError("back-off needs 0 < initial <= maximum and factor >= 1")
        self.initial_s = initial_s
        self.maximum_s = maximum_s
        self.factor = factor
        self._delay = initial_s

    @property
    def delay(self) -> float:
        """The delay the next `next()` returns."""
        return self._delay

    def next(self) -> float:
        delay = self._delay
        self._delay = min(self._delay * self.factor, self.maximum_s)
        return delay

    def reset(self) -> None:
        self._delay = self.initial_s
