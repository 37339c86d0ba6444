"""`hiitpi teach` and `hiitpi eval teach` as a person runs them (a real process, real videos, the
real pose model): what is saved, the plot, and every mistake as a one- or two-line message with
exit code 2 — never a traceback."""

from __future__ import annotations

import csv
import json
import shutil

import pytest

from tests.conftest import REPO
from tests.test_eval import run_cli

pytestmark = pytest.mark.slow


@pytest.fixture()
def env(tmp_path, model_mirror):
    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    return {
        "HIITPI_DATA_DIR": str(tmp_path / "data"),
        "HIITPI_MODEL_MIRROR": str(model_mirror),
        "HIITPI_REFEREE_RULES_DIR": str(rules),
        "HIITPI_GENERAL_LOG_LEVEL": "WARNING",
    }


def _one_error(res, *needles: str) -> str:
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr
    lines = [line for line in res.stderr.splitlines() if line.startswith(("hiitpi:", "hint:"))]
    text = "\n".join(lines)
    for n in needles:
        assert n in text, text
    return text


def test_teach_writes_rules_reference_and_plot(env, tmp_path, shared_data):
    plot = tmp_path / "reps.png"
    res = run_cli(
        "teach", str(shared_data / "clips/jumping_jack/afrl_jumpingjacks.mp4"), "--name", "Arm flap",
        "--reps", "3", "--plot", str(plot), "--yes", env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "3 reps found" in res.stdout and "saved" in res.stdout
    rules = tmp_path / "rules"
    assert (rules / "arm_flap.toml").is_file() and (rules / "arm_flap.reference.json").is_file()
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    check = run_cli("rules", "check", str(rules / "arm_flap.toml"), env=env)
    assert check.returncode == 0 and "ok  arm_flap" in check.stdout
    listed = run_cli("rules", "list", env=env)
    assert "arm_flap" in listed.stdout and "reference" not in listed.stdout


def test_teach_asks_before_saving(env, tmp_path, shared_data):
    plot = tmp_path / "hop.png"  # (the default, teach-hop.png, would land in the repository)
    res = run_cli(
        "teach", str(shared_data / "clips/jumping_jack/afrl_jumpingjacks.mp4"), "--name", "hop",
        "--plot", str(plot), env=env,
    )  # fmt: skip
    _one_error(res, "not saved", "--yes")
    assert not (tmp_path / "rules" / "hop.toml").exists()
    assert plot.is_file()  # the plot is there to look at before saying yes


def test_a_name_that_exists_says_what_to_do(env, shared_data):
    res = run_cli(
        "teach", str(shared_data / "clips/squat/calimiro_squat_19.mp4"), "--name", "Squats", "--yes", env=env
    )
    _one_error(res, "'squats' is already a name of 'squat'", "--reference-for squat")


def test_a_name_too_long_for_a_file_says_so(env, shared_data):
    # 600 letters are a valid name by the pattern, but no file system takes a file of that name
    res = run_cli(
        "teach", str(shared_data / "clips/squat/calimiro_squat_19.mp4"), "--name", "x" * 600, "--yes", env=env
    )
    _one_error(res, "is too long for a workout name (600 characters, at most 48)", "shorter --name")


def test_not_a_video(env, tmp_path):
    junk = tmp_path / "clip.mp4"
    junk.write_text("this is not a video")
    res = run_cli("teach", str(junk), "--name", "thing", "--yes", env=env)
    _one_error(res, "cannot decode video file")


def test_no_person_in_the_video(env, tmp_path):
    import cv2
    import numpy as np

    path = tmp_path / "empty_room.mp4"
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 15.0, (320, 240))
    rng = np.random.default_rng(0)
    for _ in range(45):  # three seconds of a grey wall with sensor noise
        out.write(np.clip(128 + rng.normal(0, 4, (240, 320, 3)), 0, 255).astype(np.uint8))
    out.release()
    res = run_cli("teach", str(path), "--name", "ghost", "--yes", env=env)
    _one_error(res, "no person found", "whole body")


def test_no_periodic_movement(env, shared_data):
    res = run_cli(
        "teach",
        str(shared_data / "clips/plank/venkat_plank_forearm_gym.mp4"),
        "--name",
        "still",
        "--yes",
        env=env,
    )
    _one_error(res, "no periodic movement found", "--hold")


def test_hold_and_reference_for(env, tmp_path, shared_data):
    res = run_cli(
        "teach", str(shared_data / "clips/plank/venkat_plank_forearm_gym.mp4"), "--name", "my plank", "--hold",
        "--plot", str(tmp_path / "hold.png"), "--yes", env=env,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert "a held position" in res.stdout and (tmp_path / "rules/my_plank.toml").is_file()
    assert not (tmp_path / "rules/my_plank.reference.json").exists()  # a hold has no reps to score
    ref = run_cli(
        "teach", "--reference-for", "jumping_jack", str(shared_data / "clips/jumping_jack/afrl_jumpingjacks.mp4"),
        "--yes", env=env,
    )  # fmt: skip
    assert ref.returncode == 0, ref.stderr
    assert (tmp_path / "rules/jumping_jack.reference.json").is_file()
    bad = run_cli(
        "teach",
        "--reference-for",
        "plank",
        str(shared_data / "clips/plank/venkat_plank_forearm_gym.mp4"),
        "--yes",
        env=env,
    )
    _one_error(bad, "'plank' is a hold")
    unknown = run_cli(
        "teach",
        "--reference-for",
        "yoga",
        str(shared_data / "clips/plank/venkat_plank_forearm_gym.mp4"),
        env=env,
    )
    _one_error(unknown, "no workout rules named 'yoga'")


def test_usage_mistakes(env, shared_data):
    clip = str(shared_data / "clips/squat/calimiro_squat_19.mp4")
    _one_error(run_cli("teach", clip, env=env), "--name")
    _one_error(run_cli("teach", clip, "--name", "x1", "--reps", "1", env=env), "at least 2 reps")
    _one_error(run_cli("teach", clip, "--name", "9lives", env=env), "cannot be a workout name")


def test_eval_teach_json_contract(env, tmp_path, shared_data):
    rows = list(csv.DictReader((shared_data / "clips/manifest.csv").open()))
    keep = {"squat/yuyoujiang_squat.mp4", "squat/calimiro_squat_19.mp4", "plank/venkat_plank_forearm_gym.mp4"}
    manifest = tmp_path / "manifest.csv"
    with manifest.open("w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        for r in rows:
            if r["file"] in keep:
                w.writerow({**r, "file": str(shared_data / "clips" / r["file"])})
    res = run_cli("eval", "teach", str(manifest), "--json", "--no-progress", env=env, timeout=600)
    assert res.returncode == 0, res.stderr
    rep = json.loads(res.stdout)
    assert {"mae", "obo", "per_exercise", "clips", "first_reps", "holds", "similarity", "teachers"} <= set(
        rep
    )
    assert (
        rep["per_exercise"]["squat"]["n"] == 2 and len(rep["clips"]) == 2
    )  # each squat clip taught from the other
    assert all(c["source"] != c["file"] for c in rep["clips"])
    assert rep["obo"] == 1.0  # 3 and 2 squats, each counted with rules taught from the other clip
    assert rep["holds"]["n"] == 1 and rep["holds"]["within_tolerance"] == 1.0
    assert rep["similarity"]["self_min"] >= 95
