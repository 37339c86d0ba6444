"""Model files: the manifest schema, mirror fetch, checksum, the PyPI-wheel source, clear missing errors,
and `hiitpi models fetch|verify NAME` taking a pose model's files from its backend."""

from __future__ import annotations

import hashlib
import re

import pytest

from hiitpi.cli import main
from hiitpi.config import load_settings
from hiitpi.modelfiles import (
    ManifestError,
    ModelFetchError,
    ModelMissingError,
    ModelStore,
    UnknownModelFileError,
    load_manifest,
)
from hiitpi.pose.registry import backend_specs, get_backend

SHA = "ab" * 32


def _settings(tmp_path, mirror=None, manifest=None):
    o = {("general", "data_dir"): str(tmp_path / "data")}
    if mirror:
        o[("models", "mirror")] = str(mirror)
    if manifest:
        o[("models", "manifest")] = str(manifest)
    return load_settings(None, env={}, overrides=o)


def test_manifest_matches_shared_checksums(model_mirror):
    sums = dict(reversed(line.split()) for line in (model_mirror / "SHA256SUMS").read_text().splitlines())
    files = load_manifest(_settings(model_mirror).models.manifest)
    for mf in files.values():
        if mf.path in sums:
            assert sums[mf.path] == mf.sha256, mf.name


def test_every_file_a_backend_declares_is_in_the_manifest(tmp_path):
    files = load_manifest(_settings(tmp_path).models.manifest)
    for spec in backend_specs():
        assert spec.manifest_names(), spec.name
        for name in spec.manifest_names():
            assert name in files, f"{spec.name} declares {name!r}, which models/manifest.toml lacks"


def test_fetch_from_mirror_then_idempotent(tmp_path, model_mirror):
    store = ModelStore(_settings(tmp_path, model_mirror))
    path = store.fetch("movenet-lightning", progress=False)
    assert path == tmp_path / "data/models/coral/movenet_single_pose_lightning_ptq.tflite"
    mtime = path.stat().st_mtime_ns
    assert store.fetch("movenet-lightning", progress=False) == path
    assert path.stat().st_mtime_ns == mtime
    assert store.verify("movenet-lightning")[0] == "ok"


def test_missing_model_says_how_to_get_it(tmp_path):
    store = ModelStore(_settings(tmp_path))
    with pytest.raises(ModelMissingError) as exc:
        store.path("movenet-lightning")
    msg = str(exc.value)
    assert "hiitpi models fetch movenet-lightning" in msg and "HIITPI_MODEL_MIRROR" in msg
    assert store.verify("movenet-lightning")[0] == "missing"
    assert not store.has("movenet-lightning")
    with pytest.raises(UnknownModelFileError, match=r"no model file named 'nope'.*known: movenet-lightning"):
        store.entry("nope")


def test_corrupt_file_is_refetched_and_bad_mirror_rejected(tmp_path, model_mirror):
    store = ModelStore(_settings(tmp_path, model_mirror))
    target = store.local_path("movenet-lightning")
    target.parent.mkdir(parents=True)
    target.write_bytes(b"not a model")
    assert store.verify("movenet-lightning")[0] == "bad"
    store.fetch("movenet-lightning", progress=False)
    assert store.verify("movenet-lightning")[0] == "ok"
    # A mirror whose copy is damaged: the fetch fails and says why. The official URL is taken
    # out of the entry so the test does not depend on internet access.
    bad_mirror = tmp_path / "badmirror/coral"
    bad_mirror.mkdir(parents=True)
    (bad_mirror / "movenet_single_pose_lightning_ptq.tflite").write_bytes(b"junk")
    store2 = ModelStore(_settings(tmp_path / "other", tmp_path / "badmirror"))
    entry = store2.entry("movenet-lightning")
    store2.files["movenet-lightning"] = entry.model_copy(update={"url": None})
    with pytest.raises(ModelFetchError, match=r"mirror: sha256 .* does not match"):
        store2.fetch("movenet-lightning", progress=False)
    assert not store2.local_path("movenet-lightning").exists()


