"""Skeleton overlay: on the camera image (annotated video, MJPEG) or on black (privacy mode)."""

from __future__ import annotations

import functools
import logging

import cv2
import numpy as np

from hiitpi.pose.types import KEYPOINT_NAMES, SKELETON_EDGES, Pose

log = logging.getLogger(__name__)

#: BGR colours: the person's left side, right side, and the middle (face, hips/shoulders lines).
LEFT_COLOUR = (255, 170, 0)
RIGHT_COLOUR = (0, 140, 255)
MIDDLE_COLOUR = (80, 220, 80)
#: Extra points (heels, toes) hang off these keypoints when drawn.
_EXTRA_PARENT = {
    "left_heel": "left_ankle",
    "right_heel": "right_ankle",
    "left_foot_index": "left_ankle",
    "right_foot_index": "right_ankle",
}


Colour = tuple[int, int, int]


def _side_colour(a: str, b: str = "") -> Colour:
    if a.startswith("left") and (not b or b.startswith("left")):
        return LEFT_COLOUR
    if a.startswith("right") and (not b or b.startswith("right")):
        return RIGHT_COLOUR
    return MIDDLE_COLOUR


def blank_canvas(width: int, height: int) -> np.ndarray:
    """A black BGR image, for drawing the skeleton without the camera picture."""
    return np.zeros((height, width, 3), dtype=np.uint8)


def draw_pose(
    frame_bgr: np.ndarray | None,
    pose: Pose | None,
    *,
    min_score: float = 0.2,
    blank: bool = False,
    copy: bool = True,
    thickness: int | None = None,
    antialias: bool = True,
) -> np.ndarray:
    """Draw ``pose``'s skeleton on ``frame_bgr`` and return the image.

    Joints and bones whose score is below ``min_score`` are left out. ``blank=True`` (or
    ``frame_bgr=None``) draws on a black image of the frame's size (privacy mode); with no frame
    the size comes from the pose. ``copy=False`` draws in place. ``pose=None`` returns the
    image (or blank) untouched, so callers can pass "no person" straight through.
    ``antialias=False`` draws plain lines (a quarter of the cost: the live stream, 15 times a
    second, where JPEG blurs the edges anyway); pictures that are kept stay smooth.
    """
    if frame_bgr is None:
        if pose is None:
            raise ValueError("draw_pose needs a frame or a pose to know the image size")
        canvas = blank_canvas(pose.width, pose.height)
    elif blank:
        canvas = blank_canvas(frame_bgr.shape[1], frame_bgr.shape[0])
    else:
        canvas = frame_bgr.copy() if copy else frame_bgr
    if pose is None:
        return canvas
    h, w = canvas.shape[:2]
    t = thickness or max(2, round(min(w, h) / 160))
    radius = t + 1
    line = cv2.LINE_AA if antialias else cv2.LINE_8
    colours, edges = _plan(tuple(pose.extras))
    kps = pose.keypoints.tolist()
    if pose.extras:
        kps += [p.tolist() for p in pose.extras.values()]
    # pixel centres of the points seen well enough (None: left out)
    px = [(round(x * w), round(y * h)) if s >= min_score else None for x, y, s, *_ in kps]
    for a, b, colour in edges:
        pa, pb = px[a], px[b]
        if pa is not None and pb is not None:
            cv2.line(canvas, pa, pb, colour, t, line)
    for centre, colour in zip(px, colours, strict=True):
        if centre is not None:
            cv2.circle(canvas, centre, radius, colour, -1, line)
            cv2.circle(canvas, centre, radius, (255, 255, 255), 1, line)
    return canvas


@functools.lru_cache(maxsize=8)
def _plan(extras: tuple[str, ...]) -> tuple[list[Colour], list[tuple[int, int, Colour]]]:
    """For a pose with these extra points: each point's colour (in the keypoints-then-extras
    order) and the bones as (point, point, colour) — worked out once, not for every picture."""
    order = list(KEYPOINT_NAMES) + list(extras)
    index = {name: i for i, name in enumerate(order)}
    pairs = list(SKELETON_EDGES) + [(parent, name) for name, parent in _EXTRA_PARENT.items() if name in index]
    if "left_heel" in index and "left_foot_index" in index:
        pairs.append(("left_heel", "left_foot_index"))
    if "right_heel" in index and "right_foot_index" in index:
        pairs.append(("right_heel", "right_foot_index"))
    edges = [(index[a], index[b], _side_colour(a, b)) for a, b in pairs]
    return [_side_colour(name) for name in order], edges


__all__ = ["blank_canvas", "draw_pose"]
