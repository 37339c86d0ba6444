"""One Euro smoothing of keypoints: less jitter at rest, little lag in motion, an off switch."""

from __future__ import annotations

import numpy as np
import pytest

from hiitpi.pose.smoothing import OneEuroFilter, PoseSmoother
from hiitpi.pose.types import Pose
from tests.test_pose_support import clip_frames, estimators, mid  # noqa: F401  (fixture)


def _pose(xy: np.ndarray, t: float, w: int = 640, h: int = 480, extras=None) -> Pose:
    kps = np.zeros((17, 3), np.float32)
    kps[:, :2] = xy
    kps[:, 2] = 0.9
    return Pose(keypoints=kps, score=0.9, timestamp=t, width=w, height=h, extras=extras or {})


def test_constant_input_stays_put():
    f = OneEuroFilter()
    for i in range(20):
        out = f(np.array([100.0, 200.0]), i / 30)
    assert out == pytest.approx([100.0, 200.0])


def test_jitter_at_rest_is_reduced():
    rng = np.random.default_rng(0)
    f = OneEuroFilter(min_cutoff=1.0, beta=0.0)
    raw = 300 + rng.normal(0, 3, size=300)
    out = np.array([f(np.array([x]), i / 30)[0] for i, x in enumerate(raw)])
    assert out[30:].std() < 0.5 * raw[30:].std()


def test_beta_cuts_lag_on_fast_moves():
    """A joint moving at 600 px/s: more beta, less lag behind it."""
    t = np.arange(60) / 30
    x = 600 * t

    def lag(beta):
        f = OneEuroFilter(min_cutoff=1.0, beta=beta)
        out = [f(np.array([v]), ti)[0] for v, ti in zip(x, t, strict=True)]
        return x[-1] - out[-1]

    assert 0 < lag(0.05) < lag(0.0)
    assert lag(0.05) < 40  # px


def test_poses_are_smoothed_in_pixels_and_scores_pass_through():
    rng = np.random.default_rng(1)
    sm = PoseSmoother(min_cutoff=1.0, beta=0.0)
    base = rng.uniform(0.2, 0.8, size=(17, 2)).astype(np.float32)
    outs = []
    for i in range(60):
        noisy = base + rng.normal(0, 0.01, size=base.shape).astype(np.float32)
        out = sm.filter(_pose(noisy, i / 30))
        assert out.keypoints[:, 2] == pytest.approx(0.9)
        assert out.timestamp == pytest.approx(i / 30)
        outs.append(out.keypoints[:, :2])
    err = np.abs(np.array(outs[20:]) - base).mean()
    assert err < 0.006  # the raw noise is 0.008 mean absolute


def test_disabled_returns_the_pose_unchanged():
    sm = PoseSmoother(enabled=False)
    p = _pose(np.full((17, 2), 0.5), 0.0)
    assert sm.filter(p) is p


def test_reset_and_restart_conditions():
    sm = PoseSmoother(min_cutoff=0.5, beta=0.0)
    sm.filter(_pose(np.full((17, 2), 0.2), 0.0))
    moved = _pose(np.full((17, 2), 0.8), 1 / 30)
    assert sm.filter(moved).keypoints[0, 0] < 0.5  # smoothed towards the old place
    sm.reset()
    assert sm.filter(moved).keypoints[0, 0] == pytest.approx(0.8)
    # a new frame size (camera restarted at another resolution) starts afresh
    sm.filter(_pose(np.full((17, 2), 0.2), 2 / 30))
    assert sm.filter(_pose(np.full((17, 2), 0.8), 3 / 30, w=1280, h=720)).keypoints[0, 0] == pytest.approx(
        0.8
    )
    # a gap longer than a second starts afresh; time going backwards (a new clip) too
    sm.filter(_pose(np.full((17, 2), 0.2), 4 / 30, w=1280, h=720))
    assert sm.filter(_pose(np.full((17, 2), 0.8), 3.0, w=1280, h=720)).keypoints[0, 0] == pytest.approx(0.8)
    assert sm.filter(_pose(np.full((17, 2), 0.3), 1.0, w=1280, h=720)).keypoints[0, 0] == pytest.approx(0.3)


def test_extras_are_smoothed_too():
    sm = PoseSmoother(min_cutoff=0.5, beta=0.0)
    heel = {"left_heel": np.array([0.2, 0.9, 0.8], np.float32)}
    sm.filter(_pose(np.full((17, 2), 0.5), 0.0, extras=heel))
    out = sm.filter(
        _pose(np.full((17, 2), 0.5), 1 / 30, extras={"left_heel": np.array([0.4, 0.9, 0.7], np.float32)})
    )
    assert 0.2 < out.extras["left_heel"][0] < 0.4
    assert out.extras["left_heel"][2] == pytest.approx(0.7)


def test_from_settings(settings_factory):
    s = settings_factory()
    sm = PoseSmoother.from_settings(s.pose.smoothing)
    assert sm.enabled == s.pose.smoothing.enabled
    with pytest.raises(ValueError):
        OneEuroFilter(min_cutoff=0)


def test_real_clip_less_jitter_same_motion(shared_data, estimators):  # noqa: F811
    """MoveNet on 90 frames of a real squat clip: the default smoother cuts frame-to-frame jitter
    (second differences) while keeping the squat's hip travel."""
    est = estimators("movenet-lightning")
    frames = clip_frames(shared_data, "squat/yuyoujiang_squat.mp4", 0.0, count=90)
    sm = PoseSmoother()  # the defaults of [pose.smoothing]
    raw, smooth = [], []
    for i, f in enumerate(frames):
        pose = est.estimate(f, i / 30)
        assert pose is not None
        raw.append(mid(pose, "left_shoulder", "right_shoulder"))
        smooth.append(mid(sm.filter(pose), "left_shoulder", "right_shoulder"))
    raw, smooth = np.array(raw)[5:], np.array(smooth)[5:]
    jitter_raw = np.abs(np.diff(raw, n=2, axis=0)).mean()
    jitter_smooth = np.abs(np.diff(smooth, n=2, axis=0)).mean()
    assert jitter_smooth < 0.75 * jitter_raw  # measured 0.64
    travel_raw = np.ptp(raw[:, 1])
    assert travel_raw > 50  # px: the squat moves the shoulders down and up
    assert np.ptp(smooth[:, 1]) > 0.85 * travel_raw