def _entry(**fields) -> str:
    body = {"name": '"x"', "path": '"x.tflite"', "sha256": f'"{SHA}"', **fields}
    return "[[file]]\n" + "".join(f"{k} = {v}\n" for k, v in body.items() if v is not None)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (_entry(urll='"http://x"'), [r":5: file\.0\.urll: unknown key 'urll'; allowed here: about, howto"]),
        (_entry(sha256='"00"'), [r":4: file\.0\.sha256: '00' is not a SHA-256: it must be 64 lowercase hex"]),
        (_entry(path=None), [r":1: file\.0\.path: missing required key 'path'"]),
        (_entry(path='"../../etc/passwd"'), [r":3: file\.0\.path: .* must be a relative path"]),
        (_entry(url='"ftp://x"'), [r":5: file\.0\.url: 'ftp://x' must start with https://"]),
        (_entry(size="-3"), [r":5: file\.0\.size: Input should be greater than 0"]),
        (
            _entry(package='"mediapipe==0.10.14"'),
            [r":1: file\.0: 'package' and 'package_member' go together"],
        ),
        (
            _entry() + _entry(path='"y.tflite"'),
            [r":6: file\.1\.name: 'x' is already the name of another file"],
        ),
        (
            _entry(name='"Big Name"', sha256='"zz"'),
            [r":2: file\.0\.name: 'Big Name' is not a name", r":4: file\.0\.sha256: 'zz' is not a SHA-256"],
        ),
        ("[[file]\nname = 1\n", [r":1: TOML syntax error"]),
    ],
)
def test_manifest_errors_name_file_line_and_key(tmp_path, text, expected):
    m = tmp_path / "manifest.toml"
    m.write_text(text)
    with pytest.raises(ManifestError if "TOML" not in expected[0] else ValueError) as exc:
        load_manifest(m)
    lines = str(exc.value).splitlines()
    assert len(lines) == len(expected), lines
    for line, pattern in zip(lines, expected, strict=True):
        assert line.startswith(str(m)), line
        assert re.search(pattern, line), (pattern, line)


def test_the_real_manifest_is_valid_and_complete(tmp_path):
    files = load_manifest(_settings(tmp_path).models.manifest)
    assert {"movenet-lightning", "movenet-lightning-edgetpu", "blazepose-detector", "tinyllama"} <= set(files)
    assert all(mf.about and mf.license for mf in files.values())


