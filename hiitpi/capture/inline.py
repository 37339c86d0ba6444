"""A source the analysis thread reads itself: a video file, decoded where it is analysed.

A camera has its own thread and the latest-frame buffer (`hiitpi.capture.runner`), because its
frames come whether or not anyone is ready. A file's frames come when asked for: a second thread
would only decode ahead and hand each frame over (a lock, a wake-up, a frame's worth of cache)
for nothing. `InlineCapture` has the runner's face — `next_frame`, `finished`, `running`,
`status()`, `frames`, `start()`, `stop()` — without a thread. A paced file still keeps time like a
camera: frames that fall due while the analysis is busy are skipped and counted as dropped
(`hiitpi.capture.video.VideoFileSource`). A file that fails to decode stops delivering and says
why (``running`` false, ``status()``); the appliance's supervisor then restarts it (`stop`,
`start`), as it restarts a camera.
"""

from __future__ import annotations

import logging
import threading
import time

from hiitpi.capture.base import EndOfStream, Frame, FrameSource
from hiitpi.capture.runner import CaptureStatus
from hiitpi.capture.select import SourceFactory

log = logging.getLogger(__name__)


class InlineCapture:
    """Owns a source that is not `threaded`; the analysis thread calls `next_frame`."""

    def __init__(self, factory: SourceFactory):
        self.factory = factory
        self.source: FrameSource | None = None
        self.finished = threading.Event()
        self.read = 0
        self.restarts = 0
        self.last_error: str | None = None
        self._failed = False
        self._opened = 0

    def start(self, source: FrameSource | None = None) -> None:
        """Open the source (raising `SourceOpenError` with what to do); again after `stop`: a restart."""
        source = source or self.factory()
        source.open()
        source.drop_late = source.live  # a paced file keeps time: frames that fell due are skipped
        self.source = source
        self._failed = False
        self.restarts += self._opened > 0
        self._opened += 1

    @property
    def running(self) -> bool:
        """True while the source is open and delivering (or has ended: see ``finished``)."""
        return self.source is not None and not self._failed

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The next frame, decoded here; None at the end (``finished`` is then set) or after a
        failure (logged, and ``status()`` says why). ``timeout`` is the runner's: a file does not
        make the caller wait for anything but its decoding."""
        source = self.source
        if source is None or self._failed or self.finished.is_set():
            if timeout and not self.finished.is_set():
                time.sleep(timeout)  # nothing to read until a restart: do not spin
            return None
        try:
            frame = source.read()
        except EndOfStream:
            log.info("source %s reached its end after %d frames", source.name, self.read)
            self.finished.set()
            return None
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"
            self._failed = True
            log.warning(
                "source %s failed: %s; it delivers nothing until restarted", source.name, self.last_error
            )
            return None
        self.read += 1
        return frame

    @property
    def frames(self) -> int:
        """Frames the source delivered, or had due (a paced file: see `frames_due`)."""
        due = getattr(self.source, "frames_due", None)
        return max(self.read, due()) if callable(due) else self.read

    def status(self) -> CaptureStatus:
        src = self.source
        return CaptureStatus(
            source=src.name if src else "-",
            frames=self.frames,
            dropped=int(getattr(src, "dropped", 0)),
            restarts=self.restarts,
            finished=self.finished.is_set(),
            healthy=not self._failed,
            last_error=self.last_error,
        )

    def stop(self) -> None:
        src, self.source = self.source, None
        if src is not None:
            try:
                src.close()
            except Exception:
                log.warning("closing source %s failed", src.name, exc_info=True)
