"""The Raspberry Pi camera through picamera2: a small ``lores`` stream for inference, ``main`` for viewers.

picamera2 is imported only when this source is opened. It comes from Raspberry Pi OS, not PyPI:
``sudo apt install python3-picamera2`` and a venv made with ``--system-site-packages``.
"""

from __future__ import annotations

import importlib
import logging
import time
from typing import Any

import cv2
import numpy as np

from hiitpi.capture.base import Frame, FrameSource, SourceError, SourceOpenError, VideoTap
from hiitpi.capture.picam_video import HardwareVideo

log = logging.getLogger(__name__)

INSTALL_HINT = (
    "install it with `sudo apt install python3-picamera2` and create the venv with "
    "`python3 -m venv --system-site-packages .venv` so the venv can see it"
)


def picamera2_available() -> bool:
    """True when the picamera2 module can be imported (says nothing about a camera being attached)."""
    try:
        importlib.import_module("picamera2")
    except Exception:  # ImportError, or libcamera's own import errors on a broken install
        return False
    return True


def lores_size(main: tuple[int, int], lores_width: int) -> tuple[int, int]:
    """The ``lores`` size: ``lores_width`` rounded to a multiple of 64 (so rows are not padded),
    the main stream's aspect ratio, even height, never larger than main."""
    mw, mh = main
    lw = max(64, min(mw, (lores_width // 64) * 64))
    lh = max(2, round(mh * lw / mw / 2) * 2)
    return lw, lh


def yuv420_to_bgr(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """A picamera2 YUV420 (I420) array, possibly with padded rows (stride > width), to BGR."""
    return _yuv420_to(arr, width, height, cv2.COLOR_YUV2BGR_I420)


def yuv420_to_rgb(arr: np.ndarray, width: int, height: int) -> np.ndarray:
    """The same to R, G, B: the order the pose models want, in the one conversion."""
    return _yuv420_to(arr, width, height, cv2.COLOR_YUV2RGB_I420)


def _yuv420_to(arr: np.ndarray, width: int, height: int, code: int) -> np.ndarray:
    stride = arr.shape[1]
    if stride == width and arr.shape[0] == height * 3 // 2:
        return cv2.cvtColor(arr, code)
    flat = np.ascontiguousarray(arr).reshape(-1)
    y_size = height * stride
    c_stride, c_h, c_w = stride // 2, height // 2, width // 2
    c_size = c_h * c_stride
    y = flat[:y_size].reshape(height, stride)[:, :width]
    u = flat[y_size : y_size + c_size].reshape(c_h, c_stride)[:, :c_w]
    v = flat[y_size + c_size : y_size + 2 * c_size].reshape(c_h, c_stride)[:, :c_w]
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, code)


class PiCameraSource(FrameSource):
    """The Pi camera: ``main`` (RGB888, which numpy sees as BGR) for viewing, ``lores`` (YUV420, the
    format every Pi's ISP can give for the second stream) converted straight to R, G, B for
    inference (``Frame.rgb``: what the pose models take, so no second conversion per frame).

    With a ``video`` tap (the viewers' side), ``main`` is only copied out while someone watches,
    and where the Pi has a hardware JPEG encoder it makes the viewers' stream from ``main``
    itself (`hiitpi.capture.picam_video`): then ``main`` is never copied out at all.
    """

    live = True
    # picamera2 runs the camera from its own thread; stop()/close() from ours wake a blocked
    # capture_request, and the camera must be closed before it can be opened again.
    close_while_reading = True

    def __init__(
        self,
        *,
        width: int = 640,
        height: int = 480,
        fps: float = 30.0,
        lores_width: int = 320,
        camera_num: int = 0,
        video: VideoTap | None = None,
    ):
        self.name = f"picamera:{camera_num}"
        self.video = video
        self.hardware_video: HardwareVideo | None = None
        self.main_size = (width, height)
        self.lores = lores_size(self.main_size, lores_width)
        self._fps = fps
        self.camera_num = camera_num
        self._cam: Any = None
        self._seq = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        try:
            picamera2 = importlib.import_module("picamera2")
        except ImportError as exc:
            raise SourceOpenError(
                f"the Pi camera needs picamera2, which is not installed: {INSTALL_HINT}"
            ) from exc
        try:
            cam = picamera2.Picamera2(self.camera_num)
        except Exception as exc:  # picamera2 raises IndexError/RuntimeError when no camera is attached
            raise SourceOpenError(
                f"no Pi camera found ({exc}); check the ribbon cable, run `rpicam-hello --list-cameras`, "
                "and on older images disable the legacy camera with raspi-config"
            ) from exc
        try:
            config = cam.create_video_configuration(
                main={"size": self.main_size, "format": "RGB888"},
                lores={"size": self.lores, "format": "YUV420"},
                controls={"FrameRate": float(self._fps)},
                buffer_count=4,
            )
            cam.configure(config)
            cam.start()
        except Exception as exc:
            try:
                cam.close()
            except Exception:
                log.debug("closing a camera that failed to start also failed", exc_info=True)
            raise SourceOpenError(
                f"the Pi camera would not start with main {self.main_size} / lores {self.lores} at "
                f"{self._fps} fps: {exc}; try a smaller [capture] width/height or fps"
            ) from exc
        self._cam = cam
        self._seq = 0
        self.hardware_video, why = HardwareVideo.available(picamera2, cam, self.video)
        if self.video is not None and self.hardware_video is None:
            log.info("viewers' video encoded on the CPU: %s", why)
        log.info(
            "opened Pi camera %d: main %s, lores %s, %.1f fps",
            self.camera_num,
            self.main_size,
            self.lores,
            self._fps,
        )

    def read(self) -> Frame:
        if self._cam is None:
            raise SourceError("the Pi camera is not open")
        hardware = self.hardware_video is not None and self.hardware_video.follow_viewers()
        # main is copied out only for the CPU encoder, and only while someone watches
        want_main = not hardware and (self.video is None or self.video.watching())
        try:
            request = self._cam.capture_request()
        except Exception as exc:
            raise SourceError(f"the Pi camera delivered no frame: {exc}") from exc
        try:
            lores = request.make_array("lores")
            main = request.make_array("main") if want_main else None
        finally:
            request.release()
        now = time.monotonic()
        image = yuv420_to_rgb(lores, *self.lores)
        frame = Frame(image=image, view=main, timestamp=now, captured_at=now, seq=self._seq, rgb=True)
        self._seq += 1
        return frame

    def close(self) -> None:
        cam, self._cam = self._cam, None
        if cam is None:
            return
        if self.hardware_video is not None:
            self.hardware_video.stop()
        try:
            cam.stop()
        finally:
            cam.close()
