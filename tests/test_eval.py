"""Accuracy metrics, manifest reading and the `hiitpi eval` commands on real data."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hiitpi.config import Settings
from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.datasets import (
    ManifestError,
    pose_sequence,
    read_manifest,
    read_pose_index,
    restore_aspect,
)
from hiitpi.referee.evaluate import (
    STRIDE_SLACK,
    ClipResult,
    align_cycles,
    count_sequence,
    format_table,
    frame_stride,
    summarize,
)
from hiitpi.referee.events import RefEvent
from hiitpi.referee.synth import squat_sequence

REPO = Path(__file__).resolve().parent.parent


def test_mae_and_obo_follow_the_papers_definition():
    results = [
        ClipResult("a", "squat", 10, 10),  # exact
        ClipResult("b", "squat", 10, 11),  # off by one: |1|/10
        ClipResult("c", "push_up", 4, 7),  # off by three: 3/4
        ClipResult("d", "push_up", 5, 6, gt_min=5, gt_max=6),  # inside the accepted range
    ]
    rep = summarize(results)
    assert rep["mae"] == pytest.approx((0 + 0.1 + 0.75 + 0) / 4, abs=1e-4)
    assert rep["obo"] == pytest.approx(3 / 4)
    assert rep["per_exercise"]["squat"] == {"mae": 0.05, "obo": 1.0, "n": 2}
    assert rep["per_exercise"]["push_up"]["obo"] == 0.5
    assert [c["file"] for c in rep["clips"]] == ["a", "b", "c", "d"]
    assert {"file", "exercise", "gt", "pred"} <= set(rep["clips"][0])


def test_range_error_is_the_distance_to_the_range():
    assert ClipResult("x", "s", 5, 8, gt_min=5, gt_max=6).abs_err == 2
    assert ClipResult("x", "s", 5, 3, gt_min=5, gt_max=6).abs_err == 2
    assert ClipResult("x", "s", 5, None).abs_err is None


def test_reps_are_matched_to_the_labelled_ones():
    cycles = [(0, 30), (30, 60), (60, 90), (120, 150)]  # frames at 30 fps

    def rep(t_end: float) -> RefEvent:
        return RefEvent("rep", "squat", t_end - 0.8, t_end)

    events = [
        rep(1.05),  # the first, called a little after its labelled end (1.0 s)
        RefEvent("no_rep", "squat", 1.2, 1.5),  # not a rep: not matched
        rep(1.6),  # the second, twice
        rep(1.9),
        rep(3.5),  # between the third and the fourth: in neither
    ]
    al = align_cycles(events, cycles, 30.0)
    assert al == {"labelled": 4, "once": 1, "missed": 2, "extra": 1, "outside": 1}
    res = [ClipResult("a", "squat", 4, 4, alignment=al), ClipResult("b", "squat", 2, 2, alignment=al)]
    rep_ = summarize(res, key="video")
    assert rep_["alignment"] == {"labelled": 8, "once": 2, "missed": 4, "extra": 2, "outside": 2}
    assert rep_["clips"][0]["alignment"] == al
    assert "labelled reps: 8, counted once 2, missed 4" in format_table(rep_, key="video")


def test_failed_clips_are_counted_not_scored():
    rep = summarize([ClipResult("a", "squat", 4, 4), ClipResult("b", "squat", 4, None, error="boom")])
    assert rep["n"] == 1 and rep["failed"] == 1 and rep["mae"] == 0.0


def test_holds_are_scored_by_the_seconds_held_not_in_the_rep_figures():
    results = [
        ClipResult("a", "squat", 4, 4),
        ClipResult("p", "plank", 0, None, gt_hold_s=5.5, pred_hold_s=5.2),
        ClipResult("q", "plank", 0, None, gt_hold_s=10.0, pred_hold_s=8.0),
        ClipResult("b", "bench_press", 7, None, not_workout=True),
    ]
    rep = summarize(results)
    assert rep["n"] == 1 and rep["mae"] == 0.0 and set(rep["per_exercise"]) == {"squat"}
    assert rep["holds"] == {
        "n": 2, "mean_err_s": 1.15, "mean_rel_err": 0.1273, "within_tolerance": 0.5, "tolerance": 0.1,
    }  # fmt: skip
    plank = rep["clips"][1]
    assert plank["pred_hold_s"] == 5.2 and plank["hold_err_s"] == 0.3 and "pred" not in plank
    assert rep["clips"][3] == {"file": "b", "exercise": "bench_press", "not_workout": True, "gt": 7}
    assert rep["not_workouts"] == 1 and rep["failed"] == 0
    table = format_table(rep)
    assert "5.5s" in table and "not one of the workouts" in table and "holds: 2 clip(s)" in table


def test_pose_index_reads_cycles_and_names_a_bad_line(tmp_path):
    (tmp_path / "i.csv").write_text(
        "video,exercise,count,cycle_frames_start_end_pairs\na.mp4,squat,2,1 10 10 20\nb.mp4,squat,1,\n"
    )
    rows = read_pose_index(tmp_path / "i.csv")
    assert rows[0].cycles == [(1, 10), (10, 20)] and rows[1].cycles == []
    (tmp_path / "j.csv").write_text(
        "video,exercise,count,cycle_frames_start_end_pairs\na.mp4,squat,2,1 10 10\n"
    )
    with pytest.raises(ManifestError, match=r"j\.csv:2: cycle_frames_start_end_pairs: an odd number"):
        read_pose_index(tmp_path / "j.csv")


def test_manifest_paths_are_relative_to_the_manifest(tmp_path):
    sub = tmp_path / "set"
    sub.mkdir()
    (sub / "m.csv").write_text(
        "file,exercise,gt_reps,gt_min,gt_max\nv/a.mp4,squat,5,5,6\nb.mp4,push_up,3,,\n"
    )
    rows = read_manifest(sub / "m.csv")
    assert rows[0].path == sub / "v" / "a.mp4" and (rows[0].gt_min, rows[0].gt_max) == (5, 6)
    assert (rows[1].gt_min, rows[1].gt_max) == (3, 3)


def test_manifest_errors_say_what_is_missing(tmp_path):
    (tmp_path / "m.csv").write_text("file,reps\na.mp4,3\n")
    with pytest.raises(ManifestError, match="missing column"):
        read_manifest(tmp_path / "m.csv")
    (tmp_path / "n.csv").write_text("file,exercise,gt_reps\na.mp4,squat,three\n")
    with pytest.raises(ManifestError, match=r"n\.csv:2"):
        read_manifest(tmp_path / "n.csv")


def test_restore_aspect_recovers_a_squashed_body():
    # a stick figure whose frames were each stretched by a different unknown x/y factor
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, (33, 2))
    frames = []
    for _ in range(40):
        theta = rng.uniform(-0.2, 0.2)
        rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        frames.append(base @ rot.T)
    true = np.stack(frames)
    scales = rng.uniform(0.5, 2.0, (40, 1, 2))
    squashed = true * scales
    restored = restore_aspect(squashed, np.ones(40, bool))

    def aspect(a):
        d = a[:, 11] - a[:, 23]
        e = a[:, 11] - a[:, 12]
        return np.hypot(*d.T) / np.hypot(*e.T)

    err_before = np.median(np.abs(aspect(squashed) / aspect(true) - 1))
    err_after = np.median(np.abs(aspect(restored) / aspect(true) - 1))
    assert err_after < 0.2 * err_before


def _lying_figure(frames: int = 30) -> np.ndarray:
    # a body lying along the picture (side view, knees bent up): most bones nearly horizontal
    pts = np.zeros((33, 2))
    pts[:] = (0.05, 0.5)  # the head
    for i, xy in {11: (0.2, 0.52), 12: (0.2, 0.5), 13: (0.3, 0.55), 14: (0.3, 0.53), 15: (0.4, 0.55),
                  16: (0.4, 0.53), 23: (0.55, 0.52), 24: (0.55, 0.5), 25: (0.7, 0.3), 26: (0.7, 0.28),
                  27: (0.85, 0.52), 28: (0.85, 0.5)}.items():  # fmt: skip
        pts[i] = xy
    rng = np.random.default_rng(1)
    return np.stack([pts + rng.normal(0, 0.003, pts.shape) for _ in range(frames)])


def test_a_collapsed_aspect_fit_is_found_and_fitted_again():
    from hiitpi.referee.datasets import RIGID_SEGMENTS, _repair_collapsed

    true = _lying_figure()
    seg_a = np.array([a for a, _ in RIGID_SEGMENTS])
    seg_b = np.array([b for _, b in RIGID_SEGMENTS])
    scales = np.random.default_rng(2).uniform(0.5, 2.0, (len(true), 1, 2))
    d = (true * scales)[:, seg_a] - (true * scales)[:, seg_b]
    dx2, dy2 = d[..., 0] ** 2, d[..., 1] ** 2
    ref = np.sum((true[:, seg_a] - true[:, seg_b]) ** 2, axis=-1).mean(axis=0)
    right = 1.0 / scales[:, 0, :] ** 2  # the a², b² that undo each frame's stretch
    ab = right.copy()
    ab[[5, 6, 20], 0] = 1e-3  # the width folded to nothing: every horizontal bone an "outlier"
    fixed = _repair_collapsed(ab, dx2, dy2, ref)
    ratio = lambda x: x[:, 0] / x[:, 1]  # noqa: E731
    # the collapsed ratio was off by a factor of about 500 (log 6); the refit is within 16 %
    assert np.allclose(np.log(ratio(fixed) / ratio(right))[[5, 6, 20]], 0, atol=0.15)
    sound = np.setdiff1d(np.arange(len(true)), [5, 6, 20])
    assert np.array_equal(fixed[sound], ab[sound])  # sound fits are kept as they are


def test_a_lying_body_keeps_its_shape_through_the_aspect_fit(shared_data):
    # RepCount-A stu3_53 (sit-ups, side view) at 16 s: the fit used to fold the lying body to a line
    # for a few frames (the hip angle 110 -> 12 -> 84 -> 12 degrees), each fold a sit-up counted
    arr = np.load(shared_data / "repcount_pose" / "poses" / "stu3_53.npy")
    xy = arr[:, :99].reshape(len(arr), 33, 3)[:, :, :2].astype(np.float64)
    restored = restore_aspect(xy, np.any(arr[:, :99], axis=1))[470:500]
    v1, v2 = restored[:, 11] - restored[:, 23], restored[:, 25] - restored[:, 23]
    cos = np.sum(v1 * v2, axis=1) / np.linalg.norm(v1, axis=1) / np.linalg.norm(v2, axis=1)
    hip = np.degrees(np.arccos(np.clip(cos, -1, 1)))
    assert hip.min() > 80 and np.max(np.abs(np.diff(hip))) < 20


def test_a_set_whose_travel_was_learnt_from_a_glitch_gets_its_first_reps_back(shared_data):
    # RepCount-A stu4_46 (push-ups, 45 labelled): glitched poses before the set teach a travel far
    # larger than the push-ups that follow; the travel is re-learnt from their rhythm after four of
    # them, and those four (labelled at 4.2-7.0 s) used to be lost. Measured again on the new
    # travel, three of them count; nothing is counted twice.
    row = next(
        r for r in read_pose_index(shared_data / "repcount_pose" / "index.csv") if r.video == "stu4_46.mp4"
    )
    poses = list(pose_sequence(np.load(shared_data / "repcount_pose" / "poses" / "stu4_46.npy"), 30.0))
    events: list[RefEvent] = []
    rule = load_catalog(REPO / "rules").workout("push_up")
    count_sequence(rule, poses, 30.0, Settings(), "attempts", events)
    early = [c for c in row.cycles if c[1] <= 7.0 * 30]
    aligned = align_cycles(events, early, 30.0)
    assert (aligned["labelled"], aligned["extra"]) == (4, 0)
    assert aligned["once"] >= 3
    assert sum(bool(e.extra.get("recounted")) for e in events) == 3


def test_repcount_arrays_become_coco_poses(shared_data):
    index = read_pose_index(shared_data / "repcount_pose" / "index.csv")
    assert len(index) == 40
    arr = np.load(shared_data / "repcount_pose" / "poses" / (Path(index[0].video).stem + ".npy"))
    poses = list(pose_sequence(arr, 30.0))
    assert len(poses) == len(arr)
    first = next(p for p in poses if p is not None)
    assert first.keypoints.shape == (17, 3)
    assert np.all(first.keypoints[:, 2] == 1.0)
    assert poses[10] is None or poses[10].timestamp == pytest.approx(10 / 30.0)


def test_frame_stride_keeps_to_the_most_frames_a_second():
    assert frame_stride(30, None) == frame_stride(30, 30) == frame_stride(10, 30) == 1
    assert frame_stride(30, 15) == 2 and frame_stride(30, 10) == 3 and frame_stride(60, 15) == 4
    # a phone's 30.05 fps is 30: every third frame at 10, not every fourth
    assert frame_stride(30.047, 10) == 3 and frame_stride(60.015, 10) == 6
    for fps in (12.5, 24, 25, 29.97, 30, 48, 50, 59.94, 60, 120):
        for limit in (5, 7.5, 10, 15, 20):
            k = frame_stride(fps, limit)
            assert fps / k <= limit * (1 + STRIDE_SLACK)  # at most the limit ...
            assert k == 1 or fps / (k - 1) > limit * (1 + STRIDE_SLACK)  # ... and no slower than needed


def test_a_slower_analysis_sees_every_kth_pose_at_its_own_time():
    settings = Settings()
    squat = load_catalog(REPO / "rules").workout("squat")
    poses = squat_sequence(4, fps=30.0, period_s=2.0)
    seen: list[RefEvent] = []
    full = count_sequence(squat, poses, 30.0, settings, "judge")
    slow = count_sequence(squat, poses, 30.0, settings, "judge", seen, every=3)
    assert full.count == slow.count == 4
    # the referee saw frames 0, 3, 6, ...: the last one it saw, at that frame's time
    assert slow.last_t == pytest.approx(((len(poses) - 1) // 3 * 3) / 30.0)
    assert [e.count for e in seen if e.kind == "rep"] == [1, 2, 3, 4]


def run_cli(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hiitpi", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=full_env,
        timeout=timeout,
    )


def test_eval_repcount_json_contract(shared_data):
    rc = shared_data / "repcount_pose"
    res = run_cli("eval", "repcount", str(rc / "index.csv"), str(rc / "poses"), "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert {"mae", "obo", "per_exercise", "clips"} <= set(rep)
    assert rep["counting"] == "attempts"  # RepCount-A's labels count every attempted repetition
    assert set(rep["per_exercise"]) == {"jumping_jack", "push_up", "situp", "squat"}
    assert all({"mae", "obo", "n"} <= set(v) for v in rep["per_exercise"].values())
    assert len(rep["clips"]) == 40 and {"video", "exercise", "gt", "pred", "attempts"} <= set(rep["clips"][0])
    # regression guard at the measured level (docs/accuracy.md: MAE 0.161 / OBO 0.725 in attempts
    # mode; 0.181 / 0.700 before collapsed aspect fits were fitted again); the published pose-based
    # counters on the full test set: PoseRAC 0.236 / 0.56, joint-angle PoseRAC 0.211 / 0.60
    assert rep["mae"] <= 0.17 and rep["obo"] >= 0.70
    assert rep["per_exercise"]["jumping_jack"]["mae"] <= 0.08
    assert rep["per_exercise"]["squat"]["obo"] >= 0.75
    # the push-up read from the elbow and the head's height above the feet (0.252 from the elbow
    # and the shoulders above the hands)
    assert rep["per_exercise"]["push_up"]["mae"] <= 0.14
    # fast crunches (stu9_57, a rep every 0.55 s) spend 0.3 s up: a sit-up's min_s of 0.25 s counts
    # them (0.417 with 0.3, before collapsed aspect fits were fitted again: 0.406 then with 0.25)
    assert rep["per_exercise"]["situp"]["mae"] <= 0.36
    # every labelled rep's frames are given: the reps are matched to them (572 of 635 once)
    al = rep["alignment"]
    assert al["labelled"] == sum(c["alignment"]["labelled"] for c in rep["clips"]) > 600
    assert al["once"] >= 0.88 * al["labelled"]


def test_eval_countix_reads_99_columns_and_lists_what_is_not_a_workout(shared_data):
    cx = shared_data / "countix_pose"
    res = run_cli("eval", "countix", str(cx / "index.csv"), str(cx / "poses"), "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["counting"] == "attempts"
    assert set(rep["per_exercise"]) == {"lunge", "push_up", "situp", "squat"}
    assert rep["n"] == 37 and rep["failed"] == 0
    # bench press, front raise, pull-ups, rope pushdown: listed, not scored
    others = [c for c in rep["clips"] if c.get("not_workout")]
    assert len(others) == rep["not_workouts"] == 39 and all("pred" not in c for c in others)
    # regression guard at the measured level (docs/accuracy.md: MAE 0.138 / OBO 0.838; 0.170 /
    # 0.811 before a push-up's start needed the hands on the floor from the front)
    assert rep["mae"] <= 0.15 and rep["obo"] >= 0.81
    assert rep["per_exercise"]["situp"]["mae"] <= 0.20  # 0.222 with a sit-up's min_s of 0.3 s
    # the shoulders under the hips are a glitch in a standing exercise (without it: lunge 0.145,
    # squat 0.171)
    assert rep["per_exercise"]["lunge"]["mae"] <= 0.10
    assert rep["per_exercise"]["squat"]["mae"] <= 0.13
    assert rep["per_exercise"]["push_up"]["obo"] >= 0.6
    assert "alignment" not in rep  # Countix gives counts only


def test_eval_at_fewer_frames_a_second(shared_data):
    # every third pose, as a Pi without a Coral analyses (about 10 a second; docs/accuracy.md: Countix
    # 0.171 / 0.784 at 10 fps against 0.138 / 0.838 at 30)
    cx = shared_data / "countix_pose"
    res = run_cli("eval", "countix", str(cx / "index.csv"), str(cx / "poses"), "--max-fps", "10", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["max_fps"] == 10 and rep["n"] == 37 and rep["failed"] == 0
    assert 0.15 < rep["mae"] <= 0.30
    bad = run_cli("eval", "countix", str(cx / "index.csv"), str(cx / "poses"), "--max-fps", "0")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    assert "'0' is not a frame rate (frames a second, above 0)" in bad.stderr.splitlines()[-1]


def test_eval_with_the_feet_out_of_frame_reads_the_squat_from_the_hips(shared_data, tmp_path):
    # every pose with the ankles unseen (a tight crop): the squat's knee angle is stood in for by
    # its hip angle (docs/accuracy.md: Countix squats 0.229 without the fallback, 0.184 with it)
    cx = shared_data / "countix_pose"
    res = run_cli("eval", "countix", str(cx / "index.csv"), str(cx / "poses"), "--hide", "feet", "--json")
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert rep["hidden"] == "feet" and rep["per_exercise"]["squat"]["mae"] <= 0.20
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    squat = rules / "squat.toml"
    squat.write_text(squat.read_text().replace(', fallback = "hip" }', " }"))
    res = run_cli(
        "eval",
        "countix",
        str(cx / "index.csv"),
        str(cx / "poses"),
        "--hide",
        "feet",
        "--rules",
        str(rules),
        "--json",
    )
    assert json.loads(res.stdout)["per_exercise"]["squat"]["mae"] > 0.20


def test_a_push_up_seen_from_the_front_starts_with_the_hands_on_the_floor(shared_data, tmp_path):
    """Countix push_up035 gets into position seen from the front, kneeling with its hands off the
    floor, and bends its arms four times before its four push-ups; push_up019 once between its
    own. The start of a push-up is a plank (the wrists no higher than half a torso above the ankles
    from the front): those are not reps. Without that condition they are. (One quick dip of the
    elbows seen from above still counts in push_up035: 5 of 4.)"""
    cx = shared_data / "countix_pose"
    index = tmp_path / "index.csv"
    rows = [
        line
        for line in (cx / "index.csv").read_text().splitlines()
        if line.startswith(("video,", "push_up035", "push_up019"))
    ]
    index.write_text("\n".join(rows) + "\n")

    def counts(rules_dir: Path | None) -> dict[str, int]:
        extra = ["--rules", str(rules_dir)] if rules_dir else []
        res = run_cli("eval", "countix", str(index), str(cx / "poses"), *extra, "--json")
        assert res.returncode == 0, res.stderr
        return {c["video"]: c["pred"] for c in json.loads(res.stdout)["clips"]}

    assert counts(None) == {"push_up035.mp4": 5, "push_up019.mp4": 17}  # labelled 4 and 17
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    push_up = rules / "push_up.toml"
    push_up.write_text(
        push_up.read_text().replace('{ feature = "hands", below = 0.5, or_missing = true }, ', "")
    )
    assert counts(rules) == {"push_up035.mp4": 10, "push_up019.mp4": 18}


def small_manifest(tmp_path: Path, shared_data: Path, rows: list[str]) -> Path:
    """A manifest elsewhere (columns file … gt_hold_s), its paths relative to it, pointing at the
    shared clips: each row is ``CLIP,exercise,gt_reps,gt_min,gt_max,gt_hold_s`` with CLIP under clips/."""
    rel = os.path.relpath(shared_data / "clips", tmp_path)
    manifest = tmp_path / "m.csv"
    lines = [f"{rel}/{row}" for row in rows]
    manifest.write_text("file,exercise,gt_reps,gt_min,gt_max,gt_hold_s\n" + "\n".join(lines) + "\n")
    return manifest


@pytest.mark.slow
def test_eval_clips_on_a_small_manifest(tmp_path, shared_data, model_mirror):
    manifest = small_manifest(
        tmp_path,
        shared_data,
        [
            "squat/calimiro_squat_19.mp4,squat,2,2,2,",
            "jumping_jack/afrl_jumpingjacks.mp4,jumping_jack,3,3,4,",
            "plank/venkat_plank_forearm_gym.mp4,plank,0,0,0,5.5",
            "missing.mp4,squat,3,3,3,",
        ],
    )
    env = {"HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "data")}
    res = run_cli("eval", "clips", str(manifest), "--json", "--no-progress", env=env)
    assert res.returncode == 1  # the missing clip is an error, and the others still ran
    rep = json.loads(res.stdout)
    by_file = {Path(c["file"]).name: c for c in rep["clips"]}
    assert by_file["calimiro_squat_19.mp4"]["pred"] == 2
    assert 3 <= by_file["afrl_jumpingjacks.mp4"]["pred"] <= 4
    assert by_file["missing.mp4"]["pred"] is None and "error" in by_file["missing.mp4"]
    assert rep["failed"] == 1 and rep["obo"] == 1.0 and rep["counting"] == "judge"
    # a hold is scored by the seconds held, not in the rep MAE: within 10 % of the labelled 5.5 s
    plank = by_file["venkat_plank_forearm_gym.mp4"]
    assert "pred" not in plank and abs(plank["pred_hold_s"] - 5.5) <= 0.55
    assert rep["n"] == 2 and rep["holds"]["n"] == 1 and rep["holds"]["within_tolerance"] == 1.0
    # the second run reads the cached poses
    assert any((tmp_path / "data" / "cache" / "poses").glob("*.npz"))
    again = run_cli("eval", "clips", str(manifest), "--json", "--no-progress", env=env)
    assert json.loads(again.stdout)["clips"] == rep["clips"]
    # every third frame of these 30 fps clips, as a Pi without a Coral analyses them (from the cache)
    slow = json.loads(
        run_cli("eval", "clips", str(manifest), "--json", "--no-progress", "--max-fps", "10", env=env).stdout
    )
    assert slow["max_fps"] == 10 and rep["max_fps"] is None
    slow_by_file = {Path(c["file"]).name: c for c in slow["clips"]}
    assert slow_by_file["calimiro_squat_19.mp4"]["pred"] == 2


@pytest.mark.slow
def test_other_cameras_film_the_same_clips_and_count_the_same(tmp_path, shared_data, model_mirror):
    """`scripts/camera_clips.py` films the clips as another camera would (here: a front camera's
    mirrored picture, a person half the size, a 320 px webcam); the whole pipeline counts them alike."""
    import cv2

    manifest = small_manifest(
        tmp_path,
        shared_data,
        [
            "squat/calimiro_squat_19.mp4,squat,2,2,2,",
            "jumping_jack/afrl_jumpingjacks.mp4,jumping_jack,3,3,4,",
        ],
    )
    out = tmp_path / "far"
    cmd = [sys.executable, str(REPO / "scripts" / "camera_clips.py"), str(manifest), str(out)]
    res = subprocess.run(
        [*cmd, "--mirror", "--far", "0.5", "--max-side", "320"], capture_output=True, text=True
    )
    assert res.returncode == 0, res.stderr
    names = [line.split(",")[0] for line in (out / "manifest.csv").read_text().splitlines()[1:]]
    assert names == [
        "calimiro_squat_19_side320_far0.5_mirrored.mp4",
        "afrl_jumpingjacks_side320_far0.5_mirrored.mp4",
    ]
    cap = cv2.VideoCapture(str(out / names[0]))
    ok, frame = cap.read()
    cap.release()
    h, w = frame.shape[:2]
    assert ok and max(h, w) == 320
    # the picture sits in the middle half of the frame, grey around it
    assert abs(float(frame[: h // 5].mean()) - 96) < 6 and abs(float(frame[:, : w // 5].mean()) - 96) < 6
    env = {"HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "data")}
    rep = json.loads(
        run_cli("eval", "clips", str(out / "manifest.csv"), "--json", "--no-progress", env=env).stdout
    )
    by_file = {c["file"]: c["pred"] for c in rep["clips"]}
    assert by_file[names[0]] == 2 and 3 <= by_file[names[1]] <= 4
    # a change that is not one says so, in one line
    bad = subprocess.run([*cmd, "--far", "2"], capture_output=True, text=True)
    assert bad.returncode == 2 and "'2' is not a fraction (above 0, at most 1)" in bad.stderr


def test_a_dim_room_on_a_cheap_webcam_counts_once_the_picture_is_brightened(
    tmp_path, shared_data, model_mirror
):
    """The clips as a 320 px webcam films them in a dim room (a fifth of the light, a dim sensor's
    noise): with `[pose] exposure = "auto"` (the default) the pose model sees the picture brightened
    and counts them right; with "off" it sees them dark and loses reps (docs/accuracy.md, "Other
    cameras and pose models")."""
    manifest = small_manifest(
        tmp_path,
        shared_data,
        [
            "push_up/sumukh_incline_pushup.mp4,push_up,5,5,5,",
            "situp/thchen_crunches.mp4,situp,5,5,6,",
        ],
    )
    out = tmp_path / "dim"
    script = [sys.executable, str(REPO / "scripts" / "camera_clips.py")]
    res = subprocess.run(
        [*script, str(manifest), str(out), "--max-side", "320", "--dim", "0.2"],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 0, res.stderr
    counts = {}
    for exposure in ("auto", "off"):
        env = {
            "HIITPI_MODEL_MIRROR": str(model_mirror),
            "HIITPI_DATA_DIR": str(tmp_path / "data"),
            "HIITPI_POSE_EXPOSURE": exposure,
        }
        rep = json.loads(
            run_cli("eval", "clips", str(out / "manifest.csv"), "--json", "--no-progress", env=env).stdout
        )
        counts[exposure] = [c["pred"] for c in rep["clips"]]
    assert counts["auto"][0] == 5 and 5 <= counts["auto"][1] <= 6, counts
    assert counts["off"][0] < 5 and counts["off"][1] < 5, counts


def test_camera_clips_says_what_it_cannot_use(tmp_path):
    """A manifest that is not there or has no file column: one line, exit 2; a clip it cannot read is
    left out of the copies' manifest, said with its line, and the run fails."""
    script = [sys.executable, str(REPO / "scripts" / "camera_clips.py")]
    out = tmp_path / "out"
    gone = subprocess.run([*script, str(tmp_path / "nope.csv"), str(out)], capture_output=True, text=True)
    assert gone.returncode == 2 and gone.stderr.startswith("camera_clips: cannot read the manifest")
    assert len(gone.stderr.strip().splitlines()) == 1
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("name,exercise\nx.mp4,squat\n")
    res = subprocess.run([*script, str(wrong), str(out)], capture_output=True, text=True)
    assert (
        res.returncode == 2 and f"{wrong}:1: no column file" in res.stderr and "Traceback" not in res.stderr
    )
    broken = tmp_path / "m.csv"
    (tmp_path / "not_a_video.mp4").write_bytes(b"not a video")
    broken.write_text("file,exercise,gt_reps\nnot_a_video.mp4,squat,3\n")
    res = subprocess.run([*script, str(broken), str(out), "--mirror"], capture_output=True, text=True)
    assert (
        res.returncode == 1 and f"{broken}:2: cannot read the video not_a_video.mp4: left out" in res.stderr
    )
    assert (out / "manifest.csv").read_text().splitlines() == ["file,exercise,gt_reps"]
    assert not list(out.glob("*.mp4"))


def test_a_camera_change_does_what_it_says_to_a_frame(camera_clips):
    mod = camera_clips
    frame = np.zeros((100, 200, 3), np.uint8)
    frame[:, :50] = 200  # a bright left quarter
    rng = np.random.default_rng(0)
    mirrored = mod.changed_frame(frame, mod.Camera(mirror=True), rng)
    assert mirrored[:, 150:].min() == 200 and mirrored[:, :150].max() == 0
    dim = mod.changed_frame(frame, mod.Camera(dim=0.3), rng)
    assert abs(float(dim[:, :50].mean()) - 60) < 2 and float(dim[:, 50:].std()) > 2  # dimmer, and noisy
    far = mod.changed_frame(frame, mod.Camera(far=0.5), rng)
    assert far.shape == frame.shape and far[25:75, 50:75].min() == 200 and far[:, :50].max() == mod.GREY
    turned = mod.changed_frame(frame, mod.Camera(turn=90), rng)
    assert turned.shape == (200, 100, 3) and turned[:50].min() == 200  # the left side is now the top
    assert mod.Camera(max_side=320, far=0.5, mirror=True).suffix() == "_side320_far0.5_mirrored"


def test_aspect_check_measures_the_restoration_on_poses_of_known_geometry(
    tmp_path, shared_data, model_mirror
):
    """`scripts/aspect_check.py`: the clips' own poses squashed as the pose sets are, then restored
    with and without the repair of collapsed fits, their angles against the pixels' (joe_situp,
    lying: squashed 11.9, restored without the repair 12.5, with it 8.7 degrees median)."""
    manifest = small_manifest(tmp_path, shared_data, ["situp/joe_situp.mp4,situp,10,10,10,"])
    env = {**os.environ, "HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "data")}
    script = [sys.executable, str(REPO / "scripts" / "aspect_check.py")]
    res = subprocess.run([*script, str(manifest)], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    # the last three lines: "  NAME  median / p90 / p99"
    med = {}
    for line in res.stdout.splitlines()[-3:]:
        name, figures = line.strip().rsplit("  ", 1)[0].strip(), line.split("/")[0].split()
        med[name] = float(figures[-1])
    assert set(med) == {"raw", "no repair", "repair"}, res.stdout
    # a lying body is where fits collapse: repaired, its angles are closer than either
    assert med["repair"] < 0.8 * min(med["no repair"], med["raw"]), res.stdout
    gone = subprocess.run([*script, str(tmp_path / "none.csv")], capture_output=True, text=True, env=env)
    assert gone.returncode == 2 and "Traceback" not in gone.stderr
    assert gone.stderr.strip().endswith("manifest not found (set HIITPI_DATA or give its path)")
