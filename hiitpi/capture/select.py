"""Choose a frame source from settings: 'auto', 'picamera', a device, a URL or a file."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from hiitpi.capture.base import FrameSource, SourceOpenError, VideoTap
from hiitpi.config import CaptureSettings

log = logging.getLogger(__name__)

SourceFactory = Callable[[], FrameSource]
_STREAM_SCHEMES = ("rtsp://", "rtsps://", "http://", "https://", "udp://", "tcp://")


def describe_auto() -> tuple[str | None, list[str]]:
    """What 'auto' would pick, and why the others were passed over."""
    from hiitpi.capture.picam import picamera2_available

    tried = []
    if picamera2_available():
        return "picamera", tried
    tried.append("picamera (picamera2 not installed)")
    for dev in sorted(Path("/dev").glob("video[0-9]*")):
        return str(dev), tried
    tried.append("/dev/video* (no V4L2 device)")
    return None, tried


def create_source_factory(
    capture: CaptureSettings,
    *,
    paced: bool | None = None,
    loop: bool | None = None,
    video: VideoTap | None = None,
) -> SourceFactory:
    """A callable that builds a fresh, unopened source (the watchdog calls it again on restart).

    ``video``: the viewers' side, for a source that can feed it itself (the Pi camera).
    Raises `SourceOpenError` when nothing matches the spec, with what to do next.
    """
    spec = capture.source.strip()
    paced = capture.paced if paced is None else paced
    loop = capture.loop if loop is None else loop
    if spec == "auto":
        chosen, tried = describe_auto()
        if chosen is None:
            raise SourceOpenError(
                "no camera found for --source auto: tried " + "; ".join(tried) + ". Attach a camera or "
                "pass --source FILE to run on a video file"
            )
        log.info("source auto: using %s", chosen)
        spec = chosen
    if spec in ("picamera", "picamera2"):
        from hiitpi.capture.picam import PiCameraSource

        return lambda: PiCameraSource(
            width=capture.width,
            height=capture.height,
            fps=capture.fps,
            lores_width=capture.lores_width,
            video=video,
        )
    from hiitpi.capture.opencv import OpenCVSource, device_index

    if device_index(spec) is not None or spec.startswith(_STREAM_SCHEMES):
        return lambda: OpenCVSource(spec, width=capture.width, height=capture.height, fps=capture.fps)
    path = Path(spec).expanduser()
    if path.is_file():
        from hiitpi.capture.video import VideoFileSource

        return lambda: VideoFileSource(path, paced=paced, loop=loop)
    raise SourceOpenError(
        f"source {spec!r} is not a video file, a /dev/videoN device, an rtsp:// URL, 'picamera' or 'auto'"
        + ("; the file does not exist" if not spec.startswith("/dev/") else "; the device does not exist")
    )
