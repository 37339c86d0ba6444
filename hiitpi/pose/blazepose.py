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
from typing import Any

import numpy as np

from hiitpi.pose.geometry import Region, RegionWarp, check_frame, to_float_input
from hiitpi.pose.registry import register_backend
from hiitpi.pose.runtime import ModelLoadError, TFLiteModel, open_model
from hiitpi.pose.types import EXTRA_NAMES, Pose, keypoint_array

log = logging.getLogger(__name__)

#: BlazePose landmark index of each COCO keypoint, in COCO order.
COCO_FROM_BLAZEPOSE = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)
#: BlazePose landmark index of each extra point (EXTRA_NAMES order: heels, then toes).
EXTRAS_FROM_BLAZEPOSE = {"left_heel": 29, "right_heel": 30, "left_foot_index": 31, "right_foot_index": 32}
assert tuple(EXTRAS_FROM_BLAZEPOSE) == EXTRA_NAMES

DETECTOR_SIZE = 224
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


class BlazePoseEstimator:
    """BlazePose full: detector when needed, landmark model with region tracking."""

    def __init__(
        self,
        name: str,
        detector: TFLiteModel,
        landmark: TFLiteModel,
        min_score: float = 0.2,
        tracking: bool = True,
    ):
        self.name = name
        self.detector = detector
        self.landmark = landmark
        self.device = landmark.device
        self.min_score = min_score
        self.tracking = tracking
        for model, what, size in (
            (detector, "the BlazePose detector", 224),
            (landmark, "BlazePose landmark", 256),
        ):
            if model.input_shape != (1, size, size, 3) or np.dtype(model.input_dtype) != np.float32:
                raise ModelLoadError(
                    f"{model.path} does not look like {what}: input {model.input_shape} "
                    f"{np.dtype(model.input_dtype)}, expected (1, {size}, {size}, 3) float32"
                )
        self._det_boxes = _output_with_shape(detector, 12)
        self._det_scores = _output_with_shape(detector, 1)
        self._lm_points = _output_with_shape(landmark, 195)
        self._lm_flag = next(
            (i for i, d in enumerate(landmark.outputs) if tuple(int(x) for x in d["shape"]) == (1, 1)), None
        )
        if self._lm_flag is None:
            raise ModelLoadError(f"{landmark.path}: no (1, 1) pose flag output; is it pose_landmark_full?")
        self.anchors = ssd_anchors()
        n_boxes = int(detector.outputs[self._det_boxes]["shape"][1])
        if n_boxes != len(self.anchors):
            raise ModelLoadError(f"{detector.path}: {n_boxes} boxes, expected {len(self.anchors)} anchors")
        self._roi: Region | None = None
        self._frame_size: tuple[int, int] | None = None
        #: How many times the detector ran (tests and benchmarks read it).
        self.detector_runs = 0
        self.last_region: Region | None = None

    def reset(self) -> None:
        self._roi = None
        self._frame_size = None

    def close(self) -> None:
        self.detector = self.landmark = None  # type: ignore[assignment]

    def detect(self, frame: np.ndarray) -> Region | None:
        """Run the detector on the letterboxed frame; the landmark region of the best person."""
        h, w = frame.shape[:2]
        warp = RegionWarp(Region.letterbox(w, h), DETECTOR_SIZE, DETECTOR_SIZE)
        img = warp.sample(frame, rgb=True)
        tensor = to_float_input(img, 2.0 / 255.0, -1.0)
        outputs = self.detector.run(tensor)
        self.detector_runs += 1
        kps = decode_detections(outputs[self._det_boxes][0], outputs[self._det_scores][0], self.anchors)
        if kps is None:
            return None
        pts = warp.points_to_frame(kps[:2] * DETECTOR_SIZE)
        return roi_from_points(pts[0], pts[1])

    def landmarks(self, frame: np.ndarray, roi: Region) -> tuple[np.ndarray, float]:
        """(39, 3) frame pixels x, y and visibility (0..1) in ``roi``, and the pose flag."""
        warp = RegionWarp(roi, 256, 256)
        img = warp.sample(frame, rgb=True)
        tensor = to_float_input(img, 1.0 / 255.0, 0.0)
        outputs = self.landmark.run(tensor)
        raw = outputs[self._lm_points].reshape(-1, 5)
        flag = float(outputs[self._lm_flag].reshape(-1)[0])
        pts = np.empty((len(raw), 3), dtype=np.float64)
        pts[:, :2] = warp.points_to_frame(raw[:, :2])
        pts[:, 2] = _sigmoid(raw[:, 3])
        return pts, flag

    def estimate(self, frame: np.ndarray, timestamp: float) -> Pose | None:
        check_frame(frame)
        h, w = frame.shape[:2]
        if self._frame_size != (w, h):
            self._roi = None
            self._frame_size = (w, h)
        roi = self._roi if self.tracking else None
        if roi is None:
            roi = self.detect(frame)
            if roi is None:
                return None
        pts, flag = self.landmarks(frame, roi)
        self.last_region = roi
        if flag < POSE_FLAG_MIN or flag < self.min_score:
            self._roi = None
            return None
        # auxiliary points 33 (hip centre) and 34 (size/tilt) give the next frame's region
        self._roi = roi_from_points(pts[33, :2], pts[34, :2]) if self.tracking else None
        scale = np.array([w, h], dtype=np.float64)
        coco = pts[list(COCO_FROM_BLAZEPOSE)]
        kps = keypoint_array(coco[:, :2] / scale, coco[:, 2])
        extras = {}
        for name, idx in EXTRAS_FROM_BLAZEPOSE.items():
            p = pts[idx]
            extras[name] = np.array(
                [min(max(p[0] / w, 0.0), 1.0), min(max(p[1] / h, 0.0), 1.0), p[2]], dtype=np.float32
            )
        return Pose(keypoints=kps, score=flag, timestamp=float(timestamp), width=w, height=h, extras=extras)


def _output_with_shape(model: TFLiteModel, last_dim: int) -> int:
    for i, d in enumerate(model.outputs):
        shape = tuple(int(x) for x in d["shape"])
        if shape[-1] == last_dim and (len(shape) != 2 or shape[0] == 1):
            return i
    shapes = [tuple(int(x) for x in d["shape"]) for d in model.outputs]
    raise ModelLoadError(f"{model.path}: no output ending in {last_dim}; outputs are {shapes}")


@register_backend("blazepose-full")
def blazepose_full(settings: Any) -> BlazePoseEstimator:
    detector = open_model(settings, "blazepose-detector")
    landmark = open_model(settings, "blazepose-landmark-full")
    return BlazePoseEstimator("blazepose-full", detector, landmark, settings.pose.min_score)
