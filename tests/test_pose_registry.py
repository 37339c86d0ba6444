"""Backends as plugins: what each declares, discovery (a module that fails to import is skipped and
reported), unknown names, per-backend options; a new backend is one file."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import textwrap

import pytest

from hiitpi.cli import main
from hiitpi.pose import registry
from hiitpi.pose.backends.movenet import MoveNet
from hiitpi.pose.base import PoseBackend
from hiitpi.pose.geometry import Region
from hiitpi.pose.registry import (
    BackendOptionsError,
    BackendRegistry,
    UnknownBackendError,
    available_backends,
    broken_backends,
    check_options,
    create_estimator,
    get_backend,
    register_backend,
)
from tests.test_pose_support import ALL_BACKENDS, make_settings, read_image, settle


def test_every_backend_declares_its_files_per_device():
    assert available_backends() == sorted(ALL_BACKENDS)
    assert broken_backends() == {}
    files = {name: {d: dict(r) for d, r in get_backend(name).files.items()} for name in ALL_BACKENDS}
    assert files == {
        "movenet-lightning": {
            "cpu": {"model": "movenet-lightning"},
            "edgetpu": {"model": "movenet-lightning-edgetpu"},
        },
        "movenet-thunder": {"cpu": {"model": "movenet-thunder"}},
        "posenet": {"cpu": {"model": "posenet"}},
        "blazepose-full": {"cpu": {"detector": "blazepose-detector", "landmark": "blazepose-landmark-full"}},
    }
    for name in ALL_BACKENDS:
        spec = get_backend(name)
        assert spec.title and spec.description and spec.module in ("movenet", "posenet", "blazepose")
    assert list(get_backend("movenet-lightning").options.model_fields) == ["tracking"]
    assert list(get_backend("posenet").options.model_fields) == []


def test_listing_backends_does_not_load_tflite():
    """`available_backends` (what `config check` uses) imports the backend modules, not the interpreter."""
    code = (
        "import sys; from hiitpi.pose.registry import available_backends, get_backend; "
        "n = available_backends(); get_backend('blazepose-full').files_on('cpu'); "
        "print(len(n), 'ai_edge_litert' in sys.modules, 'tflite_runtime' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=os.environ, check=True
    )
    assert out.stdout.split() == [str(len(ALL_BACKENDS)), "False", "False"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("movenet-turbo", "unknown pose model 'movenet-turbo'"),
        ("movenet-lightnin", "did you mean 'movenet-lightning'?"),
        ("", "available: blazepose-full, movenet-lightning, movenet-thunder, posenet"),
    ],
)
def test_unknown_name_lists_the_known_ones(name, expected):
    with pytest.raises(UnknownBackendError) as exc:
        get_backend(name)
    assert expected in str(exc.value) and exc.value.exit_code == 2
    assert len(exc.value.lines()) == 1


def test_register_backend_checks_the_declaration():
    with pytest.raises(ValueError, match="must be given for 'cpu'"):
        register_backend("x", title="x", description="x", files={"edgetpu": {"model": "a"}})
    with pytest.raises(ValueError, match="same roles"):
        register_backend(
            "x", title="x", description="x", files={"cpu": {"model": "a"}, "edgetpu": {"m": "b"}}
        )
    with pytest.raises(ValueError, match="no file for its input role 'model'"):
        register_backend("x", title="x", description="x", files={"cpu": {"detector": "a"}})(MoveNet)
    with pytest.raises(TypeError, match="PoseBackend subclass"):
        register_backend("x", title="x", description="x", files={"cpu": {"model": "a"}})(object)


#: A plugin folder: a working new backend, one that needs a missing package, one that does not
#: parse, one that takes a name already declared, and a private helper module (not a plugin).
PLUGINS = {
    "__init__.py": "",
    "_helpers.py": "raise RuntimeError('private modules are not plugins')\n",
    "letterbox.py": '''
        """MoveNet Lightning without crop tracking: a new pose model in one file."""
        from hiitpi.pose.backends.movenet import MoveNet, MoveNetOptions
        from hiitpi.pose.registry import register_backend


        class NoTracking(MoveNetOptions):
            tracking: bool = False


        @register_backend(
            "lightning-letterbox",
            title="Lightning, whole frame",
            description="MoveNet Lightning on the letterboxed frame, every frame",
            files={"cpu": {"model": "movenet-lightning"}},
        )
        class Letterboxed(MoveNet):
            Options = NoTracking
        ''',
    "needs_mediapipe.py": "import mediapipe_not_installed_here  # noqa\n",
    "typo.py": "def broken(:\n",
    "zz_twice.py": """
        from hiitpi.pose.backends.posenet import PoseNet
        from hiitpi.pose.registry import register_backend


        @register_backend("lightning-letterbox", title="t", description="d", files={"cpu": {"model": "posenet"}})
        class Again(PoseNet):
            pass
        """,
}


@pytest.fixture()
def plugins(tmp_path, monkeypatch):
    """A `BackendRegistry` over the PLUGINS folder, installed as the registry everything uses."""
    pkg = tmp_path / "site" / "hiitpi_test_plugins"
    pkg.mkdir(parents=True)
    for name, text in PLUGINS.items():
        (pkg / name).write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    reg = BackendRegistry("hiitpi_test_plugins")
    monkeypatch.setattr(registry, "REGISTRY", reg)
    yield reg
    for mod in [m for m in sys.modules if m.startswith("hiitpi_test_plugins")]:
        del sys.modules[mod]


def test_a_plugin_that_fails_to_import_is_skipped_and_reported(plugins, caplog):
    with caplog.at_level(logging.WARNING, logger="hiitpi.pose.registry"):
        assert plugins.names() == ["lightning-letterbox"]
        plugins.names()  # discovery runs once: each broken module is logged once
    broken = plugins.broken()
    assert set(broken) == {"needs_mediapipe", "typo", "zz_twice"}
    assert (
        "ModuleNotFoundError" in broken["needs_mediapipe"]
        and "mediapipe_not_installed_here" in broken["needs_mediapipe"]
    )
    assert "SyntaxError" in broken["typo"]
    assert "declared twice" in broken["zz_twice"]
    warnings = [r for r in caplog.records if "skipped" in r.getMessage()]
    assert len(warnings) == 3
    with pytest.raises(UnknownBackendError, match=r"not loaded: needs_mediapipe \(ModuleNotFoundError"):
        get_backend("blazepose-full")


def test_pose_list_shows_the_plugins_and_what_did_not_load(
    plugins, monkeypatch, tmp_path, model_mirror, capsys
):
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("HIITPI_CONFIG", raising=False)
    assert main(["pose", "--list"]) == 0
    out = capsys.readouterr().out
    assert "lightning-letterbox" in out and "Lightning, whole frame" in out
    assert "option tracking = false" in out
    assert "not loaded: backend module needs_mediapipe: ModuleNotFoundError" in out
    assert main(["pose", "--list", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [m["name"] for m in doc["models"]] == ["lightning-letterbox"]
    assert doc["models"][0]["files"]["cpu"]["model"] == {"file": "movenet-lightning", "in_place": True}
    assert set(doc["not_loaded"]) == {"needs_mediapipe", "typo", "zz_twice"}
    assert main(["models", "list"]) == 0
    assert "not loaded: pose backend module typo: SyntaxError" in capsys.readouterr().out


def test_a_new_backend_is_one_file(plugins, model_mirror, tmp_path, shared_data):
    """The plugin's backend loads the real model and finds the person, without crop tracking."""
    est = create_estimator(make_settings(model_mirror, tmp_path, model="lightning-letterbox", device="cpu"))
    img = read_image(shared_data, "squat.bmp")
    assert settle(est, img) is not None
    assert est.last_region == Region.letterbox(img.shape[1], img.shape[0])


