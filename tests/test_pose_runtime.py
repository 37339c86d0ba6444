"""Runtime loading, the Edge TPU path (only load_delegate faked), and clear errors for bad input."""

from __future__ import annotations

import logging
import shutil
import sys

import numpy as np
import pytest

from hiitpi.modelfiles import ModelMissingError
from hiitpi.pose import runtime
from hiitpi.pose.registry import UnknownBackendError, create_estimator, get_backend
from hiitpi.pose.runtime import (
    EDGETPU_LIBRARY,
    EdgeTPUUnavailableError,
    ModelLoadError,
    Runtime,
    RuntimeMissingError,
    choose_device,
    load_edgetpu_delegate,
    load_runtime,
)
from tests.test_pose_support import make_settings, read_image

LIGHTNING = "coral/movenet_single_pose_lightning_ptq.tflite"


@pytest.fixture(autouse=True)
def fresh_runtime():
    runtime.reset_runtime_cache()
    yield
    runtime.reset_runtime_cache()


def test_ai_edge_litert_is_the_default():
    rt = load_runtime()
    assert rt.module_name == "ai_edge_litert.interpreter"


def test_no_runtime_says_what_to_install(monkeypatch):
    for name in (
        "ai_edge_litert",
        "ai_edge_litert.interpreter",
        "tflite_runtime",
        "tflite_runtime.interpreter",
    ):
        monkeypatch.setitem(sys.modules, name, None)  # import fails
    with pytest.raises(RuntimeMissingError, match="pip install ai-edge-litert"):
        load_runtime()


def test_tflite_runtime_is_used_with_a_warning(monkeypatch, caplog, model_mirror, shared_data):
    """When only tflite_runtime imports it is used, with the numpy<2 / speed warning.

    tflite_runtime itself cannot run here (it needs numpy<2), so the real ai-edge-litert
    interpreter module stands in under that import name: same API, real inference.
    """
    import ai_edge_litert.interpreter as real

    monkeypatch.setitem(sys.modules, "ai_edge_litert.interpreter", None)
    monkeypatch.setitem(sys.modules, "tflite_runtime", type(sys)("tflite_runtime"))
    monkeypatch.setitem(sys.modules, "tflite_runtime.interpreter", real)
    with caplog.at_level(logging.WARNING, logger="hiitpi.pose.runtime"):
        rt = load_runtime()
    assert rt.module_name == "tflite_runtime.interpreter"
    assert "numpy<2" in caplog.text and "slower" in caplog.text
    interp = runtime.make_interpreter(model_mirror / LIGHTNING, 1)
    model = runtime.TFLiteModel(interp, model_mirror / LIGHTNING)
    img = read_image(shared_data, "squat.bmp")
    import cv2

    out = model.run(cv2.resize(img, (192, 192))[None])[0]
    assert out.shape == (1, 1, 17, 3)


class FakeLoadDelegate:
    """Stands in for the runtime's load_delegate: the only faked part of the Edge TPU path."""

    def __init__(self, error: Exception | None = None):
        self.calls: list[str] = []
        self.error = error
        self.delegate = object()

    def __call__(self, library, options=None):
        self.calls.append(library)
        if self.error:
            raise self.error
        return self.delegate


def _with_fake_delegate(monkeypatch, fake: FakeLoadDelegate) -> None:
    real = load_runtime()
    monkeypatch.setattr(runtime, "_runtime", Runtime(real.module_name, real.interpreter_cls, fake))


LIGHTNING_SPEC = get_backend("movenet-lightning")
POSENET_SPEC = get_backend("posenet")


@pytest.mark.parametrize("device", ["edgetpu", "auto"])
def test_edgetpu_delegate_and_model_are_chosen(monkeypatch, device):
    fake = FakeLoadDelegate()
    _with_fake_delegate(monkeypatch, fake)
    choice = choose_device(device, "none", LIGHTNING_SPEC)
    assert fake.calls == [EDGETPU_LIBRARY]
    assert choice.device == "edgetpu"
    assert choice.files == {"model": "movenet-lightning-edgetpu"}
    assert choice.delegates == [fake.delegate]


def test_cpu_never_touches_the_delegate(monkeypatch):
    fake = FakeLoadDelegate()
    _with_fake_delegate(monkeypatch, fake)
    choice = choose_device("cpu", "none", LIGHTNING_SPEC)
    assert fake.calls == [] and choice.device == "cpu" and choice.delegates == []
    # a model with no Edge TPU build: auto quietly uses the CPU without probing
    choice = choose_device("auto", "none", POSENET_SPEC)
    assert fake.calls == [] and choice.device == "cpu" and choice.files == {"model": "posenet"}


def test_edgetpu_library_missing_error_says_what_to_install(monkeypatch, caplog):
    fake = FakeLoadDelegate(ValueError(f"Failed to load delegate from {EDGETPU_LIBRARY}"))
    _with_fake_delegate(monkeypatch, fake)
    with pytest.raises(EdgeTPUUnavailableError) as err:
        choose_device("edgetpu", "none", LIGHTNING_SPEC)
    msg = str(err.value)
    assert "libedgetpu1-std" in msg and "fallback" in msg and EDGETPU_LIBRARY in msg
    # fallback = "cpu": a logged warning and the CPU model
    with caplog.at_level(logging.WARNING, logger="hiitpi.pose.runtime"):
        choice = choose_device("edgetpu", "cpu", LIGHTNING_SPEC)
    assert choice.device == "cpu" and choice.files == {"model": "movenet-lightning"}
    assert "falling back to the CPU" in caplog.text
    # auto: the CPU, no error
    assert choose_device("auto", "none", LIGHTNING_SPEC).device == "cpu"


