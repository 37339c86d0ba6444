"""Shared helpers for the pose tests: estimators on the real models, real frames, plausibility checks.

(No tests here; the other test_pose*.py files import from it.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hiitpi.pose.types import KEYPOINT_INDEX, Pose

ALL_BACKENDS = ("movenet-lightning", "movenet-thunder", "posenet", "blazepose-full")

#: Upright people in real clips (squats and jumping jacks, landscape and portrait), by path
#: under clips/, and the fraction of the clip to take the frame from.
UPRIGHT_CLIP_FRAMES = (
    ("squat/yuyoujiang_squat.mp4", 0.5),  # side view, 960x544
    ("squat/apurvo_squats_form.mp4", 0.5),  # front, portrait 480x854
    ("squat/calimiro_squat_19.mp4", 0.5),  # front, 1280x720
    ("jumping_jack/unknown550_jj_4.mp4", 0.5),  # front, portrait 360x640
    ("jumping_jack/ahmedlila_jj_12.mp4", 0.5),  # front, portrait 406x720
    ("jumping_jack/afrl_jumpingjacks.mp4", 0.5),  # front, 640x720
)


def make_settings(model_mirror: Path, data_dir: Path, **pose: object):
    from hiitpi.config import load_settings

    overrides = {("general", "data_dir"): str(data_dir), ("models", "mirror"): str(model_mirror)}
    overrides.update({("pose", k): v for k, v in pose.items()})
    return load_settings(None, env={}, overrides=overrides)


@pytest.fixture(scope="session")
def estimators(model_mirror, tmp_path_factory):
    """Lazily built estimators on the real models, one per backend name, shared by the session."""
    from hiitpi.pose.registry import create_estimator

    cache: dict[str, object] = {}
    data_dir = tmp_path_factory.mktemp("pose-data")

    def get(name: str):
        if name not in cache:
            cache[name] = create_estimator(make_settings(model_mirror, data_dir, model=name, device="cpu"))
        est = cache[name]
        est.reset()
        return est

    return get


def read_image(shared_data: Path, name: str) -> np.ndarray:
    import cv2

    img = cv2.imread(str(shared_data / "images" / name))
    assert img is not None, f"cannot read {name}"
    return img


def clip_frames(shared_data: Path, rel: str, frac: float, count: int = 1) -> list[np.ndarray]:
    """``count`` consecutive frames of a real clip starting at ``frac`` of its length."""
    import cv2

    cap = cv2.VideoCapture(str(shared_data / "clips" / rel))
    try:
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        cap.set(cv2.CAP_PROP_POS_FRAMES, int(n * frac))
        frames = []
        for _ in range(count):
            ok, frame = cap.read()
            assert ok, f"cannot read frame of {rel}"
            frames.append(frame)
    finally:
        cap.release()
    return frames


def settle(est, frame: np.ndarray, n: int = 3) -> Pose | None:
    """The pose after ``n`` passes over a still frame (lets crop/ROI tracking lock on)."""
    pose = None
    for i in range(n):
        pose = est.estimate(frame, i / 30)
    return pose


def px(pose: Pose, name: str) -> np.ndarray:
    """A keypoint in frame pixels."""
    p = pose.point(name)
    return np.array([p[0] * pose.width, p[1] * pose.height])


def mid(pose: Pose, a: str, b: str) -> np.ndarray:
    return (px(pose, a) + px(pose, b)) / 2


def assert_upright_person(pose: Pose | None, box: tuple[float, float, float, float] | None = None) -> None:
    """Plausibility of a standing/squatting person's keypoints.

    Head above shoulders above hips above ankles; each forearm no longer than 1.8x its upper
    arm and each shin no longer than 2x its thigh (wrists near arms, ankles near legs); the
    shoulder and hip widths not larger than the torso is long x 2.5; every keypoint inside
    ``box`` (x0, y0, x1, y1 normalised) when given.
    """
    assert pose is not None, "no person found"
    assert pose.keypoints.shape == (17, 3)
    assert np.all((pose.keypoints[:, :2] >= 0) & (pose.keypoints[:, :2] <= 1))
    nose_y = px(pose, "nose")[1]
    shoulders = mid(pose, "left_shoulder", "right_shoulder")
    hips = mid(pose, "left_hip", "right_hip")
    ankles = mid(pose, "left_ankle", "right_ankle")
    assert nose_y < shoulders[1] < hips[1] < ankles[1], (nose_y, shoulders[1], hips[1], ankles[1])
    torso = np.linalg.norm(shoulders - hips)
    assert torso > 0.05 * max(pose.width, pose.height), "torso implausibly small"
    for side in ("left", "right"):
        upper = np.linalg.norm(px(pose, f"{side}_shoulder") - px(pose, f"{side}_elbow"))
        fore = np.linalg.norm(px(pose, f"{side}_elbow") - px(pose, f"{side}_wrist"))
        assert fore <= 1.8 * upper + 0.1 * torso, (
            f"{side} wrist far from its arm: {fore:.0f} vs {upper:.0f} px"
        )
        thigh = np.linalg.norm(px(pose, f"{side}_hip") - px(pose, f"{side}_knee"))
        shin = np.linalg.norm(px(pose, f"{side}_knee") - px(pose, f"{side}_ankle"))
        assert shin <= 2.0 * thigh + 0.1 * torso, (
            f"{side} ankle far from its leg: {shin:.0f} vs {thigh:.0f} px"
        )
    for a, b in (("left_shoulder", "right_shoulder"), ("left_hip", "right_hip")):
        assert np.linalg.norm(px(pose, a) - px(pose, b)) <= 2.5 * torso
    if box is not None:
        x0, y0, x1, y1 = box
        xy = pose.keypoints[:, :2]
        outside = [
            name
            for name, (x, y) in zip(KEYPOINT_INDEX, xy, strict=True)
            if not (x0 <= x <= x1 and y0 <= y <= y1)
        ]
        assert not outside, f"keypoints outside the person: {outside}"
