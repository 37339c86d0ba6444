"""The pose model run on a turned picture turned upright, its keypoints put back where the picture
shows them.

A pose model is trained on people standing up the picture: on a camera stood on its side MoveNet
still finds the person, but less surely (the shared clips turned a quarter: mean keypoint score
0.54 → 0.29 on a push-up filmed on a phone, nobody found in 110 of its 469 frames). Once the
referee has read the picture's turn from the body (`hiitpi.referee.orientation`), the image is
turned upright before the model and the keypoints are mapped back into the picture as it is, so
everything after the model — the smoothing, the referee (which keeps turning them upright), the
skeleton drawn on the video — is unchanged.

``turn`` is where the body's up points in the picture, clockwise from up: 0, 90 (up points right),
180, 270 (up points left).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from hiitpi.pose.types import Pose

#: quarter turns anticlockwise (np.rot90's k) that turn a picture of each turn upright
_QUARTERS = {90: 1, 180: 2, 270: 3}


def upright_image(image: np.ndarray, turn: int) -> np.ndarray:
    """The picture turned so that the body's up points up (a contiguous copy)."""
    return image if turn == 0 else np.ascontiguousarray(np.rot90(image, _QUARTERS[turn]))


def _back(xy: np.ndarray, turn: int) -> np.ndarray:
    """Normalised (x, y) in the upright picture → in the picture as it is (a copy)."""
    x, y = xy[..., 0], xy[..., 1]
    if turn == 90:
        return np.stack([1.0 - y, x], axis=-1)
    if turn == 270:
        return np.stack([y, 1.0 - x], axis=-1)
    return np.stack([1.0 - x, 1.0 - y], axis=-1)


def pose_in_picture(pose: Pose | None, turn: int) -> Pose | None:
    """A pose found on the upright picture, as the picture (turned by ``turn``) shows it."""
    if pose is None or turn == 0:
        return pose
    kps = pose.keypoints.copy()
    kps[:, :2] = _back(kps[:, :2].astype(np.float64), turn)
    extras = {}
    for name, pt in pose.extras.items():
        q = np.array(pt, dtype=np.float32, copy=True)
        q[..., :2] = _back(q[..., :2].astype(np.float64), turn)
        extras[name] = q
    w, h = (pose.height, pose.width) if turn in (90, 270) else (pose.width, pose.height)
    return Pose(kps, pose.score, pose.timestamp, w, h, extras)


def estimate_upright(
    estimator: Any, image: np.ndarray, timestamp: float, turn: int, **kw: Any
) -> Pose | None:
    """``estimator.estimate`` on the picture turned upright; the pose as the picture shows it."""
    if turn == 0:
        return estimator.estimate(image, timestamp, **kw)
    return pose_in_picture(estimator.estimate(upright_image(image, turn), timestamp, **kw), turn)