def test_edgetpu_without_edgetpu_build_is_an_error(monkeypatch):
    _with_fake_delegate(monkeypatch, FakeLoadDelegate())
    with pytest.raises(EdgeTPUUnavailableError, match="no Edge TPU build"):
        choose_device("edgetpu", "none", POSENET_SPEC)


def test_edgetpu_file_missing_says_fetch(monkeypatch):
    _with_fake_delegate(monkeypatch, FakeLoadDelegate())
    with pytest.raises(EdgeTPUUnavailableError, match="hiitpi models fetch movenet-lightning-edgetpu"):
        choose_device("edgetpu", "none", LIGHTNING_SPEC, edgetpu_files_ok=False)


def test_real_missing_library_on_this_machine(capfd):
    """No Coral here: the real load_delegate fails and the message says what to install."""
    with pytest.raises(EdgeTPUUnavailableError, match="libedgetpu1-std"):
        load_edgetpu_delegate()
    assert "Exception ignored" not in capfd.readouterr().err


def test_create_estimator_edgetpu_missing(model_mirror, tmp_path, caplog):
    with pytest.raises(EdgeTPUUnavailableError, match="install the Edge TPU runtime"):
        create_estimator(make_settings(model_mirror, tmp_path, device="edgetpu"))
    with caplog.at_level(logging.WARNING):
        est = create_estimator(make_settings(model_mirror, tmp_path, device="edgetpu", fallback="cpu"))
    assert est.device == "cpu"
    assert "falling back" in caplog.text


def test_unknown_backend(model_mirror, tmp_path):
    with pytest.raises(UnknownBackendError, match="available: blazepose-full, movenet-lightning"):
        create_estimator(make_settings(model_mirror, tmp_path, model="openpose"))


def _settings_with_model_dir(tmp_path, files: dict[str, bytes], model="movenet-lightning"):
    """Settings whose model folder holds exactly ``files`` (manifest path -> bytes), no mirror."""
    from hiitpi.config import load_settings

    models = tmp_path / "models"
    for rel, data in files.items():
        (models / rel).parent.mkdir(parents=True, exist_ok=True)
        (models / rel).write_bytes(data)
    return load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path / "data"),
            ("models", "dir"): str(models),
            ("pose", "model"): model,
            ("pose", "device"): "cpu",
        },
    )


def test_missing_model_file_says_how_to_get_it(tmp_path):
    with pytest.raises(ModelMissingError, match="hiitpi models fetch movenet-lightning"):
        create_estimator(_settings_with_model_dir(tmp_path, {}))


def test_truncated_model_is_a_clear_error(tmp_path, model_mirror):
    data = (model_mirror / LIGHTNING).read_bytes()
    with pytest.raises(ModelLoadError, match="hiitpi models verify"):
        create_estimator(_settings_with_model_dir(tmp_path, {LIGHTNING: data[: len(data) // 3]}))


def test_garbage_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="not a TFLite model"):
        create_estimator(_settings_with_model_dir(tmp_path, {LIGHTNING: b"<html>404 Not Found</html>"}))


@pytest.mark.parametrize(
    ("model", "path", "wrong", "expected"),
    [
        ("movenet-lightning", LIGHTNING, "converted/posenet-int8.tflite", "does not look like MoveNet"),
        ("posenet", "converted/posenet-int8.tflite", LIGHTNING, "does not look like PoseNet"),
        (
            "movenet-lightning",
            LIGHTNING,
            "coral/movenet_single_pose_lightning_ptq_edgetpu.tflite",
            "compiled for the Edge TPU",
        ),
    ],
)
def test_wrong_model_file_is_a_clear_error(tmp_path, model_mirror, model, path, wrong, expected):
    settings = _settings_with_model_dir(tmp_path, {path: (model_mirror / wrong).read_bytes()}, model=model)
    with pytest.raises(ModelLoadError, match=expected):
        create_estimator(settings)


def test_wrong_blazepose_file_is_a_clear_error(tmp_path, model_mirror):
    det = "mediapipe/pose_detection.tflite"
    lm = "mediapipe/pose_landmark_full.tflite"
    files = {det: (model_mirror / det).read_bytes(), lm: (model_mirror / det).read_bytes()}
    with pytest.raises(ModelLoadError, match="does not look like BlazePose landmark"):
        create_estimator(_settings_with_model_dir(tmp_path, files, model="blazepose-full"))


def test_models_from_the_model_folder_work(tmp_path, model_mirror, shared_data):
    """The same file copied into the model folder (not the mirror) loads and finds the person."""
    settings = _settings_with_model_dir(tmp_path, {})
    dest = tmp_path / "models" / LIGHTNING
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(model_mirror / LIGHTNING, dest)
    est = create_estimator(settings)
    assert est.estimate(read_image(shared_data, "squat.bmp"), 0.0) is not None
    assert est.models["model"].path == dest


def test_threads_from_config(model_mirror, tmp_path, shared_data):
    est = create_estimator(make_settings(model_mirror, tmp_path, threads=2))
    pose = est.estimate(read_image(shared_data, "squat.bmp"), 0.0)
    assert pose is not None and np.isfinite(pose.keypoints).all()


def test_auto_with_a_coral_but_no_edgetpu_file_warns(monkeypatch, caplog):
    fake = FakeLoadDelegate()
    _with_fake_delegate(monkeypatch, fake)
    with caplog.at_level(logging.WARNING, logger="hiitpi.pose.runtime"):
        choice = choose_device("auto", "none", LIGHTNING_SPEC, edgetpu_files_ok=False)
    assert choice.device == "cpu" and choice.files == {"model": "movenet-lightning"}
    assert "hiitpi models fetch movenet-lightning-edgetpu" in caplog.text
