"""BlazePose (MediaPipe): a person detector, then the full landmark model on a rotated crop.

As in MediaPipe's pose graph: the detector (224x224, letterboxed, SSD anchors) finds the hip
centre and a point that gives the body's size and tilt; that makes a square region of interest
(rotated so the body is upright, 1.25x larger). The landmark model (256x256) gives 33 points in
that region, and its two auxiliary points give the next frame's region, so the detector only
runs again when the landmark model's pose flag says the person is lost. The 17 COCO keypoints
are taken from the 33; heels and toes are returned as extras.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
from pydantic import Field

from hiitpi.pose.base import BackendOptions, Decoded, PoseBackend
from hiitpi.pose.geometry import Region, RegionWarp, image_to_input
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import ModelLoadError, TFLiteModel
from hiitpi.pose.types import EXTRA_NAMES, keypoint_array

log = logging.getLogger(__name__)

#: BlazePose landmark index of each COCO keypoint, in COCO order.
COCO_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: BlazePose landmark index of each extra point (EXTRA_NAMES order: heels, then toes).
EXTRAS_FROM_BLAZEPOSE = {"left_heel": 29, "right_heel": 30, "left_foot_index": 31, "right_foot_index": 32}
assert tuple(EXTRAS_FROM_BLAZEPOSE) == EXTRA_NAMES

DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
DETECTOR_MIN_SCORE = 0.5
NMS_IOU = 0.3
ROI_SCALE = 1.25
#: Below this the landmark model's pose flag means "person lost": run the detector next frame.
POSE_FLAG_MIN = 0.5


def ssd_anchors(
    size: int = DETECTOR_SIZE, strides: tuple[int, ...] = (8, 16, 32, 32, 32), per_layer: int = 2
) -> np.ndarray:
    """(N, 2) anchor centres (x, y) in [0, 1], MediaPipe's SsdAnchorsCalculator with fixed size.

    Layers with the same stride share one grid (their anchors are stacked per cell), giving
    28x28x2 + 14x14x2 + 7x7x6 = 2254 anchors for the 224 pose detector.
    """
    out = []
    i = 0
    while i < len(strides):
        j = i
        while j < len(strides) and strides[j] == strides[i]:
            j += 1
        n = per_layer * (j - i)
        cells = math.ceil(size / strides[i])
        ys, xs = np.meshgrid(
            (np.arange(cells) + 0.5) / cells, (np.arange(cells) + 0.5) / cells, indexing="ij"
        )
        centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        out.append(np.repeat(centres, n, axis=0))
        i = j
    return np.concatenate(out).astype(np.float32)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, dtype=np.float64), -100, 100)))


def decode_detections(
    boxes: np.ndarray, scores: np.ndarray, anchors: np.ndarray, min_score: float = DETECTOR_MIN_SCORE
) -> np.ndarray | None:
    """The best detection as (4, 2) keypoints (x, y in [0, 1] of the detector input), or None.

    ``boxes`` (N, 12): box centre/size then 4 keypoints, relative to the anchor in input pixels;
    ``scores`` (N,) logits. Detections overlapping the best (IoU > 0.3) are averaged into it,
    weighted by score (MediaPipe's weighted non-maximum suppression).
    """
    probs = _sigmoid(scores.reshape(-1))
    keep = probs >= min_score
    if not keep.any():
        return None
    b = boxes[keep].astype(np.float64) / DETECTOR_SIZE
    a = anchors[keep]
    p = probs[keep]
    cx, cy = b[:, 0] + a[:, 0], b[:, 1] + a[:, 1]
    w, h = b[:, 2], b[:, 3]
    kps = b[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    best = int(p.argmax())
    x0, y0, x1, y1 = cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2
    ix = np.clip(np.minimum(x1, x1[best]) - np.maximum(x0, x0[best]), 0, None)
    iy = np.clip(np.minimum(y1, y1[best]) - np.maximum(y0, y0[best]), 0, None)
    inter = ix * iy
    iou = inter / (w * h + w[best] * h[best] - inter + 1e-9)
    group = iou > NMS_IOU
    weights = p[group] / p[group].sum()
    return (kps[group] * weights[:, None, None]).sum(axis=0)


def roi_from_points(centre: np.ndarray, scale_point: np.ndarray) -> Region | None:
    """The landmark model's region from two frame-pixel points: hip centre and size/tilt point.

    Square, side 2x their distance x 1.25, rotated so that the body is upright (MediaPipe's
    AlignmentPointsRectsCalculator with target angle 90 degrees, then RectTransformation).
    """
    dx, dy = float(scale_point[0] - centre[0]), float(scale_point[1] - centre[1])
    side = 2.0 * math.hypot(dx, dy) * ROI_SCALE
    if not math.isfinite(side) or side < 4:
        return None
    angle = math.pi / 2 - math.atan2(-dy, dx)
    angle = (angle + math.pi) % (2 * math.pi) - math.pi
    return Region(float(centre[0]), float(centre[1]), side, side, angle)


class BlazePoseOptions(BackendOptions):
    tracking: bool = Field(
        True,
        description="Take the next frame's region from the landmarks (MediaPipe's tracking); "
        "off: the person detector runs on every frame.",
    )


@register_backend(
    "blazepose-full",
    title="BlazePose full",
    description="MediaPipe's person detector, then the full 33-point landmark model on a rotated "
    "region (tracked); heels and toes as extras",
    files={"cpu": {"detector": "blazepose-detector", "landmark": "blazepose-landmark-full"}},
)
class BlazePose(PoseBackend):
    """BlazePose full: detector when needed, landmark model with region tracking."""

    Options = BlazePoseOptions
    options: BlazePoseOptions
    input_role = "landmark"
    pixel_scale = 1.0 / 255.0
    score_floor = POSE_FLAG_MIN

    def __init__(
        self, name: str, models: Mapping[str, TFLiteModel], options: BlazePoseOptions, min_score: float = 0.2
    ):
        super().__init__(name, models, options, min_score)
        self.detector = self.models["detector"]
        self.landmark = self.input_model
        for model, what, size in (
            (self.detector, "the BlazePose detector", DETECTOR_SIZE),
            (self.landmark, "BlazePose landmark", LANDMARK_SIZE),
        ):
            if model.input_shape != (1, size, size, 3) or np.dtype(model.input_dtype) != np.float32:
                raise ModelLoadError(
                    f"{model.path} does not look like {what}: input {model.input_shape} "
                    f"{np.dtype(model.input_dtype)}, expected (1, {size}, {size}, 3) float32"
                )
        self._det_boxes = _output_with_shape(self.detector, 12)
        self._det_scores = _output_with_shape(self.detector, 1)
        self._lm_points = _output_with_shape(self.landmark, 195)
        self._lm_flag = next(
            (i for i, d in enumerate(self.landmark.outputs) if tuple(int(x) for x in d["shape"]) == (1, 1)),
            None,
        )
        if self._lm_flag is None:
            raise ModelLoadError(
                f"{self.landmark.path}: no (1, 1) pose flag output; is it pose_landmark_full?"
            )
        self.anchors = ssd_anchors()
        n_boxes = int(self.detector.outputs[self._det_boxes]["shape"][1])
        if n_boxes != len(self.anchors):
            raise ModelLoadError(
                f"{self.detector.path}: {n_boxes} boxes, expected {len(self.anchors)} anchors"
            )
        self._roi: Region | None = None
        #: How many times the detector ran (tests and benchmarks read it).
        self.detector_runs = 0

    def reset(self) -> None:
        super().reset()
        self._roi = None

    def region(self, frame: np.ndarray) -> Region | None:
        """The tracked region, else the detector's (None: nobody found)."""
        if self._roi is not None:
            return self._roi
        return self.detect(frame)

    def detect(self, frame: np.ndarray) -> Region | None:
        """Run the detector on the letterboxed frame; the landmark region of the best person."""
        h, w = frame.shape[:2]
        warp = RegionWarp(Region.letterbox(w, h), DETECTOR_SIZE, DETECTOR_SIZE)
        tensor = image_to_input(self.sample_rgb(frame, warp), np.float32, 2.0 / 255.0, -1.0)
        outputs = self.detector.run(tensor)
        self.detector_runs += 1
        kps = decode_detections(outputs[self._det_boxes][0], outputs[self._det_scores][0], self.anchors)
        if kps is None:
            return None
        pts = warp.points_to_frame(kps[:2] * DETECTOR_SIZE)
        return roi_from_points(pts[0], pts[1])

    def decode(self, outputs: list[np.ndarray], warp: RegionWarp, w: int, h: int) -> Decoded:
        """The 17 COCO keypoints and the extras from the 39 landmark points; the pose flag as score."""
        raw = outputs[self._lm_points].reshape(-1, 5)
        flag = float(outputs[self._lm_flag].reshape(-1)[0])
        pts = np.empty((len(raw), 3), dtype=np.float64)
        pts[:, :2] = warp.points_to_frame(raw[:, :2])  # frame pixels
        pts[:, 2] = _sigmoid(raw[:, 3])  # visibility
        coco = pts[list(COCO_FROM_BLAZEPOSE)]
        kps = keypoint_array(coco[:, :2] / (w, h), coco[:, 2])
        extras = {
            name: np.array(
                [min(max(pts[i, 0] / w, 0.0), 1.0), min(max(pts[i, 1] / h, 0.0), 1.0), pts[i, 2]],
                dtype=np.float32,
            )
            for name, i in EXTRAS_FROM_BLAZEPOSE.items()
        }
        # auxiliary points 33 (hip centre) and 34 (size/tilt) give the next frame's region
        return Decoded(kps, flag, extras, aux=pts[33:35, :2])

    def follow(self, found: Decoded, w: int, h: int) -> None:
        if self.options.tracking:
            self._roi = roi_from_points(found.aux[0], found.aux[1])


def _output_with_shape(model: TFLiteModel, last_dim: int) -> int:
    for i, d in enumerate(model.outputs):
        shape = tuple(int(x) for x in d["shape"])
        if shape[-1] == last_dim and (len(shape) != 2 or shape[0] == 1):
            return i
    shapes = [tuple(int(x) for x in d["shape"]) for d in model.outputs]
    raise ModelLoadError(f"{model.path}: no output ending in {last_dim}; outputs are {shapes}")
