"""A dim picture brightened before the pose model, the way a camera's auto-exposure would.

A webcam in an evening room, or a Pi camera with its exposure fixed, gives frames whose brightest
parts are far from white; the pose models were trained on well-exposed photographs and lose
keypoints in such frames (docs/accuracy.md, "Other cameras and pose models": the clips filmed by a
320 px webcam in a dim room). `Exposure.gain` reads the whole frame's highlights — the 99th
percentile of each pixel's brightest channel, on a sparse grid of pixels — and returns the gain that
brings them up to ``target``, never below 1 (a bright picture is left as it is) and at most
``max_gain`` (past that the sensor's noise is all that is left to amplify). `Exposure.apply` scales
the model's input by it; the frame itself (the video, the overlay) is not changed. `Exposure.too_dark`
says when a picture needs more than ``max_gain`` (the live page's "Too dark to count reliably", the
analysis's note on a sent video).
"""

from __future__ import annotations

import cv2
import numpy as np

#: the highlights' brightness (of 255) a well-exposed picture has: a camera's auto-exposure aims
#: its brightest percent near the top of the range without clipping it
TARGET = 200.0
#: the most a picture is brightened: four times the light
MAX_GAIN = 4.0
#: every STEP-th pixel in each direction is read (a 640 x 480 frame: 80 x 60 of them)
STEP = 8
#: which share of pixels are "the highlights"
PERCENTILE = 99.0
#: a picture said to be too dark is said to be lit again only once its gain falls below this
#: share of the most (a picture on the edge, its gain moving with the noise, does not flicker)
RELIT = 0.85


class Exposure:
    """``gain(frame)`` for one frame, ``apply(img, gain)`` to a model input sampled from it."""

    __slots__ = ("max_gain", "target")

    def __init__(self, target: float = TARGET, max_gain: float = MAX_GAIN):
        self.target = float(target)
        self.max_gain = float(max_gain)

    def gain(self, frame: np.ndarray) -> float:
        """1.0 for a frame that is bright enough (or black); else target / highlights, at most max_gain."""
        grid = frame[::STEP, ::STEP]
        # each pixel's brightest channel (three maxima: ~10 times faster than .max(axis=2) on a
        # strided view), then np.percentile's linear percentile, by partition (~30 us a frame)
        bright = np.maximum(np.maximum(grid[..., 0], grid[..., 1]), grid[..., 2]).ravel()
        if bright.size < 2:
            return 1.0
        at = PERCENTILE / 100.0 * (bright.size - 1)
        k = min(int(at), bright.size - 2)
        part = np.partition(bright, (k, k + 1))
        highlights = float(part[k]) + (at - k) * (float(part[k + 1]) - float(part[k]))
        if highlights >= self.target or highlights < 1.0:
            return 1.0
        return min(self.max_gain, self.target / highlights)

    def too_dark(self, gain: float, was: bool) -> bool:
        """The picture is darker than this exposure can make up for: its gain is at the most (or,
        when it ``was`` already too dark, still within `RELIT` of it)."""
        return gain >= self.max_gain * (RELIT if was else 1.0)

    @staticmethod
    def apply(img: np.ndarray, gain: float) -> np.ndarray:
        """``img`` (uint8) times ``gain``, saturated at 255; the same array when the gain is 1."""
        if gain <= 1.0:
            return img
        return cv2.convertScaleAbs(img, alpha=gain, beta=0.0)