@pytest.fixture()
def cli_env(monkeypatch, tmp_path, model_mirror):
    monkeypatch.delenv("HIITPI_CONFIG", raising=False)
    for var in ("HIITPI_POSE_MODEL", "HIITPI_POSE_DEVICE", "HIITPI_POSE_FALLBACK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(model_mirror))
    monkeypatch.setenv("HIITPI_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data" / "models"


def _fetched(models_dir) -> set[str]:
    return {str(p.relative_to(models_dir)) for p in models_dir.rglob("*") if p.is_file()}


def test_fetch_a_backend_fetches_exactly_its_files(cli_env, capsys):
    """`hiitpi models fetch blazepose-full`: the two files BlazePose declares, from the mirror."""
    assert main(["models", "fetch", "blazepose-full", "--no-progress"]) == 0
    files = load_manifest(_settings(cli_env).models.manifest)
    declared = get_backend("blazepose-full").files_on("cpu").values()
    assert _fetched(cli_env) == {files[n].path for n in declared}
    assert _fetched(cli_env) == {"mediapipe/pose_detection.tflite", "mediapipe/pose_landmark_full.tflite"}
    out = capsys.readouterr().out
    assert out.count("ok ") == 2 and "blazepose-detector" in out and "blazepose-landmark-full" in out
    assert main(["models", "verify", "blazepose-full"]) == 0


def test_fetch_without_names_is_what_the_configured_model_needs(cli_env, monkeypatch):
    assert main(["models", "fetch", "--no-progress"]) == 0  # the default: movenet-lightning on the CPU
    assert _fetched(cli_env) == {"coral/movenet_single_pose_lightning_ptq.tflite"}
    monkeypatch.setenv("HIITPI_POSE_MODEL", "posenet")
    assert main(["models", "fetch", "--no-progress"]) == 0
    assert "converted/posenet-int8.tflite" in _fetched(cli_env)


@pytest.mark.parametrize(
    ("device", "fallback", "expected"),
    [
        ("cpu", "none", {"coral/movenet_single_pose_lightning_ptq.tflite"}),
        ("edgetpu", "none", {"coral/movenet_single_pose_lightning_ptq_edgetpu.tflite"}),
        (
            "edgetpu",
            "cpu",
            {
                "coral/movenet_single_pose_lightning_ptq.tflite",
                "coral/movenet_single_pose_lightning_ptq_edgetpu.tflite",
            },
        ),
    ],
)
def test_fetch_takes_the_files_for_the_device(cli_env, monkeypatch, device, fallback, expected):
    monkeypatch.setenv("HIITPI_POSE_DEVICE", device)
    monkeypatch.setenv("HIITPI_POSE_FALLBACK", fallback)
    assert main(["models", "fetch", "movenet-lightning", "--no-progress"]) == 0
    assert _fetched(cli_env) == expected


def test_files_needed_per_device():
    spec = get_backend("movenet-lightning")
    cpu, tpu = "movenet-lightning", "movenet-lightning-edgetpu"
    assert spec.files_needed("cpu", "none", edgetpu_present=True) == {cpu: True}
    assert spec.files_needed("auto", "none", edgetpu_present=False) == {cpu: True}
    # auto with a Coral plugged in: the Edge TPU file is wanted, the CPU one still required
    assert spec.files_needed("auto", "none", edgetpu_present=True) == {cpu: True, tpu: False}
    assert spec.files_needed("edgetpu", "none", edgetpu_present=False) == {tpu: True}
    assert spec.files_needed("edgetpu", "cpu", edgetpu_present=False) == {cpu: True, tpu: True}
    blaze = get_backend("blazepose-full")
    both = {"blazepose-detector": True, "blazepose-landmark-full": True}
    assert blaze.files_needed("auto", "none", edgetpu_present=True) == both


def test_fetch_a_manifest_file_by_name(cli_env):
    assert main(["models", "fetch", "movenet-lightning-edgetpu", "--no-progress"]) == 0
    assert _fetched(cli_env) == {"coral/movenet_single_pose_lightning_ptq_edgetpu.tflite"}


def test_fetch_an_unknown_name_is_one_line_and_fetches_nothing(cli_env, capsys):
    assert main(["models", "fetch", "blazepose-full", "movenet-turbo", "--no-progress"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "'movenet-turbo'" in err[0] and "movenet-lightning" in err[0] and "tinyllama" in err[0]
    assert not cli_env.exists() or _fetched(cli_env) == set()


def test_verify_fails_for_a_needed_missing_file(cli_env, monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("HIITPI_MODEL_MIRROR", str(tmp_path / "empty"))
    assert main(["models", "verify"]) == 1  # movenet-lightning is needed and missing
    out = capsys.readouterr().out
    assert "missing  movenet-lightning " in out


def test_models_list_says_which_backend_uses_each_file(cli_env, capsys):
    assert main(["models", "list"]) == 0
    rows = {line.split()[0]: line for line in capsys.readouterr().out.splitlines()}
    assert "blazepose-full" in rows["blazepose-detector"]
    assert "needed" in rows["movenet-lightning"] and "movenet-lightning" in rows["movenet-lightning"]
    assert "needed" not in rows["tinyllama"]


@pytest.mark.slow
def test_fetch_blazepose_from_the_mediapipe_wheel(tmp_path):
    """The registry-package source: pip downloads mediapipe==0.10.14 and the .tflite is unpacked."""
    store = ModelStore(_settings(tmp_path))
    path = store.fetch("blazepose-detector", progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == store.entry("blazepose-detector").sha256
