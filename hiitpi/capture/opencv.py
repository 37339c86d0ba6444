"""A V4L2 webcam (/dev/videoN) or a network stream (rtsp://, http://) through OpenCV."""

from __future__ import annotations

import logging
import time

import cv2

from hiitpi.capture.base import Frame, FrameSource, SourceError, SourceOpenError

log = logging.getLogger(__name__)


def device_index(spec: str) -> int | None:
    """'/dev/video2' or '2' → 2; anything else → None."""
    s = spec.strip()
    if s.isdigit():
        return int(s)
    if s.startswith("/dev/video") and s[len("/dev/video") :].isdigit():
        return int(s[len("/dev/video") :])
    return None


class OpenCVSource(FrameSource):
    """A camera or stream read with ``cv2.VideoCapture``; always `live`."""

    live = True

    def __init__(self, spec: str, *, width: int = 640, height: int = 480, fps: float = 30.0):
        self.spec = spec
        self.index = device_index(spec)
        self.name = f"/dev/video{self.index}" if self.index is not None else spec
        self.width, self.height, self._fps = width, height, fps
        self._cap: cv2.VideoCapture | None = None
        self._seq = 0

    @property
    def fps(self) -> float | None:
        return self._fps

    def open(self) -> None:
        if self.index is not None:
            cap = cv2.VideoCapture(self.index, cv2.CAP_V4L2)
            if not cap.isOpened():
                cap.release()
                raise SourceOpenError(
                    f"cannot open camera {self.name}: no such device or it is busy. List cameras with "
                    "`v4l2-ctl --list-devices`, check you are in the 'video' group, or pass "
                    "--source FILE to run on a video file"
                )
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            cap.set(cv2.CAP_PROP_FPS, self._fps)
        else:
            cap = cv2.VideoCapture(self.spec, cv2.CAP_FFMPEG)
            if not cap.isOpened():
                cap.release()
                raise SourceOpenError(
                    f"cannot open stream {self.spec}; check the URL plays with `ffprobe {self.spec}`"
                )
        # Keep the driver's queue short: we want the newest frame, not a backlog.
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        self._cap = cap
        self._seq = 0
        log.info(
            "opened %s at %dx%d",
            self.name,
            int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
            int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        )

    def read(self) -> Frame:
        if self._cap is None:
            raise SourceError(f"{self.name} is not open")
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.name} delivered no frame")
        now = time.monotonic()
        frame = Frame(image=image, timestamp=now, captured_at=now, seq=self._seq)
        self._seq += 1
        return frame

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
