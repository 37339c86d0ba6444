"""One Euro filter per keypoint coordinate (Casiez, Roussel, Vogel, CHI 2012).

Smooths jitter when a joint is still and follows quickly when it moves: the cutoff frequency
rises with the joint's speed, ``cutoff = min_cutoff + beta * |speed|``. Coordinates are
filtered in frame pixels, so the filter behaves the same for any frame size; scores pass through.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any

import numpy as np

from hiitpi.pose.types import Pose

log = logging.getLogger(__name__)

#: A pause longer than this (seconds) between frames starts the filter afresh.
MAX_GAP_S = 1.0


def _alpha(cutoff: np.ndarray | float, dt: float) -> np.ndarray | float:
    tau = 1.0 / (2 * math.pi * cutoff)
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """A One Euro filter over an array of values (all filtered independently)."""

    def __init__(self, min_cutoff: float = 1.7, beta: float = 0.3, d_cutoff: float = 1.0):
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("min_cutoff and d_cutoff must be > 0, beta >= 0")
        self.min_cutoff = min_cutoff
        self.beta = beta
        self.d_cutoff = d_cutoff
        self.reset()

    def reset(self) -> None:
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None
        self._t: float | None = None

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._t is None or self._x.shape != x.shape:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        if dt <= 0 or dt > MAX_GAP_S:
            if dt <= 0 and dt > -1e-9:  # the same frame again: keep the state
                return self._x.copy()
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dx = (x - self._x) / dt
        a_d = _alpha(self.d_cutoff, dt)
        dx_hat = a_d * dx + (1 - a_d) * self._dx
        cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
        a = _alpha(cutoff, dt)
        x_hat = a * x + (1 - a) * self._x
        self._x, self._dx, self._t = x_hat, dx_hat, t
        return x_hat.copy()


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
        key = (pose.width, pose.height, names)
        if key != self._key:
            self._filter.reset()
            self._key = key
        scale = np.array([pose.width, pose.height], dtype=np.float64)
        pts = [pose.keypoints[:, :2]] + [pose.extras[n][None, :2] for n in names]
        xy = np.concatenate(pts, axis=0) * scale
        out = self._filter(xy, pose.timestamp) / scale
        kps = pose.keypoints.copy()
        kps[:, :2] = np.clip(out[: len(kps)], 0.0, 1.0)
        extras = {}
        for i, name in enumerate(names):
            p = pose.extras[name].copy()
            p[:2] = out[len(kps) + i]
            extras[name] = p
        return replace(pose, keypoints=kps, extras=extras)
