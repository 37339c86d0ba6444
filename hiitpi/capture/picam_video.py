"""The Pi camera's hardware JPEG encoder making the viewers' MJPEG stream from ``main``.

On a Raspberry Pi up to the 4, picamera2's ``MJPEGEncoder`` drives the VideoCore's V4L2 codec
(``/dev/video11``, "bcm2835-codec-encode"): the CPU neither copies the ``main`` picture out nor
compresses it. The overlay (skeleton, count) is drawn on the camera's buffer in picamera2's
``pre_callback`` (a ``MappedArray`` of ``main``), before the encoder gets it; each JPEG reaches
the viewers through a ``FileOutput`` whose file is `_JpegSink`. A Pi 5 has no such encoder (its
``MJPEGEncoder`` is libav's, on the CPU, at the camera's full rate): there, and wherever
picamera2 lacks any of these, `HardwareVideo.available` says why and the CPU encoder of
`hiitpi.web.mjpeg` stays in use. The encoder runs only while someone watches.
"""

from __future__ import annotations

import importlib
import io
import logging
from typing import Any

from hiitpi.capture.base import VideoTap

log = logging.getLogger(__name__)


def hardware_mjpeg(picamera2: Any) -> tuple[Any, str]:
    """picamera2's hardware MJPEG encoder class, or (None, why not)."""
    try:
        encoders = importlib.import_module(f"{picamera2.__name__}.encoders")
        outputs = importlib.import_module(f"{picamera2.__name__}.outputs")
    except ImportError as exc:
        return None, f"picamera2 has no encoders/outputs ({exc})"
    cls = getattr(encoders, "MJPEGEncoder", None)
    if cls is None or not hasattr(outputs, "FileOutput") or not hasattr(picamera2, "MappedArray"):
        return None, "this picamera2 has no MJPEGEncoder, FileOutput or MappedArray"
    if cls.__name__ != "MJPEGEncoder" or getattr(encoders, "_hw_encoder_available", True) is False:
        return None, f"no hardware JPEG encoder on this Pi (picamera2 offers {cls.__name__}, on the CPU)"
    return cls, ""


class _JpegSink(io.BufferedIOBase):
    """The file a ``FileOutput`` writes each encoded frame to: handed on to the viewers."""

    def __init__(self, tap: VideoTap):
        super().__init__()
        self.tap = tap
        self.frames = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self.frames += 1
        self.tap.camera_jpeg(bytes(data))
        return len(data)


class HardwareVideo:
    """The hardware encoder on the ``main`` stream of one open camera, started while anyone
    watches. `PiCameraSource` owns one per opening."""

    def __init__(self, picamera2: Any, cam: Any, tap: VideoTap, encoder_cls: Any):
        self._picamera2 = picamera2
        self._cam = cam
        self._tap = tap
        self._encoder_cls = encoder_cls
        self._encoder: Any = None
        self.sink = _JpegSink(tap)
        self.failed: str | None = None

    @classmethod
    def available(cls, picamera2: Any, cam: Any, tap: VideoTap | None) -> tuple[HardwareVideo | None, str]:
        """A `HardwareVideo` for ``cam``, or (None, why the CPU encoder is used instead)."""
        if tap is None:
            return None, "no viewers' side was given"
        if not tap.accepts_camera_jpeg():
            return None, "the viewers' side does not take camera pictures (privacy mode)"
        encoder_cls, why = hardware_mjpeg(picamera2)
        if encoder_cls is None:
            return None, why
        return cls(picamera2, cam, tap, encoder_cls), ""

    @property
    def running(self) -> bool:
        return self._encoder is not None

    def follow_viewers(self) -> bool:
        """Start the encoder when someone watches, stop it when nobody does (called once per
        frame by the capture thread). True while it runs. An encoder that fails to start is
        logged once and given up: the CPU encoder takes over."""
        if self.failed is not None:
            return False
        watching = self._tap.watching()
        if watching and self._encoder is None:
            self._start()
        elif not watching and self._encoder is not None:
            self.stop()
        return self._encoder is not None

    def _start(self) -> None:
        outputs = importlib.import_module(f"{self._picamera2.__name__}.outputs")
        try:
            encoder = self._encoder_cls()
            self._cam.pre_callback = self._paint
            self._cam.start_encoder(encoder, outputs.FileOutput(self.sink), name="main")
        except Exception as exc:  # RuntimeError("Hardware MJPEG not available"), a busy codec ...
            self._cam.pre_callback = None
            self.failed = f"{type(exc).__name__}: {exc}"
            log.warning(
                "the Pi camera's hardware JPEG encoder did not start (%s); encoding on the CPU", self.failed
            )
            return
        self._encoder = encoder
        log.info("viewers' video: the Pi camera's hardware JPEG encoder on main")

    def _paint(self, request: Any) -> None:
        """picamera2's pre_callback: the overlay on ``main``, in place, before it is encoded."""
        try:
            with self._picamera2.MappedArray(request, "main") as mapped:
                self._tap.paint(mapped.array)
        except Exception:  # a bad overlay must not stop the camera
            log.debug("overlay on the camera picture failed", exc_info=True)

    def stop(self) -> None:
        encoder, self._encoder = self._encoder, None
        if encoder is None:
            return
        try:
            self._cam.stop_encoder(encoder)
        except Exception:
            log.debug("stopping the hardware encoder failed", exc_info=True)
        finally:
            self._cam.pre_callback = None