def test_tracking_option_from_the_settings_file(tmp_path, model_mirror, shared_data):
    from hiitpi.config import load_settings, settings_to_toml

    cfg = tmp_path / "hiitpi.toml"
    cfg.write_text(
        '[pose]\nmodel = "movenet-lightning"\ndevice = "cpu"\n\n[pose.options.movenet-lightning]\ntracking = false\n'
    )
    env = {"HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "data")}
    settings = load_settings(cfg, env=env)
    est = create_estimator(settings)
    assert est.options.tracking is False
    img = read_image(shared_data, "squat.bmp")
    settle(est, img)
    assert est.last_region == Region.letterbox(img.shape[1], img.shape[0])  # never cropped
    on = create_estimator(load_settings(None, env={**env, "HIITPI_POSE_DEVICE": "cpu"}))
    settle(on, img)
    assert on.options.tracking is True and on.last_region.width < max(img.shape[:2])
    # `config show` writes the options table back, and it reads the same
    shown = tmp_path / "shown.toml"
    shown.write_text(settings_to_toml(settings))
    assert "[pose.options.movenet-lightning]\ntracking = false" in shown.read_text()
    assert load_settings(shown, env={}).pose.options == {"movenet-lightning": {"tracking": False}}


def test_bad_options_are_clear_errors(model_mirror, tmp_path):
    options = {
        "movenet-lightning": {"trackin": False},
        "blazepose-full": {"tracking": "sometimes"},
        "posenet": {"tracking": True},
        "openpose": {},
    }
    problems = dict(check_options(options))
    assert (
        problems[("pose", "options", "movenet-lightning", "trackin")]
        == "unknown key 'trackin'; allowed here: tracking"
    )
    assert "valid boolean" in problems[("pose", "options", "blazepose-full", "tracking")]
    assert problems[("pose", "options", "posenet", "tracking")].startswith(
        "unknown key 'tracking'; allowed here: none"
    )
    assert "unknown pose model 'openpose'" in problems[("pose", "options", "openpose")]
    settings = make_settings(
        model_mirror, tmp_path, device="cpu", options={"movenet-lightning": {"trackin": False}}
    )
    with pytest.raises(BackendOptionsError) as exc:
        create_estimator(settings)
    assert exc.value.errors == [
        "settings: pose.options.movenet-lightning.trackin: unknown key 'trackin'; allowed here: tracking"
    ]
    assert exc.value.exit_code == 2


def test_a_backend_is_a_pose_backend():
    for name in ALL_BACKENDS:
        assert issubclass(get_backend(name).cls, PoseBackend)
