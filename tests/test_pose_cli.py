"""`hiitpi pose IMAGE` and `hiitpi bench pose`: the output contract scripts rely on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import cv2
import numpy as np
import pytest

from hiitpi.cli import main
from hiitpi.pose.types import KEYPOINT_NAMES


@pytest.fixture()
def env(monkeypatch, tmp_path, model_mirror, shared_data):
    monkeypatch.delenv("HIITPI_CONFIG", raising=False)
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("HIITPI_DATA", str(shared_data))
    return tmp_path


def test_pose_json_contract(env, shared_data, capsys):
    rc = main(["pose", str(shared_data / "images" / "squat.bmp"), "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["model"] == "movenet-lightning"
    assert [k["name"] for k in doc["keypoints"]] == list(KEYPOINT_NAMES)
    for k in doc["keypoints"]:
        assert set(k) == {"name", "x", "y", "score"}
        assert 0 <= k["x"] <= 1 and 0 <= k["y"] <= 1 and 0 <= k["score"] <= 1
    nose = doc["keypoints"][0]
    assert 0.5 < nose["x"] < 0.65 and 0.25 < nose["y"] < 0.4


@pytest.mark.parametrize("model", ["posenet", "blazepose-full", "movenet-thunder"])
def test_pose_other_models(env, shared_data, capsys, monkeypatch, model):
    from hiitpi.pose.backends import posenet

    monkeypatch.setattr(posenet, "_cautioned", False)
    rc = main(["pose", str(shared_data / "images" / "grace_hopper.bmp"), "--model", model, "--json"])
    out = capsys.readouterr()
    doc = json.loads(out.out)
    assert rc == 0 and doc["model"] == model and len(doc["keypoints"]) == 17
    # PoseNet says, once, that it does not count well enough to referee (docs/accuracy.md)
    assert out.err.count("counts far less reliably than MoveNet") == (model == "posenet")


def test_pose_text_and_draw(env, shared_data, capsys):
    out_png = env / "squat_pose.png"
    rc = main(["pose", str(shared_data / "images" / "squat.bmp"), "--draw", str(out_png)])
    text = capsys.readouterr().out
    assert rc == 0 and "left_ankle" in text and "movenet-lightning" in text
    drawn = cv2.imread(str(out_png))
    orig = cv2.imread(str(shared_data / "images" / "squat.bmp"))
    assert drawn.shape == orig.shape
    assert 0.005 < (drawn != orig).any(axis=2).mean() < 0.2  # a skeleton, not a new picture


def test_pose_no_person(env, capsys):
    blank = env / "empty.png"
    cv2.imwrite(str(blank), np.full((240, 320, 3), 128, np.uint8))
    rc = main(["pose", str(blank), "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert rc == 1 and doc["person"] is False and doc["keypoints"] == []


@pytest.mark.parametrize("content", [None, b"this is not an image", b"BM\x00\x00"])
def test_pose_unreadable_image(env, capsys, content):
    path = env / "broken.bmp"
    if content is not None:
        path.write_bytes(content)
    rc = main(["pose", str(path)])
    err = capsys.readouterr().err
    assert rc == 2
    assert ("not found" in err) if content is None else ("cannot read image" in err)


def test_pose_missing_model_file(env, shared_data, monkeypatch, capsys):
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(env / "empty-mirror"))
    rc = main(["pose", str(shared_data / "images" / "squat.bmp")])
    assert rc == 2
    assert "hiitpi models fetch movenet-lightning" in capsys.readouterr().err


def test_bench_pose_json_contract(env, capsys):
    # fewer runs than the default 200 to keep the suite quick; the contract is the same
    rc = main(["bench", "pose", "--json", "--runs", "30", "--warmup", "5", "--max-frames", "30"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)
    for key in ("model", "threads", "median_ms", "p90_ms", "frame_median_ms"):
        assert key in doc
    assert doc["model"] == "movenet-lightning" and doc["threads"] == 1 and doc["runs"] == 30
    assert 0 < doc["median_ms"] <= doc["p90_ms"]
    assert doc["median_ms"] <= doc["frame_median_ms"]  # the frame includes the inference
    assert doc["person_found"] == 30
    assert doc["source"].endswith(".mp4")


def test_bench_pose_blazepose_threads(env, shared_data, capsys):
    src = shared_data / "images" / "squat.bmp"
    rc = main(
        [
            "bench",
            "pose",
            "--model",
            "blazepose-full",
            "--threads",
            "2",
            "--runs",
            "10",
            "--warmup",
            "2",
            "--source",
            str(src),
            "--json",
        ]
    )
    doc = json.loads(capsys.readouterr().out)
    assert rc == 0 and doc["threads"] == 2 and doc["model"] == "blazepose-full"
    assert doc["detector_runs"] == 1  # a still image: the person stays tracked


def test_bench_pose_bad_source(env, capsys):
    assert main(["bench", "pose", "--source", str(env / "nope.mp4")]) == 2
    assert "not found" in capsys.readouterr().err


def test_help_stays_light():
    """`hiitpi --help` must not import TFLite or the pose backends (the handlers do)."""
    code = (
        "import sys; from hiitpi.cli import build_parser; build_parser(); "
        "print(','.join(m for m in ('ai_edge_litert', 'hiitpi.pose.runtime', 'hiitpi.pose.registry', 'hiitpi.pose.backends.movenet') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.strip() == ""


@pytest.mark.parametrize("model", ["nope", "movenet-lightnin"])
def test_pose_unknown_model_is_one_line(env, shared_data, capsys, model):
    rc = main(["pose", "--model", model, str(shared_data / "images" / "squat.bmp")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1, err
    assert (
        f"unknown pose model '{model}'" in err[0] and "available: blazepose-full, movenet-lightning" in err[0]
    )


def test_pose_without_image_or_list(env, capsys):
    assert main(["pose"]) == 2
    assert "--list" in capsys.readouterr().err


def test_pose_list(env, capsys):
    assert main(["pose", "--list"]) == 0
    out = capsys.readouterr().out
    assert "* movenet-lightning" in out  # the configured one is marked
    assert "files on edgetpu: movenet-lightning-edgetpu" in out
    assert "files on cpu: blazepose-detector (in place), blazepose-landmark-full (in place)" in out
