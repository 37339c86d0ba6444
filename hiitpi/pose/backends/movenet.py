"""MoveNet SinglePose (Lightning int8, Thunder) with the official tutorial's crop-region tracking.

The model sees a square crop of the frame. On the first frame (or after losing the person) the
crop is the whole frame letterboxed; afterwards it follows the body: centred on the hips, sized
from the torso and the spread of confident keypoints (the algorithm of TensorFlow's MoveNet
tutorial, ``determine_crop_region``). Keypoints are mapped back to the full frame, so the
result is right for any aspect ratio.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
from pydantic import Field

from hiitpi.pose.base import BackendOptions, Decoded, PoseBackend
from hiitpi.pose.geometry import Region, RegionWarp
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import ModelLoadError, TFLiteModel
from hiitpi.pose.types import KEYPOINT_INDEX

log = logging.getLogger(__name__)

#: The tutorial's threshold for a keypoint to count when sizing the crop.
MIN_CROP_KEYPOINT_SCORE = 0.2
_TORSO = [KEYPOINT_INDEX[n] for n in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
_HIPS = [KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]]
_SHOULDERS = [KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]]


def torso_visible(kps: np.ndarray) -> bool:
    """A hip and a shoulder are confidently seen (kps: (17, 3) x, y, score)."""
    return _torso_visible(kps[:, 2].tolist())


def _torso_visible(scores: list[float]) -> bool:
    return max(scores[i] for i in _HIPS) > MIN_CROP_KEYPOINT_SCORE and (
        max(scores[i] for i in _SHOULDERS) > MIN_CROP_KEYPOINT_SCORE
    )


def next_crop_region(kps: np.ndarray, frame_w: int, frame_h: int) -> Region:
    """The crop for the next frame from this frame's keypoints (normalised to the frame).

    The tutorial's ``determine_crop_region``: a square centred on the mid-hip, half-side the
    largest of 1.9x the torso range and 1.2x the body range, capped so it does not extend
    past the farthest frame edge; the full letterboxed frame when the torso is not visible
    or the square would be bigger than the frame. (17 points: plain Python on one list is
    cheaper than a dozen small numpy calls.)
    """
    pts = kps[:, :3].tolist()
    if not _torso_visible([p[2] for p in pts]):
        return Region.letterbox(frame_w, frame_h)
    px = [(x * frame_w, y * frame_h, score) for x, y, score in pts]
    cx = (px[_HIPS[0]][0] + px[_HIPS[1]][0]) / 2
    cy = (px[_HIPS[0]][1] + px[_HIPS[1]][1]) / 2
    torso_x = max(abs(px[i][0] - cx) for i in _TORSO)
    torso_y = max(abs(px[i][1] - cy) for i in _TORSO)
    body = [(abs(x - cx), abs(y - cy)) for x, y, score in px if score >= MIN_CROP_KEYPOINT_SCORE]
    body_x = max((b[0] for b in body), default=0.0)
    body_y = max((b[1] for b in body), default=0.0)
    half = max(torso_x * 1.9, torso_y * 1.9, body_y * 1.2, body_x * 1.2)
    half = min(half, max(cx, frame_w - cx, cy, frame_h - cy))
    if half > max(frame_w, frame_h) / 2 or half <= 0:
        return Region.letterbox(frame_w, frame_h)
    return Region(cx, cy, 2 * half, 2 * half)


class MoveNetOptions(BackendOptions):
    tracking: bool = Field(
        True,
        description="Follow the body with a crop (the tutorial's crop-region tracking); "
        "off: every frame is letterboxed whole, as the first one is.",
    )


@register_backend(
    "movenet-lightning",
    title="MoveNet Lightning (default)",
    description="MoveNet SinglePose Lightning int8, 192x192, with crop tracking; the one with a Coral build",
    files={"cpu": {"model": "movenet-lightning"}, "edgetpu": {"model": "movenet-lightning-edgetpu"}},
)
@register_backend(
    "movenet-thunder",
    title="MoveNet Thunder",
    description="MoveNet SinglePose Thunder int8, 256x256: more accurate than Lightning, about 3x slower",
    files={"cpu": {"model": "movenet-thunder"}},
)
class MoveNet(PoseBackend):
    """One MoveNet SinglePose model; the crop follows the body between frames unless tracking is off."""

    Options = MoveNetOptions
    options: MoveNetOptions

    def __init__(
        self, name: str, models: Mapping[str, TFLiteModel], options: MoveNetOptions, min_score: float = 0.2
    ):
        super().__init__(name, models, options, min_score)
        model = self.input_model
        if model.input_shape[0] != 1 or model.input_shape[3] != 3 or self.input_h != self.input_w:
            raise ModelLoadError(
                f"{model.path} does not look like MoveNet: input shape {model.input_shape}, expected 1xNxNx3"
            )
        out_shape = tuple(int(d) for d in model.outputs[0]["shape"])
        if out_shape[-2:] != (17, 3):
            raise ModelLoadError(
                f"{model.path} does not look like MoveNet SinglePose: output shape {out_shape}, "
                "expected (..., 17, 3)"
            )
        self._region: Region | None = None

    def reset(self) -> None:
        super().reset()
        self._region = None

    def region(self, frame: np.ndarray) -> Region:
        if self._region is not None:
            return self._region
        h, w = frame.shape[:2]
        return Region.letterbox(w, h)

    def infer(self, tensor: np.ndarray) -> np.ndarray:
        """(17, 3) raw output: y, x, score in the crop."""
        return self.input_model.run(tensor)[0].reshape(17, 3)

    def decode(self, outputs: np.ndarray, warp: RegionWarp, w: int, h: int) -> Decoded:
        # (y, x, score) in the input -> (x, y, score) in the frame, clipped to it. 17 points in
        # plain Python: right after the model has run, each numpy call starts from a cold cache
        # and this costs less than half of the same in numpy (measured, issue 20).
        a00, a01, tx, a10, a11, ty = warp.affine
        ow, oh = warp.out_w, warp.out_h
        a00, a01, tx, a10, a11, ty = a00 * ow / w, a01 * oh / w, tx / w, a10 * ow / h, a11 * oh / h, ty / h
        points = []
        total = 0.0
        for y, x, score in outputs.tolist():
            fx = a00 * x + a01 * y + tx
            fy = a10 * x + a11 * y + ty
            points.append((min(max(fx, 0.0), 1.0), min(max(fy, 0.0), 1.0), score))
            total += score
        return Decoded(np.array(points, dtype=np.float32), total / len(points))

    def follow(self, found: Decoded, w: int, h: int) -> None:
        if self.options.tracking:
            self._region = next_crop_region(found.keypoints, w, h)
