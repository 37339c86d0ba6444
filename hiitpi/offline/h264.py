"""The annotated video as a phone's browser plays it: H.264 in MP4, index first (``faststart``).

Two real encoders, found at run time (`find_encoder`): PyAV's FFmpeg with libx264 (the wheels on
x86_64 and aarch64 bundle it), else the ``ffmpeg`` program with libx264 or libopenh264 (Raspberry
Pi OS's ffmpeg has libx264). With neither, `NoH264Encoder` says what to install.

`open_h264(path, fps, size)` returns a writer: ``write(bgr_image, t)`` for each frame (``t`` is the
frame's media time, so a variable frame-rate video keeps its timing with PyAV), then ``close()``,
which finishes the file under a temporary name and renames it into place: a crash, an error or
``abort()`` never leaves a half-written video behind.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Protocol

import numpy as np

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

#: Encoders tried, best first (both make H.264 that every browser plays).
ENCODERS = ("libx264", "libopenh264")
BACKENDS = ("auto", "pyav", "ffmpeg")


class NoH264Encoder(HiitpiError):
    """Neither PyAV nor the ffmpeg program can encode H.264 here."""


@dataclass(frozen=True)
class EncoderChoice:
    backend: str  # "pyav" or "ffmpeg"
    codec: str  # libx264 | libopenh264
    program: str | None = None  # the ffmpeg binary for backend "ffmpeg"

    def describe(self) -> str:
        return f"{self.codec} through {'PyAV' if self.backend == 'pyav' else self.program}"


class H264Writer(Protocol):
    path: Path
    frames: int

    def write(self, image: np.ndarray, t: float) -> None: ...

    def close(self) -> Path: ...

    def abort(self) -> None: ...


def _pyav_codec() -> str | None:
    try:
        import av
        from av.codec import Codec
    except ImportError:
        return None
    for name in ENCODERS:
        try:
            Codec(name, "w")
        except (av.FFmpegError, ValueError, LookupError):
            continue
        return name
    return None


def _ffmpeg_codec(program: str | None) -> str | None:
    if program is None:
        return None
    try:
        out = subprocess.run(
            [program, "-hide_banner", "-encoders"], capture_output=True, text=True, timeout=20, check=False
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("ffmpeg %s -encoders failed: %s", program, exc)
        return None
    names = {line.split()[1] for line in out.splitlines() if len(line.split()) > 1}
    return next((name for name in ENCODERS if name in names), None)


def find_encoder(backend: str = "auto", *, ffmpeg: str | None = "ffmpeg") -> EncoderChoice:
    """The H.264 encoder to use: ``backend`` "pyav", "ffmpeg" or "auto" (PyAV first)."""
    if backend not in BACKENDS:
        raise NoH264Encoder(f"unknown video encoder {backend!r}", f"use one of {', '.join(BACKENDS)}")
    if backend in ("auto", "pyav"):
        codec = _pyav_codec()
        if codec is not None:
            return EncoderChoice("pyav", codec)
    if backend in ("auto", "ffmpeg"):
        program = shutil.which(ffmpeg) if ffmpeg else None
        codec = _ffmpeg_codec(program)
        if codec is not None:
            return EncoderChoice("ffmpeg", codec, program)
    tried = {"auto": "PyAV and the ffmpeg program", "pyav": "PyAV", "ffmpeg": "the ffmpeg program"}[backend]
    raise NoH264Encoder(
        f"no H.264 encoder found ({tried}: neither libx264 nor libopenh264), so the annotated video "
        "cannot be written",
        "install PyAV (`pip install av`, its wheels include libx264) or ffmpeg (`sudo apt install ffmpeg`)",
    )


def even_size(width: int, height: int, max_side: int | None = None) -> tuple[int, int]:
    """The video's size scaled to fit ``max_side`` (its longer side), rounded down to even numbers
    (4:2:0 H.264 needs them)."""
    scale = 1.0
    if max_side and max(width, height) > max_side:
        scale = max_side / max(width, height)
    w, h = max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)
    return w, h


def unfinished_name(path: Path) -> Path:
    return path.with_name(f".{path.stem}.part{path.suffix or '.mp4'}")


class _PyAVWriter:
    def __init__(self, path: Path, fps: float, size: tuple[int, int], codec: str, crf: int, preset: str):
        import av

        self.path = path
        self.frames = 0
        self._tmp = unfinished_name(path)
        self._size = size
        self._last_pts = -1
        rate = Fraction(fps).limit_denominator(1001)
        self._container = av.open(str(self._tmp), "w", format="mp4", options={"movflags": "+faststart"})
        try:
            stream = self._container.add_stream(codec, rate=rate)
            stream.width, stream.height = size
            stream.pix_fmt = "yuv420p"
            self._tb = Fraction(1, 90000)
            stream.time_base = self._tb
            stream.codec_context.time_base = self._tb
            if codec == "libx264":
                stream.codec_context.options = {"crf": str(crf), "preset": preset}
            self._stream = stream
        except Exception:
            self._container.close()
            self._tmp.unlink(missing_ok=True)
            raise

    def write(self, image: np.ndarray, t: float) -> None:
        import av

        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image[..., :3]), format="bgr24")
        pts = max(self._last_pts + 1, round(t / self._tb))
        self._last_pts = pts
        frame.pts = pts
        frame.time_base = self._tb
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> Path:
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        finally:
            self._container.close()
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._container.close()
        except Exception as exc:
            log.debug("closing an aborted video: %s", exc)
        self._tmp.unlink(missing_ok=True)


class _FfmpegWriter:
    def __init__(
        self, path: Path, fps: float, size: tuple[int, int], program: str, codec: str, crf: int, preset: str
    ):
        self.path = path
        self.frames = 0
        self._tmp = unfinished_name(path)
        w, h = size
        args = [program, "-hide_banner", "-loglevel", "error", "-y"]
        args += ["-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{w}x{h}", "-r", f"{fps:.6f}", "-i", "-"]
        args += ["-c:v", codec, "-pix_fmt", "yuv420p"]
        if codec == "libx264":
            args += ["-preset", preset, "-crf", str(crf)]
        args += ["-movflags", "+faststart", "-f", "mp4", str(self._tmp)]
        self._proc = subprocess.Popen(args, stdin=subprocess.PIPE, stderr=subprocess.PIPE)

    def write(self, image: np.ndarray, t: float) -> None:
        try:
            self._proc.stdin.write(np.ascontiguousarray(image[..., :3]).tobytes())
        except BrokenPipeError:
            err = self._proc.stderr.read().decode(errors="replace").strip()
            raise HiitpiError(f"ffmpeg stopped while writing the annotated video: {err[-300:]}") from None
        self.frames += 1

    def close(self) -> Path:
        self._proc.stdin.close()
        err = self._proc.stderr.read().decode(errors="replace").strip()
        if self._proc.wait() != 0:
            self._tmp.unlink(missing_ok=True)
            raise HiitpiError(f"ffmpeg could not write the annotated video: {err[-300:]}")
        os.replace(self._tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._proc.kill()
            self._proc.wait(5)
        except (OSError, subprocess.SubprocessError) as exc:
            log.debug("stopping ffmpeg: %s", exc)
        self._tmp.unlink(missing_ok=True)


def open_h264(
    path: str | Path,
    fps: float,
    size: tuple[int, int],
    *,
    encoder: EncoderChoice | None = None,
    crf: int = 23,
    preset: str = "veryfast",
) -> H264Writer:
    """A writer of an H.264 MP4 (faststart) at ``path``; ``size`` (width, height) must be even."""
    path = Path(path)
    if size[0] % 2 or size[1] % 2:
        raise ValueError(f"H.264 frame size must be even, not {size[0]}x{size[1]} (use even_size)")
    path.parent.mkdir(parents=True, exist_ok=True)
    enc = encoder or find_encoder()
    log.info("writing %s (%dx%d, %.2f fps) with %s", path, size[0], size[1], fps, enc.describe())
    if enc.backend == "pyav":
        return _PyAVWriter(path, fps, size, enc.codec, crf, preset)
    return _FfmpegWriter(path, fps, size, enc.program or "ffmpeg", enc.codec, crf, preset)
