"""The skeleton overlay: on the image, on black (privacy mode), with low-score joints left out."""

from __future__ import annotations

import numpy as np
import pytest

from hiitpi.pose.draw import LEFT_COLOUR, RIGHT_COLOUR, draw_pose
from hiitpi.pose.types import KEYPOINT_INDEX, Pose


def _pose(w=320, h=240, score=0.9) -> Pose:
    kps = np.zeros((17, 3), np.float32)
    kps[:, 2] = score
    kps[:, 0] = np.linspace(0.3, 0.7, 17)
    kps[:, 1] = np.linspace(0.1, 0.9, 17)
    return Pose(keypoints=kps, score=score, timestamp=0.0, width=w, height=h)


def test_draws_on_a_copy_of_the_frame():
    frame = np.full((240, 320, 3), 90, np.uint8)
    out = draw_pose(frame, _pose())
    assert (frame == 90).all()  # untouched
    changed = (out != 90).any(axis=2)
    assert changed.sum() > 200
    # every joint is drawn where it is
    for x, y, _ in _pose().keypoints:
        assert changed[round(y * 240), round(x * 320)]
    # left and right limbs in their colours
    colours = {tuple(int(c) for c in px) for px in out.reshape(-1, 3)}
    assert LEFT_COLOUR in colours and RIGHT_COLOUR in colours


def test_in_place():
    frame = np.zeros((240, 320, 3), np.uint8)
    out = draw_pose(frame, _pose(), copy=False)
    assert out is frame and frame.any()


def test_blank_background_for_privacy():
    frame = np.full((240, 320, 3), 200, np.uint8)
    out = draw_pose(frame, _pose(), blank=True)
    assert out.shape == frame.shape
    assert (out == 200).all(axis=2).sum() < 50  # the picture is gone (only anti-aliased edges may match)
    assert (out == 0).all(axis=2).mean() > 0.8  # black, but for the skeleton
    assert out.any()
    # no frame at all: the pose says how big
    alone = draw_pose(None, _pose(w=200, h=100))
    assert alone.shape == (100, 200, 3) and alone.any()


def test_low_scores_are_not_drawn():
    pose = _pose()
    pose.keypoints[:, 2] = 0.05
    out = draw_pose(np.zeros((240, 320, 3), np.uint8), pose, min_score=0.2)
    assert not out.any()
    pose.keypoints[KEYPOINT_INDEX["nose"], 2] = 0.9
    out = draw_pose(np.zeros((240, 320, 3), np.uint8), pose, min_score=0.2)
    assert out.any()


def test_no_person():
    frame = np.full((10, 10, 3), 7, np.uint8)
    assert (draw_pose(frame, None) == 7).all()
    assert not draw_pose(frame, None, blank=True).any()
    with pytest.raises(ValueError):
        draw_pose(None, None)


def test_extras_are_drawn():
    pose = _pose()
    base = draw_pose(None, pose)
    pose.extras["left_heel"] = np.array([0.1, 0.95, 0.9], np.float32)
    with_heel = draw_pose(None, pose)
    assert (
        with_heel[int(0.95 * 240), int(0.1 * 320)].any() and not base[int(0.95 * 240), int(0.1 * 320)].any()
    )
