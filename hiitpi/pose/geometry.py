"""Crop/letterbox a frame region into a model input, and map model points back to the frame.

A region is a rectangle in frame pixels (centre, size, rotation). `RegionWarp` samples it into
an ``out_w`` x ``out_h`` model input (area outside the frame is black, as with a letterbox) and
maps points from input coordinates back to the full frame, for any aspect ratio.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from hiitpi.errors import InputError


@dataclass(frozen=True)
class Region:
    """A rectangle in frame pixels: centre, width, height, rotation (radians, clockwise on screen)."""

    cx: float
    cy: float
    width: float
    height: float
    angle: float = 0.0

    @classmethod
    def from_box(cls, x0: float, y0: float, x1: float, y1: float) -> Region:
        return cls((x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0)

    @classmethod
    def letterbox(cls, frame_w: int, frame_h: int) -> Region:
        """The square centred on the frame that just holds it (the frame letterboxed)."""
        side = float(max(frame_w, frame_h))
        return cls(frame_w / 2, frame_h / 2, side, side)


class RegionWarp:
    """The affine map between a frame region and an ``out_w`` x ``out_h`` model input."""

    def __init__(self, region: Region, out_w: int, out_h: int):
        self.region = region
        self.out_w = out_w
        self.out_h = out_h
        c, s = math.cos(region.angle), math.sin(region.angle)
        sx = region.width / out_w
        sy = region.height / out_h
        # input (u, v) in pixels, continuous, origin at the input's top-left corner ->
        # frame continuous pixels: centre + R @ ((u - out_w/2) * sx, (v - out_h/2) * sy)
        # (plain floats: six numbers are cheaper than a numpy product, run after run)
        a00, a01, a10, a11 = c * sx, -s * sy, s * sx, c * sy
        tx = region.cx - (a00 * out_w + a01 * out_h) / 2
        ty = region.cy - (a10 * out_w + a11 * out_h) / 2
        #: input -> frame (continuous pixels) as (a00, a01, tx, a10, a11, ty); `to_frame` as a 2x3 array
        self.affine = (a00, a01, tx, a10, a11, ty)
        self.scale = max(sx, sy)

    @functools.cached_property
    def to_frame(self) -> np.ndarray:
        """The 2x3 affine map input -> frame (continuous pixels), made only when asked for."""
        a00, a01, tx, a10, a11, ty = self.affine
        return np.array([[a00, a01, tx], [a10, a11, ty]])

    def sample(self, frame: np.ndarray, rgb: bool = True) -> np.ndarray:
        """The region as an ``out_h`` x ``out_w`` x 3 uint8 image (RGB when ``rgb``)."""
        a00, a01, tx, a10, a11, ty = self.affine
        fh, fw = frame.shape[:2]
        # Only the part of the frame the region covers is touched: the input's corners in the frame.
        xs = [
            tx + a00 * u + a01 * v
            for u, v in ((0, 0), (self.out_w, 0), (0, self.out_h), (self.out_w, self.out_h))
        ]
        ys = [
            ty + a10 * u + a11 * v
            for u, v in ((0, 0), (self.out_w, 0), (0, self.out_h), (self.out_w, self.out_h))
        ]
        x0 = min(max(math.floor(min(xs)) - 1, 0), fw - 1)
        y0 = min(max(math.floor(min(ys)) - 1, 0), fh - 1)
        x1 = min(max(math.ceil(max(xs)) + 1, x0 + 1), fw)
        y1 = min(max(math.ceil(max(ys)) + 1, y0 + 1), fh)
        src = frame[y0:y1, x0:x1]
        tx, ty = tx - x0, ty - y0
        # Much bigger than the input: halve first (an exact 2x bilinear shrink averages 2x2
        # pixels), so the last bilinear step does not skip pixels and alias. INTER_AREA would
        # do the same at 5-10x the cost.
        scale = self.scale
        while scale >= 2.0 and min(src.shape[:2]) >= 4:
            h, w = src.shape[:2]
            src = cv2.resize(src, (w // 2, h // 2), interpolation=cv2.INTER_LINEAR)
            kx, ky = (w // 2) / w, (h // 2) / h
            a00, a01, tx, a10, a11, ty = a00 * kx, a01 * kx, tx * kx, a10 * ky, a11 * ky, ty * ky
            scale /= 2.0
        # continuous -> pixel-index convention for warpAffine (pixel centres at +0.5)
        m_idx = np.array(
            [
                [a00, a01, tx + (a00 + a01) * 0.5 - 0.5],
                [a10, a11, ty + (a10 + a11) * 0.5 - 0.5],
            ]
        )
        out = cv2.warpAffine(
            src,
            m_idx,
            (self.out_w, self.out_h),
            flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=(0, 0, 0),
        )
        if rgb:
            out = cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
        return out

    def points_to_frame(self, uv: np.ndarray) -> np.ndarray:
        """(N, 2) input pixel coordinates -> (N, 2) frame pixel coordinates (continuous)."""
        uv = np.asarray(uv, dtype=np.float64)
        return uv @ self.to_frame[:, :2].T + self.to_frame[:, 2]

    def normalized_to_frame(self, uv01: np.ndarray, frame_w: int, frame_h: int) -> np.ndarray:
        """(N, 2) input coordinates in [0, 1] -> (N, 2) frame coordinates in [0, 1]."""
        uv = np.asarray(uv01, dtype=np.float64) * (self.out_w, self.out_h)
        return self.points_to_frame(uv) / (frame_w, frame_h)


class FrameError(InputError, ValueError):
    """A frame that is not an image a pose model can read (not an HxWx3 uint8 BGR array)."""


#: A frame whose shorter side is below this many pixels cannot show a person: no pose, no model run.
MIN_FRAME_SIDE = 16


def check_frame(frame: object) -> None:
    """Raise `FrameError` unless ``frame`` is an HxWx3 uint8 (BGR) image (of any size)."""
    if not isinstance(frame, np.ndarray) or frame.ndim != 3 or frame.shape[2] != 3 or frame.dtype != np.uint8:
        desc = f"{type(frame).__name__} {getattr(frame, 'shape', '')} {getattr(frame, 'dtype', '')}".strip()
        raise FrameError(
            f"a frame must be an HxWx3 uint8 BGR image, got {desc}",
            "convert it first, e.g. cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR) or (img * 255).astype(np.uint8)",
        )


def too_small(frame: np.ndarray) -> bool:
    """True for a frame too small to hold a person (shorter side under `MIN_FRAME_SIDE` pixels)."""
    return min(frame.shape[0], frame.shape[1]) < MIN_FRAME_SIDE


def image_to_input(img: np.ndarray, dtype: Any, scale: float = 1.0, offset: float = 0.0) -> np.ndarray:
    """An HxWx3 uint8 image as a (1, H, W, 3) model input of ``dtype``.

    Float inputs get ``img * scale + offset`` (in one pass); integer inputs take the pixels as they are.
    """
    if np.dtype(dtype) == np.float32:
        return cv2.addWeighted(img, scale, img, 0.0, offset, dtype=cv2.CV_32F)[None]
    return img[None].astype(dtype, copy=False)
