"""The `FrameSource` interface and the `Frame` it produces."""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from hiitpi.errors import HiitpiError


class SourceError(HiitpiError, RuntimeError):
    """A source failed while running (the watchdog restarts it)."""


class SourceOpenError(SourceError):
    """A source could not be opened; the message says what to do next."""


class EndOfStream(Exception):
    """A finite source (a video file without looping) has no more frames."""


@dataclass(slots=True)
class Frame:
    """One captured frame.

    ``image`` is the HxWx3 uint8 image for inference (the Pi camera's small ``lores`` stream), in
    OpenCV's B, G, R order, or R, G, B when ``rgb`` (a source that can give the model's order
    directly, saving a conversion per frame);
    ``view`` is the image for viewers when the source has a larger one (the Pi camera's ``main``
    stream), else None and viewers use ``image``. ``captured_at`` is ``time.monotonic()`` when the
    frame left the source (what latency is measured from); ``timestamp`` is the time the referee
    sees, in seconds: the media time for a file, the capture clock for a camera. ``seq`` counts
    frames delivered by the source since it was opened.
    """

    image: np.ndarray
    timestamp: float
    captured_at: float
    seq: int
    view: np.ndarray | None = None
    rgb: bool = False

    @property
    def viewing_image(self) -> np.ndarray:
        """What viewers see, B, G, R (the ``view`` when there is one)."""
        if self.view is not None:
            return self.view
        return np.ascontiguousarray(self.image[..., ::-1]) if self.rgb else self.image


class VideoTap(Protocol):
    """The viewers' side of a source that can feed them itself (the Pi camera, whose hardware
    encoder makes the MJPEG stream; `hiitpi.web.mjpeg.MjpegBroadcaster` is one)."""

    def watching(self) -> bool:
        """Whether anyone watches now: else the picture for viewers is not even fetched."""
        ...

    def accepts_camera_jpeg(self) -> bool:
        """Whether the camera's own encoder may make the stream (never in privacy mode)."""
        ...

    def camera_jpeg(self, data: bytes) -> None:
        """One JPEG of the camera's viewing stream, overlay already drawn (called by the camera's
        encoder thread)."""
        ...

    def paint(self, picture: np.ndarray) -> None:
        """Draw the overlay (skeleton, count) in place on the camera's picture before it is encoded."""
        ...


class FrameSource(abc.ABC):
    """A camera, a stream or a file. ``read()`` blocks until the next frame.

    ``live`` says whether frames arrive at their own pace (a camera, a paced file): then stale
    frames are dropped rather than waited for. An unpaced file is not live: the consumer may take
    its time and no frame is lost.
    """

    name: str = "source"
    live: bool = True
    #: Whether the source is read in a capture thread of its own, handing frames to the analysis
    #: through the latest-frame buffer (a camera: frames come at their own pace and a stale one
    #: is dropped). False: the analysis thread reads it itself (a video file, where decoding is
    #: the capture and a hand-over between threads would only add cost).
    threaded: bool = True
    #: Set by a reader that is not a capture thread (`hiitpi.capture.inline.InlineCapture`) on a
    #: `live` source: a frame whose successor is already due when it is asked for is skipped, as
    #: the latest-frame buffer would drop it. (A file honours it; a threaded camera never sees it.)
    drop_late: bool = False
    #: Whether `close()` may be called while another thread is stuck in `read()`. The watchdog
    #: then closes a stalled source at once (freeing the device for the new one); otherwise the
    #: stuck reader closes it if its read ever returns.
    close_while_reading: bool = False

    @abc.abstractmethod
    def open(self) -> None:
        """Acquire the device/file. Raises `SourceOpenError` with what to do next."""

    @abc.abstractmethod
    def read(self) -> Frame:
        """The next frame. Raises `EndOfStream` at the end of a finite source, `SourceError` on failure."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the device/file; safe to call twice and after a failed open."""

    @property
    def fps(self) -> float | None:
        """Nominal frame rate, when known."""
        return None

    def __enter__(self) -> FrameSource:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"
