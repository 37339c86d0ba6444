"""One Euro filter per keypoint coordinate (Casiez, Roussel, Vogel, CHI 2012).

Smooths jitter when a joint is still and follows quickly when it moves: the cutoff frequency
rises with the joint's speed, ``cutoff = min_cutoff + beta * |speed|``. Coordinates are
filtered in frame pixels, so the filter behaves the same for any frame size; scores pass through.
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

from hiitpi.pose.types import Pose

log = logging.getLogger(__name__)

#: A pause longer than this (seconds) between frames starts the filter afresh.
MAX_GAP_S = 1.0


def _alpha(cutoff: float, dt: float) -> float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A One Euro filter over an array of values (all filtered independently).

    The arithmetic is plain Python over the values (a pose has 34 coordinates): a dozen small
    numpy calls per frame cost more than the loop, the more so right after the model has run.
    """

    def __init__(self, min_cutoff: float = 1.7, beta: float = 0.3, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0, beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: list[float] | None = None
        self._dx: list[float] = []
        self._t: float | None = None
        self._shape: tuple[int, ...] | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._shape != x.shape:
            self.reset()
            self._shape = x.shape
        return np.array(self.step(x.ravel().tolist(), t), dtype=np.float64).reshape(x.shape)

    def step(self, x: list[float], t: float) -> list[float]:
        """Filter one sample of the values (a flat list), taken at time ``t``."""
        if self._x is None or self._t is None or len(self._x) != len(x):
            self._x, self._dx, self._t = list(x), [0.0] * len(x), t
            return list(x)
        dt = t - self._t
        if dt <= 0 or dt > MAX_GAP_S:
            if dt <= 0 and dt > -1e-9:  # the same frame again: keep the state
                return list(self._x)
            self._x, self._dx, self._t = list(x), [0.0] * len(x), t
            return list(x)
        a_d = _alpha(self.d_cutoff, dt)
        # alpha(cutoff) = 1 / (1 + 1 / (2 pi cutoff dt)) = k / (k + 1), k = 2 pi cutoff dt
        k_min, k_beta = 2 * math.pi * dt * self.min_cutoff, 2 * math.pi * dt * self.beta
        xs, dxs = [], []
        for value, prev, dprev in zip(x, self._x, self._dx, strict=True):
            dx_hat = a_d * (value - prev) / dt + (1 - a_d) * dprev
            k = k_min + k_beta * abs(dx_hat)
            a = k / (k + 1.0)
            xs.append(a * value + (1 - a) * prev)
            dxs.append(dx_hat)
        self._x, self._dx, self._t = xs, dxs, t
        return list(xs)


class PoseSmoother:
    """One Euro filtering of every keypoint (and extra point) of a stream of poses.

    ``filter(pose)`` returns a new `Pose`; with ``enabled=False`` it returns the pose unchanged.
    ``min_cutoff`` (Hz) lower = smoother at rest; ``beta`` higher = less lag on fast moves; both
    act on speeds in pixels per second. Call ``reset()`` at a new clip or camera restart; a
    change of frame size or a gap over a second resets it too.
    """

    def __init__(
        self, min_cutoff: float = 1.7, beta: float = 0.3, d_cutoff: float = 1.0, enabled: bool = True
    ):
        self.enabled = enabled
        self._filter = OneEuroFilter(min_cutoff, beta, d_cutoff)
        self._key: tuple | None = None

    @classmethod
    def from_settings(cls, smoothing: Any) -> PoseSmoother:
        """From ``settings.pose.smoothing`` (enabled, min_cutoff, beta, d_cutoff)."""
        return cls(smoothing.min_cutoff, smoothing.beta, smoothing.d_cutoff, smoothing.enabled)

    def reset(self) -> None:
        self._filter.reset()
        self._key = None

    def filter(self, pose: Pose) -> Pose:
        if not self.enabled:
            return pose
        names = tuple(pose.extras)
        w, h = pose.width, pose.height
        key = (w, h, names)
        if key != self._key:
            self._filter.reset()
            self._key = key
        # coordinates in frame pixels, flat: x0, y0, x1, y1, ... then the extra points'
        rows = pose.keypoints.tolist()
        extras_in = [pose.extras[n] for n in names]
        xy: list[float] = []
        for row in rows:
            xy += (row[0] * w, row[1] * h)
        for p in extras_in:
            xy += (float(p[0]) * w, float(p[1]) * h)
        out = self._filter.step(xy, pose.timestamp)
        kps = [
            (min(max(out[2 * i] / w, 0.0), 1.0), min(max(out[2 * i + 1] / h, 0.0), 1.0), *row[2:])
            for i, row in enumerate(rows)
        ]
        extras = {}
        base = 2 * len(rows)
        for i, (name, p) in enumerate(zip(names, extras_in, strict=True)):
            q = p.copy()
            q[:2] = out[base + 2 * i] / w, out[base + 2 * i + 1] / h
            extras[name] = q
        return Pose(
            keypoints=np.array(kps, dtype=pose.keypoints.dtype),
            score=pose.score,
            timestamp=pose.timestamp,
            width=w,
            height=h,
            extras=extras,
        )
