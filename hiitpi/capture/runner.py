"""The capture thread and its watchdog.

The capture thread reads the source and puts each frame in a `LatestFrameBuffer`; it never waits
for inference (unless the source is an unpaced file, where losing frames would be pointless). The
watchdog checks the capture thread: when a read has hung for longer than ``stall_timeout_s`` or the
source failed, it abandons that source and opens a fresh one from the factory, with back-off, and
logs why. A source that cannot be opened at start is an error for the caller, not a retry loop.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from hiitpi.backoff import Backoff
from hiitpi.capture.base import EndOfStream, Frame, FrameSource, SourceOpenError
from hiitpi.capture.buffer import LatestFrameBuffer
from hiitpi.capture.select import SourceFactory

log = logging.getLogger(__name__)


@dataclass(slots=True)
class CaptureStatus:
    source: str
    frames: int
    dropped: int
    restarts: int
    finished: bool
    healthy: bool
    last_error: str | None


class CaptureRunner:
    """Owns a source (rebuilt by ``factory`` on restart), its capture thread and the watchdog."""

    def __init__(
        self,
        factory: SourceFactory,
        buffer: LatestFrameBuffer | None = None,
        *,
        stall_timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 10.0,
        check_interval_s: float = 0.25,
    ):
        self.factory = factory
        self.stall_timeout_s = stall_timeout_s
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self.check_interval_s = check_interval_s
        self.source: FrameSource | None = None
        self.buffer = buffer
        self.finished = threading.Event()
        self.restarts = 0
        self.frames = 0
        self.last_error: str | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._generation = 0
        self._failed_generation = -1
        self._in_read_since: float | None = None
        self._reader: threading.Thread | None = None
        self._watchdog: threading.Thread | None = None

    # -- start / stop -----------------------------------------------------------------------

    def start(self, source: FrameSource | None = None) -> None:
        """Open the source (raising `SourceOpenError` with what to do) and start both threads."""
        source = source or self.factory()
        source.open()
        if self.buffer is None or self.buffer.closed:  # a restart after stop(): a fresh buffer
            self.buffer = LatestFrameBuffer(lossless=not source.live)
        self.source = source
        self._stop.clear()
        self._start_reader(source)
        self._watchdog = threading.Thread(target=self._watch, name="capture-watchdog", daemon=True)
        self._watchdog.start()

    def stop(self) -> None:
        self._stop.set()
        if self.buffer is not None:
            self.buffer.close()
        for thread in (self._watchdog, self._reader):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=3)
        self._close_source(self.source)
        self.source = None

    def next_frame(self, timeout: float | None = None) -> Frame | None:
        """The newest frame not yet taken (the analysis thread's call); None on timeout or stop."""
        return self.buffer.get(timeout=timeout) if self.buffer is not None else None

    @property
    def running(self) -> bool:
        """True while the watchdog runs (it ends by itself only at a file's end)."""
        return self._watchdog is not None and self._watchdog.is_alive()

    @property
    def stop_event(self) -> threading.Event:
        return self._stop

    def status(self) -> CaptureStatus:
        buf = self.buffer
        return CaptureStatus(
            source=self.source.name if self.source else "-",
            frames=self.frames,
            dropped=buf.dropped if buf else 0,
            restarts=self.restarts,
            finished=self.finished.is_set(),
            healthy=self._failed_generation != self._generation and not self._stalled(),
            last_error=self.last_error,
        )

    # -- capture thread ---------------------------------------------------------------------

    def _start_reader(self, source: FrameSource) -> None:
        with self._lock:
            self._generation += 1
            gen = self._generation
            self._in_read_since = None
        self._reader = threading.Thread(
            target=self._read_loop, args=(source, gen), name=f"capture-{gen}", daemon=True
        )
        self._reader.start()

    def _current(self, gen: int) -> bool:
        return gen == self._generation and not self._stop.is_set()

    def _read_loop(self, source: FrameSource, gen: int) -> None:
        buf = self.buffer
        assert buf is not None
        while self._current(gen):
            self._in_read_since = time.monotonic()
            try:
                frame = source.read()
            except EndOfStream:
                log.info("source %s reached its end after %d frames", source.name, self.frames)
                self.finished.set()
                buf.close()
                return
            except Exception as exc:
                if self._current(gen):
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    self._failed_generation = gen
                    log.warning("source %s failed: %s", source.name, self.last_error)
                return
            finally:
                if gen == self._generation:
                    self._in_read_since = None
            if gen != self._generation:
                # Abandoned by the watchdog while stuck in read(): the source is ours to close.
                if not source.close_while_reading:
                    self._close_source(source)
                return
            if self._stop.is_set():
                return
            self.frames += 1
            while not buf.put(frame, timeout=0.5):
                if buf.closed or not self._current(gen):
                    return

    # -- watchdog ---------------------------------------------------------------------------

    def _stalled(self) -> bool:
        since = self._in_read_since
        return since is not None and time.monotonic() - since > self.stall_timeout_s

    def _watch(self) -> None:
        while not self._stop.wait(self.check_interval_s):
            if self.finished.is_set():
                return
            failed = self._failed_generation == self._generation
            if not (failed or self._stalled()):
                continue
            reason = (
                f"failed ({self.last_error})"
                if failed
                else f"stalled: no frame for {time.monotonic() - (self._in_read_since or 0):.1f} s"
            )
            if not failed:
                self.last_error = reason
            self._restart(reason, reader_exited=failed)

    def _restart(self, reason: str, *, reader_exited: bool) -> None:
        old = self.source
        with self._lock:
            self._generation += 1  # abandon the old reader, wherever it is stuck
            self._in_read_since = None
        if reader_exited or (old is not None and old.close_while_reading):
            self._close_source(old)
        # else the stuck reader closes it if read() ever returns; closing a capture object
        # while another thread is inside its read() is not safe with every driver.
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s)
        attempt = 0
        while not self._stop.is_set():
            attempt += 1
            delay = backoff.next()
            log.warning(
                "source %s %s; restarting in %.1f s (attempt %d)",
                old.name if old else "?",
                reason,
                delay,
                attempt,
            )
            if self._stop.wait(delay):
                return
            source = self.factory()
            try:
                source.open()
            except SourceOpenError as exc:
                self.last_error = str(exc)
                reason = f"could not be reopened ({exc})"
                continue
            self.source = source
            self.restarts += 1
            self._start_reader(source)
            log.warning("source %s restarted (restart %d)", source.name, self.restarts)
            return

    @staticmethod
    def _close_source(source: FrameSource | None) -> None:
        """Close in a helper thread: a driver stuck in read() may also block close()."""
        if source is None:
            return

        def close() -> None:
            try:
                source.close()
            except Exception:
                log.warning("closing source %s failed", source.name, exc_info=True)

        t = threading.Thread(target=close, name="capture-close", daemon=True)
        t.start()
        t.join(timeout=2)
        if t.is_alive():
            log.warning("source %s did not close within 2 s; abandoning it", source.name)


def open_capture(factory: SourceFactory, *, stall_timeout_s: float = 5.0) -> Any:
    """Open the source ``factory`` builds and start reading it the way it needs: a `threaded`
    source (a camera) in a `CaptureRunner`, another (a video file) in an
    `hiitpi.capture.inline.InlineCapture` the analysis thread reads itself. Both have
    ``next_frame(timeout)``, ``finished``, ``frames``, ``status()``, ``source`` and ``stop()``."""
    source = factory()
    if getattr(source, "threaded", True):  # a source that does not say is read as a camera is
        runner = CaptureRunner(factory, stall_timeout_s=stall_timeout_s)
        runner.start(source)
        return runner
    from hiitpi.capture.inline import InlineCapture

    inline = InlineCapture(factory)
    inline.start(source)
    return inline
