"""The analysis thread: the newest frame → the pose stage → the referees → every sink.

It always takes the newest frame from the capture buffer (a slow frame never builds a queue), runs
commands between frames, and never dies of one bad frame: a frame the pose model cannot take (a
1×1 video, a broken decoder) is logged, counted and skipped, and the loop goes on. When a finite
source ends, the running session is closed and ``finished`` is set.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hiitpi.capture.base import Frame
from hiitpi.engine.pipeline import PoseStage
from hiitpi.engine.session import SessionController
from hiitpi.engine.sinks import FrameResult
from hiitpi.engine.stats import EngineStats, FrameRecord
from hiitpi.errors import HiitpiError
from hiitpi.live.contract import LiveState

log = logging.getLogger(__name__)


class FrameLoop:
    def __init__(
        self,
        stage: PoseStage,
        controller: SessionController,
        *,
        deliver: Callable[[FrameResult], None],
        state: Callable[[], LiveState],
        commands: Callable[[], list] = list,
        handle_command: Callable[[Any], None] = lambda cmd: None,
        stats: EngineStats | None = None,
    ):
        self.stage = stage
        self.controller = controller
        self.deliver = deliver
        self.live_state = state
        self.commands = commands
        self.handle_command = handle_command
        self.stats = stats or EngineStats()
        self.finished = threading.Event()
        self.last_error: str | None = None
        self._thread: threading.Thread | None = None

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, capture: Any, stop: threading.Event, on_end: Callable[[], None]) -> None:
        def run() -> None:
            try:
                self._run(capture, stop)
            except Exception:
                log.exception("analysis thread crashed")
                self.last_error = "the analysis thread crashed (see the log)"
            finally:
                if self.finished.is_set():
                    on_end()

        self._thread = threading.Thread(target=run, name="analysis", daemon=True)
        self._thread.start()

    def wait(self, stop: threading.Event, timeout: float | None = None) -> bool:
        """Until a finite source has been fully analysed (True), ``stop`` is set or the timeout passes."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished.is_set() and not stop.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.finished.wait(0.1 if left is None else min(0.1, left))
        return self.finished.is_set()

    def join(self, timeout: float) -> None:
        if self._thread is not None:
            self._thread.join(timeout=timeout)

    def _run(self, capture: Any, stop: threading.Event) -> None:
        while not stop.is_set():
            for cmd in self.commands():
                self.handle_command(cmd)
            # a camera's latest-frame buffer, or a file decoded here; asked each time: a restarted
            # capture has a new buffer
            frame = capture.next_frame(timeout=0.2)
            if frame is None:
                if capture.finished.is_set():
                    log.info(
                        "source finished: %d frames analysed, %d dropped",
                        self.stats.frames,
                        capture.status().dropped,
                    )
                    if self.controller.session is not None:
                        self.controller.stop("done")
                    self.finished.set()
                    return
                continue
            self.process(frame)

    def process(self, frame: Frame) -> FrameRecord | None:
        """Analyse one frame and hand the result to the sinks. Runs on the analysis thread."""
        cpu0 = time.thread_time()
        try:
            pose = self.stage.process(frame.image, frame.timestamp, rgb=frame.rgb)
        except HiitpiError as exc:
            return self._skip(frame, exc.message)
        except Exception as exc:  # one bad frame must not end the analysis
            log.debug("frame %d failed", frame.seq, exc_info=True)
            return self._skip(frame, f"{type(exc).__name__}: {exc}")
        with self.controller.lock:  # a command waits for this frame's events to be delivered
            events = self.controller.on_pose(self.stage, pose, frame.timestamp)
            stages = dict(self.stage.last_ms)
            session = self.controller.session
            result = FrameResult(
                frame=frame,
                pose=pose,
                events=events,
                stages_ms=stages,
                state=self.live_state(),
                session_id=session.id if session is not None else "",
            )
            self.deliver(result)
        rec = FrameRecord(
            seq=frame.seq, stages_ms=stages, latency_ms=result.latency_ms, published=result.published
        )
        rec.cpu_ms = (time.thread_time() - cpu0) * 1000
        self.stats.add(rec)
        self.last_error = None
        return rec

    def _skip(self, frame: Frame, why: str) -> None:
        self.stats.errors += 1
        self.stats.last_frame_at = time.monotonic()  # the loop is alive: the frames are the problem
        if self.last_error != why:
            log.warning("frame %d could not be analysed (%s); skipping such frames", frame.seq, why)
        self.last_error = why
        return None
