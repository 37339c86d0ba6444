"""A dim picture is brightened before the pose model (`hiitpi.pose.exposure`, `[pose] exposure`)."""

from __future__ import annotations

import numpy as np
import pytest

from hiitpi.pose.exposure import MAX_GAIN, RELIT, TARGET, Exposure
from tests.test_pose_support import make_settings, read_image


def dimmed(img: np.ndarray, light: float, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """``img`` with ``light`` of its light and a sensor's noise (σ of 255), as a dim room films it."""
    rng = np.random.default_rng(seed)
    out = img.astype(np.float32) * light + rng.normal(0.0, noise, img.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def test_a_well_lit_picture_is_left_as_it_is(shared_data):
    img = read_image(shared_data, "squat.bmp")
    exp = Exposure()
    assert exp.gain(img) == 1.0
    assert exp.apply(img, 1.0) is img
    # nothing in the picture (a lens cap, a black frame) is not brightened either
    assert exp.gain(np.zeros((120, 160, 3), np.uint8)) == 1.0


@pytest.mark.parametrize("light", [0.6, 0.3])
def test_a_dim_picture_gets_its_highlights_back(shared_data, light):
    img = read_image(shared_data, "squat.bmp")
    exp = Exposure()
    dim = dimmed(img, light)
    gain = exp.gain(dim)
    assert 1.0 < gain <= MAX_GAIN
    lifted = exp.apply(dim, gain)
    grid = lifted[::8, ::8].max(axis=2)
    # the brightest percent is where a camera's auto-exposure would put it
    assert abs(float(np.percentile(grid, 99)) - TARGET) <= 3
    assert lifted.dtype == np.uint8 and lifted.shape == img.shape


def test_the_gain_stops_where_only_noise_is_left(shared_data):
    img = read_image(shared_data, "squat.bmp")
    exp = Exposure()
    assert exp.gain(dimmed(img, 0.05)) == MAX_GAIN
    # saturates at white instead of wrapping round
    assert int(exp.apply(np.full((4, 4, 3), 200, np.uint8), 4.0).min()) == 255


def test_the_backend_brightens_its_input_not_the_frame(shared_data, model_mirror, tmp_path):
    """`estimate` reads the frame's gain and the model sees the brightened crop; the frame is not
    changed; `[pose] exposure = "off"` gives a backend that leaves the input as it is."""
    from hiitpi.pose.registry import create_estimator

    img = dimmed(read_image(shared_data, "squat.bmp"), 0.25, noise=6.0)
    before = img.copy()
    est = create_estimator(make_settings(model_mirror, tmp_path, device="cpu"))
    seen = []
    run = est.input_model.run
    est.input_model.run = lambda tensor: seen.append(tensor.copy()) or run(tensor)
    pose = est.estimate(img, 0.0)
    assert pose is not None and est.frame_gain == pytest.approx(Exposure().gain(img))
    assert np.array_equal(img, before)
    est_off = create_estimator(make_settings(model_mirror, tmp_path, device="cpu", exposure="off"))
    assert est_off.exposure is None
    run_off = est_off.input_model.run
    est_off.input_model.run = lambda tensor: seen.append(tensor.copy()) or run_off(tensor)
    est_off.estimate(img, 0.0)
    assert est_off.frame_gain == 1.0
    lit, unlit = seen
    # the same crop (the first frame is letterboxed), brighter by the gain
    assert float(lit.mean()) == pytest.approx(float(unlit.mean()) * est.frame_gain, rel=0.05)


def test_poses_seen_without_the_exposure_are_cached_apart(shared_data, model_mirror, tmp_path):
    from hiitpi.offline.poses import pose_cache_key

    clip = shared_data / "clips" / "squat" / "calimiro_squat_19.mp4"
    auto = pose_cache_key(clip, make_settings(model_mirror, tmp_path))
    off = pose_cache_key(clip, make_settings(model_mirror, tmp_path, exposure="off"))
    assert auto != off


def test_poses_made_by_another_opencv_or_runtime_are_not_reused(
    shared_data, model_mirror, tmp_path, monkeypatch
):
    from hiitpi.offline import poses

    clip = shared_data / "clips" / "squat" / "calimiro_squat_19.mp4"
    settings = make_settings(model_mirror, tmp_path)
    here = poses.pose_cache_key(clip, settings)
    assert set(poses.pose_libraries()) >= {"opencv"} and len(poses.pose_libraries()) >= 2
    for lib in poses.pose_libraries():
        other = {**poses.pose_libraries(), lib: "0.0.1"}
        monkeypatch.setattr(poses, "pose_libraries", lambda other=other: other)
        assert poses.pose_cache_key(clip, settings) != here


def test_the_highlights_are_numpys_99th_percentile():
    """The fast percentile (by partition) is np.percentile's, on frames of any size and light."""
    rng = np.random.default_rng(7)
    exp = Exposure()
    for _ in range(200):
        h, w = rng.integers(16, 700, 2)
        frame = rng.integers(0, rng.integers(2, 256), (h, w, 3), dtype=np.uint8)
        highlights = float(np.percentile(frame[::8, ::8].max(axis=2), 99))
        want = 1.0 if highlights >= TARGET or highlights < 1 else min(MAX_GAIN, TARGET / highlights)
        assert exp.gain(frame) == pytest.approx(want, rel=1e-12)


def test_too_dark_is_said_at_the_most_gain_and_unsaid_only_well_below_it():
    """A picture whose gain moves about the most with the noise does not flicker between too dark
    and lit: it is too dark at the most, and lit again only under `RELIT` of it."""
    exp = Exposure()
    dark = False
    said = []
    for gain in (3.9, MAX_GAIN, 3.8, 3.5, MAX_GAIN, 3.3, 3.8, 1.0):
        dark = exp.too_dark(gain, dark)
        said.append(dark)
    assert said == [False, True, True, True, True, False, False, False]


def test_the_backend_says_when_its_picture_is_too_dark(shared_data, model_mirror, tmp_path):
    """`estimate` keeps ``too_dark`` for the frames so far; a new source (`reset`) starts lit, and
    a backend without the exposure never says it."""
    from hiitpi.pose.registry import create_estimator

    img = read_image(shared_data, "squat.bmp")
    est = create_estimator(make_settings(model_mirror, tmp_path, device="cpu"))
    est.estimate(img, 0.0)
    assert not est.too_dark
    est.estimate(dimmed(img, 0.03), 0.033)
    assert est.too_dark and est.frame_gain == MAX_GAIN
    est.estimate(dimmed(img, 0.22), 0.067)  # lighter (a gain of 3.7), still within the margin
    assert est.too_dark and RELIT * MAX_GAIN <= est.frame_gain < MAX_GAIN
    est.reset()
    assert not est.too_dark
    off = create_estimator(make_settings(model_mirror, tmp_path, device="cpu", exposure="off"))
    off.estimate(dimmed(img, 0.03), 0.0)
    assert not off.too_dark


@pytest.mark.parametrize(
    "dark, frames, noted", [(0, 300, False), (29, 300, False), (30, 300, True), (0, 0, False)]
)
def test_an_analysis_notes_a_video_filmed_in_the_dark(dark, frames, noted):
    from hiitpi.offline.analyze import AnalysisResult

    r = AnalysisResult(
        video="v.mp4", workout="squat", model="movenet-lightning", frames=frames, fps=30.0,
        duration_s=frames / 30, reps=3, no_reps=0, attempts=3, counting="judge", hold_s=0.0,
        events=[], timings={}, wall_s=1.0, dark_frames=dark,
    )  # fmt: skip
    notes = r.notes()
    assert bool(notes) == noted
    if noted:
        (note,) = notes
        assert note.startswith("filmed too dark to count reliably: 30 of its 300 frames (10 %)")
        assert "film with a light on" in note
    assert r.to_dict()["dark_frames"] == dark
