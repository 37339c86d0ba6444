"""PoseNet (MobileNetV1, output stride 16) with its raw heatmap/offset outputs decoded in numpy.

Single-person decoding, as TensorFlow Lite's PoseNet examples do it: for each keypoint, the
heatmap cell with the highest logit, refined by that cell's offset vector. The frame is
letterboxed into the square input, and the points are mapped back to the full frame.

Coral's ``posenet_*_decoder_edgetpu.tflite`` files decode inside the model with Coral's custom
``PosenetDecoderOp``; they need that operator's library and are not supported here.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np

from hiitpi.pose.base import BackendOptions, Decoded, PoseBackend
from hiitpi.pose.geometry import RegionWarp
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import ModelLoadError, TFLiteModel
from hiitpi.pose.types import keypoint_array

log = logging.getLogger(__name__)

#: Said once a process, when the model is first loaded.
CAUTION = (
    "posenet counts far less reliably than MoveNet or BlazePose on the test clips (docs/accuracy.md, "
    '"Other cameras and pose models"); set [pose] model = "movenet-lightning" to referee'
)
_cautioned = False


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


@register_backend(
    "posenet",
    title="PoseNet",
    description="PoseNet MobileNetV1 (stride 16, 385x385), raw heatmaps and offsets decoded here; no tracking. "
    "Counts far less reliably than MoveNet (docs/accuracy.md): for comparison, not for refereeing",
    files={"cpu": {"model": "posenet"}},
)
class PoseNet(PoseBackend):
    """PoseNet on the whole (letterboxed) frame; no state between frames."""

    pixel_scale = 2.0 / 255.0
    pixel_offset = -1.0

    def __init__(
        self, name: str, models: Mapping[str, TFLiteModel], options: BackendOptions, min_score: float = 0.2
    ):
        super().__init__(name, models, options, min_score)
        model = self.input_model
        shape = model.input_shape
        if len(shape) != 4 or shape[0] != 1 or shape[3] != 3 or np.dtype(model.input_dtype) != np.float32:
            raise ModelLoadError(
                f"{model.path} does not look like PoseNet: input {shape} {np.dtype(model.input_dtype)}, "
                "expected 1xHxWx3 float32"
            )
        self._heat = model.output_index("heatmap")
        self._off = model.output_index("offset")
        heat_shape = tuple(int(d) for d in model.outputs[self._heat]["shape"])
        if heat_shape[-1] != 17:
            raise ModelLoadError(f"{model.path}: heatmap has {heat_shape[-1]} channels, expected 17")
        self.stride = round((self.input_h - 1) / (heat_shape[1] - 1))
        global _cautioned
        if not _cautioned:
            log.warning(CAUTION)
            _cautioned = True

    def decode(self, outputs: list[np.ndarray], warp: RegionWarp, w: int, h: int) -> Decoded:
        raw = decode_single_pose(outputs[self._heat][0], outputs[self._off][0], self.stride)
        # pixel positions on the input grid (cell centres at i * stride) -> continuous coords
        uv = raw[:, [1, 0]] + 0.5
        xy = warp.points_to_frame(uv) / (w, h)
        kps = keypoint_array(xy, raw[:, 2])
        return Decoded(kps, float(kps[:, 2].mean()))
