"""Frames of any size, shape and type through every backend: a pose, None, or a clear `FrameError`;
never an exception the caller (the engine's analysis thread, `hiitpi analyze`) does not expect."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hiitpi.errors import HiitpiError
from hiitpi.pose.geometry import MIN_FRAME_SIDE, FrameError
from tests.test_pose_support import (  # noqa: F401  (estimators is a fixture)
    ALL_BACKENDS,
    assert_upright_person,
    estimators,
    make_settings,
    read_image,
    settle,
)

#: (height, width) of frames too small to hold a person: no model run, no pose.
TOO_SMALL = [(0, 0), (1, 1), (2, 2), (7, 3000), (3000, 7), (MIN_FRAME_SIDE - 1, 640)]
#: Real images but odd: thin strips, tiny, huge. The backend runs and gives a pose or None.
ODD = [(MIN_FRAME_SIDE, MIN_FRAME_SIDE), (20, 3000), (3000, 20), (17, 33), (3000, 4000), (4000, 3000)]


def _check_pose(pose, w: int, h: int) -> None:
    if pose is None:
        return
    assert (pose.width, pose.height) == (w, h)
    assert pose.keypoints.shape == (17, 3) and np.isfinite(pose.keypoints).all()
    assert (pose.keypoints[:, :2] >= 0).all() and (pose.keypoints[:, :2] <= 1).all()
    assert 0 <= pose.score <= 1


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_frames_too_small_give_none(name, estimators):  # noqa: F811
    est = estimators(name)
    for h, w in TOO_SMALL:
        runs = sum(m.run_count for m in est.models.values())
        assert est.estimate(np.full((h, w, 3), 128, np.uint8), 0.0) is None, (h, w)
        assert sum(m.run_count for m in est.models.values()) == runs, "a model ran on a frame too small"


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_odd_and_huge_frames_give_a_pose_or_none(name, estimators, shared_data):  # noqa: F811
    est = estimators(name)
    rng = np.random.default_rng(12)
    img = read_image(shared_data, "squat.bmp")
    for h, w in ODD:
        for frame in (np.zeros((h, w, 3), np.uint8), rng.integers(0, 256, (h, w, 3), dtype=np.uint8)):
            for i in range(2):  # the second frame uses whatever tracking state the first left
                _check_pose(est.estimate(frame, i / 30), w, h)
        stretched = cv2.resize(img, (w, h), interpolation=cv2.INTER_LINEAR)
        _check_pose(settle(est, stretched), w, h)
    # the estimator is still sound after all that: the person in the real image is found
    est.reset()
    assert_upright_person(settle(est, img))


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_a_huge_frame_still_finds_the_person(name, estimators, shared_data):  # noqa: F811
    """squat.bmp (500x610) scaled up into a 4000x3000 frame: the same person, found."""
    est = estimators(name)
    img = read_image(shared_data, "squat.bmp")
    big = np.full((3000, 4000, 3), 235, np.uint8)
    scaled = cv2.resize(img, None, fx=4.5, fy=4.5, interpolation=cv2.INTER_LINEAR)
    y0, x0 = (3000 - scaled.shape[0]) // 2, 1000
    big[y0 : y0 + scaled.shape[0], x0 : x0 + scaled.shape[1]] = scaled
    assert_upright_person(settle(est, big))


@pytest.mark.parametrize("name", ALL_BACKENDS)
def test_views_of_a_frame_work_like_the_frame(name, estimators, shared_data):  # noqa: F811
    """Non-contiguous arrays (a mirrored view, every other row, Fortran order) are images too."""
    est = estimators(name)
    img = read_image(shared_data, "squat.bmp")
    for frame in (img[:, ::-1], img[::2, ::2], np.asfortranarray(img), img[10:-10, 5:]):
        est.reset()
        pose = settle(est, frame)
        _check_pose(pose, frame.shape[1], frame.shape[0])
        assert pose is not None


NOT_IMAGES = [
    ("grayscale 2-D", np.zeros((480, 640), np.uint8)),
    ("float", np.zeros((480, 640, 3), np.float32)),
    ("float 0..1", np.random.default_rng(1).random((480, 640, 3))),
    ("int16", np.zeros((480, 640, 3), np.int16)),
    ("BGRA", np.zeros((480, 640, 4), np.uint8)),
    ("one channel", np.zeros((480, 640, 1), np.uint8)),
    ("4-D batch", np.zeros((1, 480, 640, 3), np.uint8)),
    ("None", None),
    ("list", [[0, 0, 0]]),
    ("bytes", b"\xff\xd8\xff"),
]


@pytest.mark.parametrize("name", ALL_BACKENDS)
@pytest.mark.parametrize(("what", "frame"), NOT_IMAGES, ids=[w for w, _ in NOT_IMAGES])
def test_not_an_image_is_a_clear_error(name, what, frame, estimators):  # noqa: F811
    with pytest.raises(FrameError) as exc:
        estimators(name).estimate(frame, 0.0)
    assert isinstance(exc.value, HiitpiError) and isinstance(exc.value, ValueError)
    msg = str(exc.value)
    assert "HxWx3 uint8 BGR" in msg and "got" in msg and len(msg.splitlines()) == 1


def test_a_1x1_video_gives_no_poses_not_a_crash(tmp_path, model_mirror):
    """Offline analysis of a 1x1 video (the case that used to raise 'frame too small')."""
    from hiitpi.offline.poses import video_poses

    path = tmp_path / "tiny.avi"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (1, 1))
    for _ in range(5):
        out.write(np.full((1, 1, 3), 100, np.uint8))
    out.release()
    poses, info = video_poses(
        path, make_settings(model_mirror, tmp_path / "data", device="cpu"), cache_dir=""
    )
    assert info.frames == 5 and poses == [None] * 5
