"""`serve --check` rows for the pose model: its backend, each file it needs here, runtime, Edge TPU."""

from __future__ import annotations

from hiitpi.status import pose_status
from tests.test_pose_support import make_settings


def _rows(settings) -> dict[str, tuple[bool, str]]:
    return {part: (ok, detail) for part, ok, detail in pose_status(settings)}


def test_rows_name_every_file_the_backend_needs(model_mirror, tmp_path):
    rows = _rows(make_settings(model_mirror, tmp_path, model="blazepose-full"))
    assert rows["pose model"][0] and "BlazePose full" in rows["pose model"][1]
    assert [p for p in rows if p.startswith("model ")] == [
        "model blazepose-detector",
        "model blazepose-landmark-full",
    ]
    assert all(rows[p][0] for p in rows if p.startswith("model "))
    assert rows["tflite runtime"] == (True, "ai_edge_litert")
    assert rows["edge tpu"][0] and "no Coral plugged in" in rows["edge tpu"][1]


def test_a_missing_file_fails_its_row(tmp_path):
    rows = _rows(make_settings(tmp_path / "empty", tmp_path, model="blazepose-full"))
    ok, detail = rows["model blazepose-landmark-full"]
    assert not ok and "hiitpi models fetch blazepose-landmark-full" in detail


def test_a_misspelled_model_fails_with_the_names(model_mirror, tmp_path):
    rows = _rows(make_settings(model_mirror, tmp_path, model="movenet-lightnin"))
    ok, detail = rows["pose model"]
    assert not ok and "did you mean 'movenet-lightning'" in detail and "posenet" in detail
    assert not any(p.startswith("model ") for p in rows)


def test_bad_options_fail_the_model_row(model_mirror, tmp_path):
    rows = _rows(make_settings(model_mirror, tmp_path, options={"movenet-lightning": {"crop": True}}))
    ok, detail = rows["pose model"]
    assert not ok and "pose.options.movenet-lightning.crop: unknown key 'crop'" in detail


def test_edgetpu_rows(model_mirror, tmp_path):
    """No Coral on this machine: device = 'edgetpu' fails unless it may fall back; a model without
    an Edge TPU build fails; the Edge TPU file becomes the needed one."""
    rows = _rows(make_settings(model_mirror, tmp_path, device="edgetpu"))
    assert not rows["edge tpu"][0]
    assert [p for p in rows if p.startswith("model ")] == ["model movenet-lightning-edgetpu"]
    rows = _rows(make_settings(model_mirror, tmp_path, device="edgetpu", fallback="cpu"))
    assert rows["edge tpu"][0] and "falls back to the CPU" in rows["edge tpu"][1]
    rows = _rows(make_settings(model_mirror, tmp_path, device="edgetpu", model="posenet"))
    assert rows["edge tpu"] == (False, "device = 'edgetpu' but posenet has no Edge TPU build")
