"""The latest-frame buffer between the capture thread and the analysis thread."""

from __future__ import annotations

import threading
import time

from hiitpi.capture.base import Frame


class LatestFrameBuffer:
    """Holds one frame. In live mode ``put`` never waits: a frame not yet taken is replaced and
    counted in ``dropped``. In lossless mode (an unpaced file) ``put`` waits until the previous
    frame is taken, so analysis sees every frame. ``close()`` wakes every waiter."""

    def __init__(self, *, lossless: bool = False):
        self.lossless = lossless
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self._closed = False
        self.taken = 0
        self.dropped = 0

    def put(self, frame: Frame, timeout: float | None = None) -> bool:
        """Offer a frame; False when the buffer is closed (or, lossless, the wait timed out)."""
        with self._cond:
            if self.lossless and not self._cond.wait_for(
                lambda: self._frame is None or self._closed, timeout
            ):
                return False
            if self._closed:
                return False
            if self._frame is not None:
                self.dropped += 1
            self._frame = frame
            self._cond.notify_all()
            return True

    def get(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken, waiting up to ``timeout``; None on timeout or close."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._frame is not None or self._closed, timeout):
                return None
            frame, self._frame = self._frame, None
            if frame is not None:
                self.taken += 1
                if self.lossless:
                    # An unpaced file is read ahead of its turn; there is no moment of capture, so
                    # its latency counts from when analysis takes it.
                    frame.captured_at = time.monotonic()
                self._cond.notify_all()
            return frame

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed
