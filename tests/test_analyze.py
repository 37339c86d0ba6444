"""End to end on real clips: MoveNet → smoothing → referee, `hiitpi analyze`, the annotated video."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def settings(settings_factory):
    return settings_factory()


@pytest.mark.slow
@pytest.mark.parametrize(
    "clip, workout, lo, hi",
    [
        ("squat/calimiro_squat_19.mp4", "squat", 2, 2),
        ("jumping_jack/afrl_jumpingjacks.mp4", "jumping_jack", 3, 4),
        ("push_up/sumukh_incline_pushup.mp4", "push_up", 5, 5),
    ],
)
def test_real_clip_counts(settings, shared_data, clip, workout, lo, hi):
    from hiitpi.offline.analyze import analyze_video

    res = analyze_video(shared_data / "clips" / clip, settings, workout, progress=False)
    assert lo <= res.reps <= hi
    reps = [e for e in res.events if e.kind == "rep"]
    assert len(reps) == res.reps
    for e in reps:
        assert 0 <= e.t_start < e.t_end <= res.duration_s + 0.1
        assert e.eccentric_s is not None and e.concentric_s is not None
    assert res.timings["pose_ms"]["n"] == res.frames


@pytest.mark.slow
def test_frame_pipeline_stage_timings(settings, shared_data):
    from hiitpi.capture.video import VideoFileSource
    from hiitpi.engine.pipeline import PoseStage
    from hiitpi.pose.registry import create_estimator
    from hiitpi.pose.smoothing import PoseSmoother
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.machine import Referee

    rule = load_catalog(REPO / "rules").workout("squat")
    est = create_estimator(settings)
    stage = PoseStage(est, PoseSmoother.from_settings(settings.pose.smoothing), keep_times=True)
    referee = Referee(rule)
    source = VideoFileSource(shared_data / "clips" / "squat" / "calimiro_squat_19.mp4", paced=False)
    frames = source.frames()
    try:
        for frame in frames:
            pose = stage.process(frame.image, frame.timestamp)
            stage.referee((referee,), pose, frame.timestamp)
            if frame.seq >= 40:
                break
    finally:
        frames.close()
        est.close()
    assert pose is not None and pose.width == source.info.width
    summary = stage.times.summary()
    assert set(summary) == {"pose_ms", "smooth_ms", "referee_ms"}
    assert summary["referee_ms"]["median"] < summary["pose_ms"]["median"]


@pytest.mark.slow
def test_analyze_cli_json_and_annotated_video(tmp_path, shared_data, model_mirror):
    import cv2

    out = tmp_path / "annotated.mp4"
    env = {**os.environ, "HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "d")}
    clip = shared_data / "clips" / "jumping_jack" / "afrl_jumpingjacks.mp4"
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(clip), "--workout", "jumping_jacks", "--json", "--out", str(out), "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=240,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    d = json.loads(res.stdout)
    assert d["workout"] == "jumping_jack" and 3 <= d["reps"] <= 4 and "no_reps" in d
    assert len(d["rep_events"]) == d["reps"]
    assert d["notes"] == [] and d["dark_frames"] == 0  # a lit room: nothing to say
    for r in d["rep_events"]:
        assert {"start", "end", "eccentric_s", "concentric_s"} <= set(r)
    cap = cv2.VideoCapture(str(out))
    n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
    ok, frame = cap.read()
    cap.release()
    assert ok and n == d["frames"] and frame.shape[:2] == (720, 640)
    probe = subprocess.run(
        ["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=codec_name", "-of", "csv=p=0", str(out)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert probe.stdout.strip() == "h264"  # what a phone's browser plays (mp4v it refuses)


def test_analyze_cli_says_a_video_was_filmed_too_dark(tmp_path, shared_data, model_mirror):
    """A twentieth of the light: counted as well as the pose model can, and said (text and JSON)."""
    from tests.uploadkit import make_video

    dark = make_video(
        "dark", shared_data / "clips" / "squat" / "calimiro_squat_19.mp4", tmp_path / "evening.mp4"
    )
    env = {**os.environ, "HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "d")}
    run = [sys.executable, "-m", "hiitpi", "analyze", str(dark), "--workout", "squat", "--no-progress"]
    res = subprocess.run(run, capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    assert res.returncode == 0, res.stderr
    (note,) = [line for line in res.stdout.splitlines() if line.startswith("note:")]
    assert note.startswith("note: filmed too dark to count reliably: 143 of its 143 frames (100 %)"), note
    assert "film with a light on" in note
    res = subprocess.run([*run, "--json"], capture_output=True, text=True, cwd=REPO, env=env, timeout=240)
    d = json.loads(res.stdout)
    assert d["dark_frames"] == d["frames"] == 143 and d["notes"] == [note.removeprefix("note: ")]


def test_analyze_cli_errors_are_one_line(tmp_path):
    env = {**os.environ, "HIITPI_DATA_DIR": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(tmp_path / "nope.mp4"), "--workout", "zumba"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2
    assert "zumba" in res.stderr and "Traceback" not in res.stderr


@pytest.mark.parametrize("size", [(1, 1), (9, 700)], ids=["1x1", "9x700"])
def test_analyze_cli_on_a_tiny_or_odd_video_counts_nothing_and_never_crashes(tmp_path, model_mirror, size):
    """The issue: `hiitpi analyze` on a 1×1 video printed a traceback (`frame too small`)."""
    import cv2
    import numpy as np

    w, h = size
    video = tmp_path / "tiny.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 10, (w, h))
    for _ in range(8):
        out.write(np.full((h, w, 3), 90, np.uint8))
    out.release()
    env = {**os.environ, "HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "d")}
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(video), "--workout", "squat", "--json", "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=120,
    )  # fmt: skip
    assert res.returncode == 0 and "Traceback" not in res.stderr, res.stderr
    d = json.loads(res.stdout)
    assert d["frames"] == 8 and d["reps"] == 0
