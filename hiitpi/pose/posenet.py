"""PoseNet (MobileNetV1, output stride 16) with its raw heatmap/offset outputs decoded in numpy.

Single-person decoding, as TensorFlow Lite's PoseNet examples do it: for each keypoint, the
heatmap cell with the highest logit, refined by that cell's offset vector. The frame is
letterboxed into the square input, and the points are mapped back to the full frame.

Coral's ``posenet_*_decoder_edgetpu.tflite`` files decode inside the model with Coral's custom
``PosenetDecoderOp``; they need that operator's library and are not supported here.
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np

from hiitpi.pose.geometry import Region, RegionWarp, check_frame, to_float_input
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import ModelLoadError, TFLiteModel, open_model
from hiitpi.pose.types import Pose, keypoint_array

log = logging.getLogger(__name__)


def decode_single_pose(heatmap: np.ndarray, offsets: np.ndarray, stride: int) -> np.ndarray:
    """(17, 3) y, x (input pixels), score from one image's heatmap (H, W, 17) and offsets (H, W, 34)."""
    h, w, k = heatmap.shape
    flat = heatmap.reshape(h * w, k).argmax(axis=0)
    rows, cols = np.divmod(flat, w)
    idx = np.arange(k)
    logits = heatmap[rows, cols, idx]
    off_y = offsets[rows, cols, idx]
    off_x = offsets[rows, cols, idx + k]
    out = np.empty((k, 3), dtype=np.float32)
    out[:, 0] = rows * stride + off_y
    out[:, 1] = cols * stride + off_x
    out[:, 2] = 1.0 / (1.0 + np.exp(-logits))
    return out


class PoseNetEstimator:
    """PoseNet on the whole (letterboxed) frame; no state between frames."""

    def __init__(self, name: str, model: TFLiteModel, min_score: float = 0.2):
        self.name = name
        self.model = model
        self.device = model.device
        self.min_score = min_score
        shape = model.input_shape
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or np.dtype(model.input_dtype) != np.float32:
            raise ModelLoadError(
                f"{model.path} does not look like PoseNet: input {shape} {np.dtype(model.input_dtype)}, "
                "expected 1xHxWx3 float32"
            )
        self.input_h, self.input_w = model.input_hw
        self._heat = model.output_index("heatmap")
        self._off = model.output_index("offset")
        heat_shape = tuple(int(d) for d in model.outputs[self._heat]["shape"])
        if heat_shape[-1] != 17:
            raise ModelLoadError(f"{model.path}: heatmap has {heat_shape[-1]} channels, expected 17")
        self.stride = round((self.input_h - 1) / (heat_shape[1] - 1))

    def reset(self) -> None:
        """PoseNet keeps no state between frames."""

    def close(self) -> None:
        self.model = None  # type: ignore[assignment]

    def prepare(self, frame: np.ndarray) -> tuple[np.ndarray, RegionWarp]:
        h, w = frame.shape[:2]
        warp = RegionWarp(Region.letterbox(w, h), self.input_w, self.input_h)
        img = warp.sample(frame, rgb=True)
        tensor = to_float_input(img, 2.0 / 255.0, -1.0)
        return tensor, warp

    def infer(self, tensor: np.ndarray) -> list[np.ndarray]:
        return self.model.run(tensor)

    def decode(self, outputs: list[np.ndarray], warp: RegionWarp, w: int, h: int) -> np.ndarray:
        raw = decode_single_pose(outputs[self._heat][0], outputs[self._off][0], self.stride)
        # pixel positions on the input grid (cell centres at i * stride) -> continuous coords
        uv = raw[:, [1, 0]] + 0.5
        xy = warp.points_to_frame(uv) / (w, h)
        return keypoint_array(xy, raw[:, 2])

    def estimate(self, frame: np.ndarray, timestamp: float) -> Pose | None:
        check_frame(frame)
        h, w = frame.shape[:2]
        tensor, warp = self.prepare(frame)
        kps = self.decode(self.infer(tensor), warp, w, h)
        score = float(kps[:, 2].mean())
        if score < self.min_score:
            return None
        return Pose(keypoints=kps, score=score, timestamp=float(timestamp), width=w, height=h)


@register_backend("posenet")
def posenet(settings: Any) -> PoseNetEstimator:
    model = open_model(settings, "posenet")
    return PoseNetEstimator("posenet", model, settings.pose.min_score)
