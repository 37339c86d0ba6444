"""MoveNet SinglePose (Lightning int8, Thunder) with the official tutorial's crop-region tracking.

The model sees a square crop of the frame. On the first frame (or after losing the person) the
crop is the whole frame letterboxed; afterwards it follows the body: centred on the hips, sized
from the torso and the spread of confident keypoints (the algorithm of TensorFlow's MoveNet
tutorial, ``determine_crop_region``). Keypoints are mapped back to the full frame, so the
result is right for any aspect ratio.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from hiitpi.pose.geometry import Region, RegionWarp, check_frame
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import TFLiteModel, open_model
from hiitpi.pose.types import KEYPOINT_INDEX, Pose, keypoint_array

log = logging.getLogger(__name__)

#: The tutorial's threshold for a keypoint to count when sizing the crop.
MIN_CROP_KEYPOINT_SCORE = 0.2
_TORSO = [KEYPOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
_HIPS = [KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]
_SHOULDERS = [KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]]


def torso_visible(kps: np.ndarray) -> bool:
    """A hip and a shoulder are confidently seen (kps: (17, 3) x, y, score)."""
    return bool(
        kps[_HIPS, 2].max() > MIN_CROP_KEYPOINT_SCORE and kps[_SHOULDERS, 2].max() > MIN_CROP_KEYPOINT_SCORE
    )


def next_crop_region(kps: np.ndarray, frame_w: int, frame_h: int) -> Region:
    """The crop for the next frame from this frame's keypoints (normalised to the frame).

    The tutorial's ``determine_crop_region``: a square centred on the mid-hip, half-side the
    largest of 1.9x the torso range and 1.2x the body range, capped so it does not extend
    past the farthest frame edge; the full letterboxed frame when the torso is not visible
    or the square would be bigger than the frame.
    """
    if not torso_visible(kps):
        return Region.letterbox(frame_w, frame_h)
    px = kps[:, :2] * (frame_w, frame_h)
    cx, cy = px[_HIPS].mean(axis=0)
    torso = np.abs(px[_TORSO] - (cx, cy))
    torso_x, torso_y = torso.max(axis=0)
    body = np.abs(px[kps[:, 2] >= MIN_CROP_KEYPOINT_SCORE] - (cx, cy))
    body_x, body_y = body.max(axis=0) if len(body) else (0.0, 0.0)
    half = max(torso_x * 1.9, torso_y * 1.9, body_y * 1.2, body_x * 1.2)
    half = min(half, max(cx, frame_w - cx, cy, frame_h - cy))
    if half > max(frame_w, frame_h) / 2 or half <= 0:
        return Region.letterbox(frame_w, frame_h)
    return Region(float(cx), float(cy), float(2 * half), float(2 * half))


class MoveNetEstimator:
    """One MoveNet model; ``estimate`` tracks the crop region between calls unless ``tracking`` is off."""

    def __init__(self, name: str, model: TFLiteModel, min_score: float = 0.2, tracking: bool = True):
        self.name = name
        self.model = model
        self.device = model.device
        self.min_score = min_score
        self.tracking = tracking
        self.input_h, self.input_w = model.input_hw
        self.input_dtype = np.dtype(model.input_dtype)
        if model.input_shape[0] != 1 or model.input_shape[3] != 3 or self.input_h != self.input_w:
            from hiitpi.pose.runtime import ModelLoadError

            raise ModelLoadError(
                f"{model.path} does not look like MoveNet: input shape {model.input_shape}, expected 1xNxNx3"
            )
        out_shape = tuple(int(d) for d in model.outputs[0]["shape"])
        if out_shape[-2:] != (17, 3):
            from hiitpi.pose.runtime import ModelLoadError

            raise ModelLoadError(
                f"{model.path} does not look like MoveNet SinglePose: output shape {out_shape}, "
                "expected (..., 17, 3)"
            )
        self._region: Region | None = None
        self._frame_size: tuple[int, int] | None = None
        #: The crop used for the last frame (for overlays and tests).
        self.last_region: Region | None = None

    def reset(self) -> None:
        self._region = None
        self._frame_size = None

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, RegionWarp]:
        """The model input for ``frame`` (crop, resize, colour order, dtype) and its warp."""
        h, w = frame.shape[:2]
        if self._frame_size != (w, h):
            self._region = None
            self._frame_size = (w, h)
        region = self._region if (self.tracking and self._region is not None) else Region.letterbox(w, h)
        warp = RegionWarp(region, self.input_w, self.input_h)
        img = warp.sample(frame, rgb=True)
        return img[None].astype(self.input_dtype, copy=False), warp

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """(17, 3) raw output: y, x, score in the crop."""
        return self.model.run(tensor)[0].reshape(17, 3)

    def decode(self, raw: np.ndarray, warp: RegionWarp, w: int, h: int) -> np.ndarray:
        """(17, 3) x, y, score normalised to the full frame."""
        xy = warp.normalized_to_frame(raw[:, [1, 0]], w, h)
        return keypoint_array(xy, raw[:, 2])

    def estimate(self, frame: np.ndarray, timestamp: float) -> Pose | None:
        check_frame(frame)
        h, w = frame.shape[:2]
        tensor, warp = self.prepare(frame)
        self.last_region = warp.region
        kps = self.decode(self.infer(tensor), warp, w, h)
        score = float(kps[:, 2].mean())
        if self.tracking:
            self._region = next_crop_region(kps, w, h)
        if score < self.min_score:
            self._region = None
            return None
        return Pose(keypoints=kps, score=score, timestamp=float(timestamp), width=w, height=h)


@register_backend("movenet-lightning")
def lightning(settings: Any) -> MoveNetEstimator:
    model = open_model(settings, "movenet-lightning", "movenet-lightning-edgetpu")
    return MoveNetEstimator("movenet-lightning", model, settings.pose.min_score)


@register_backend("movenet-thunder")
def thunder(settings: Any) -> MoveNetEstimator:
    model = open_model(settings, "movenet-thunder")
    return MoveNetEstimator("movenet-thunder", model, settings.pose.min_score)
