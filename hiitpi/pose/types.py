"""The one `Pose` type every pose backend produces and every consumer reads."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: The 17 COCO keypoints, in the order every model and the referee use.
KEYPOINT_NAMES: tuple[str, ...] = (
    "nose",
    "left_eye",
    "right_eye",
    "left_ear",
    "right_ear",
    "left_shoulder",
    "right_shoulder",
    "left_elbow",
    "right_elbow",
    "left_wrist",
    "right_wrist",
    "left_hip",
    "right_hip",
    "left_knee",
    "right_knee",
    "left_ankle",
    "right_ankle",
)
KEYPOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(KEYPOINT_NAMES)}

#: Points some models add beyond COCO (BlazePose has heels and toes).
EXTRA_NAMES: tuple[str, ...] = ("left_heel", "right_heel", "left_foot_index", "right_foot_index")

#: Skeleton edges for drawing, as pairs of keypoint names.
SKELETON_EDGES: tuple[tuple[str, str], ...] = (
    ("left_shoulder", "right_shoulder"),
    ("left_shoulder", "left_elbow"),
    ("left_elbow", "left_wrist"),
    ("right_shoulder", "right_elbow"),
    ("right_elbow", "right_wrist"),
    ("left_shoulder", "left_hip"),
    ("right_shoulder", "right_hip"),
    ("left_hip", "right_hip"),
    ("left_hip", "left_knee"),
    ("left_knee", "left_ankle"),
    ("right_hip", "right_knee"),
    ("right_knee", "right_ankle"),
    ("nose", "left_eye"),
    ("nose", "right_eye"),
    ("left_eye", "left_ear"),
    ("right_eye", "right_ear"),
)


def keypoint_array(xy: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(17, 3) float32 keypoints: ``xy`` normalised to the frame (clipped to it) and a score each."""
    kps = np.empty((len(xy), 3), dtype=np.float32)
    kps[:, :2] = np.clip(xy, 0.0, 1.0)
    kps[:, 2] = scores
    return kps


@dataclass(slots=True)
class Pose:
    """One person's keypoints in one frame.

    ``keypoints`` is a float32 array of shape (17, 3): x and y normalised to the *full* frame
    (0..1, left-to-right and top-to-bottom) and a confidence score in 0..1, in `KEYPOINT_NAMES`
    order. ``width``/``height`` are the frame's size in pixels, so consumers can measure angles
    without distorting them by the aspect ratio.
    """

    keypoints: np.ndarray
    score: float
    timestamp: float
    width: int
    height: int
    extras: dict[str, np.ndarray] = field(default_factory=dict)

    def point(self, name: str) -> np.ndarray:
        """(x, y, score) of a COCO keypoint or an extra point, by name."""
        idx = KEYPOINT_INDEX.get(name)
        if idx is not None:
            return self.keypoints[idx]
        return self.extras[name]

    def pixels(self) -> np.ndarray:
        """Keypoints as (17, 2) pixel coordinates of the full frame."""
        return self.keypoints[:, :2] * np.array([self.width, self.height], dtype=np.float32)

    def to_dict(self) -> dict:
        """A JSON-ready view: keypoints by name in COCO order, plus extras."""
        out = {
            "score": round(float(self.score), 4),
            "timestamp": round(float(self.timestamp), 4),
            "width": self.width,
            "height": self.height,
            "keypoints": [
                {
                    "name": name,
                    "x": round(float(kp[0]), 4),
                    "y": round(float(kp[1]), 4),
                    "score": round(float(kp[2]), 4),
                }
                for name, kp in zip(KEYPOINT_NAMES, self.keypoints, strict=True)
            ],
        }
        if self.extras:
            out["extras"] = [
                {
                    "name": name,
                    "x": round(float(p[0]), 4),
                    "y": round(float(p[1]), 4),
                    "score": round(float(p[2]), 4),
                }
                for name, p in self.extras.items()
            ]
        return out
