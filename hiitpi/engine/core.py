"""The live engine: capture → frame loop → sinks, with sessions run by the session controller.

`Engine` wires the parts and owns their lifetimes; it holds no logic of its own. Start-up is a flat
list of steps (rules, pose model, live bus, capture, command listener, analysis), each returning
how to undo it; `stop()` undoes them in reverse. Threads: for a camera the capture thread and its
watchdog (`hiitpi.capture.runner`; a video file is decoded in the analysis thread instead,
`hiitpi.capture.inline`), the command listener (`hiitpi.live.inbox`) and the analysis thread
(`hiitpi.engine.loop`). Sinks: the store (when a recorder is given), the live bus, and whatever
the caller adds with `add_sink` (the appliance adds the video encoder).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from hiitpi.capture.base import VideoTap
from hiitpi.capture.inline import InlineCapture
from hiitpi.capture.runner import CaptureRunner, open_capture
from hiitpi.capture.select import SourceFactory, create_source_factory
from hiitpi.config import Settings
from hiitpi.engine.loop import FrameLoop
from hiitpi.engine.pipeline import PoseStage
from hiitpi.engine.replies import answer
from hiitpi.engine.session import DEFAULT_PLAYER, SessionController, SessionRefused
from hiitpi.engine.sessionstate import Session, SessionChange
from hiitpi.engine.sinks import EngineSink, LiveSink, Recorder, RecorderSink, SinkFanout
from hiitpi.engine.stats import EngineStats
from hiitpi.errors import HiitpiError
from hiitpi.live.contract import LiveCommand, LiveKeys, LiveState
from hiitpi.recognition import is_auto

log = logging.getLogger(__name__)


class EngineError(HiitpiError, RuntimeError):
    """The engine could not start; the message says what to do."""


class Engine:
    def __init__(
        self,
        settings: Settings,
        *,
        source_factory: SourceFactory | None = None,
        recorder: Recorder | None = None,
        player: str = DEFAULT_PLAYER,
        autostart: bool = True,
        on_finished: Callable[[], None] | None = None,
        stats_window: int = 1000,
        sinks: tuple[EngineSink, ...] = (),
        video: VideoTap | None = None,
    ):
        self.settings = settings
        self.keys = LiveKeys(settings.redis.prefix)
        self._source_factory = source_factory
        self._video = video  # the viewers' side, for a camera that can feed it itself
        self.default_player = player
        self.autostart = autostart
        self.on_finished = on_finished
        self.stop_event = threading.Event()
        self.stats = EngineStats(window=stats_window)
        self.capture: CaptureRunner | InlineCapture | None = None
        self.publisher = None
        self.commands = None
        self.estimator = None
        self.stage: PoseStage | None = None
        self.loop: FrameLoop | None = None
        st = settings.store
        self.store_sink = (
            RecorderSink(recorder, durable=st.durable_reps, timeout_s=st.durable_timeout_s)
            if recorder is not None
            else None
        )
        self.sinks = SinkFanout([self.store_sink] if self.store_sink is not None else [])
        self._extra_sinks = list(sinks)
        self._cmd = LiveState()  # the last command's echo (cmd_* fields)
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self.controller = SessionController(
            settings, on_change=self._on_change, clock=self._clock_now, reset_pose=self._reset_pose
        )

    # -- start-up: a flat list of steps, undone in reverse --------------------------------------

    def start(self) -> None:
        steps = [
            ("rules", self.init_rules),
            ("pose model", self.init_pose),
            ("live bus", self.init_live),
            ("capture", self.start_capture),
            ("command listener", self.start_commands),
            ("analysis", self.start_analysis),
        ]
        try:
            for name, step in steps:
                log.debug("engine: starting %s", name)
                undo = step()
                if undo is not None:
                    self._undo.append((name, undo))
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.stop_event.set()
        while self._undo:
            name, undo = self._undo.pop()
            try:
                undo()
            except Exception:
                log.exception("engine: error while stopping %s", name)

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def init_rules(self) -> None:
        self.controller.reload()
        if is_auto(self.settings.referee.workout):
            return
        try:
            self.controller.resolve(self.settings.referee.workout)
        except SessionRefused as exc:
            raise EngineError(exc.message, "set [referee] workout or --workout to one of them") from None

    def init_pose(self) -> Callable[[], None]:
        from hiitpi.pose.registry import create_estimator
        from hiitpi.pose.smoothing import PoseSmoother

        self.estimator = create_estimator(self.settings)
        self.stage = PoseStage(self.estimator, PoseSmoother.from_settings(self.settings.pose.smoothing))
        return self.estimator.close

    def init_live(self) -> Callable[[], None]:
        from hiitpi.live.publisher import LivePublisher

        r = self.settings.redis
        self.publisher = LivePublisher(
            r.url, self.keys, stream_maxlen=r.stream_maxlen, sample_fps=r.sample_fps
        )
        if not self.publisher.check():
            from hiitpi.redact import redact_url

            log.warning("starting without the live bus at %s; it will be retried", redact_url(r.url))
        for sink in (LiveSink(self.publisher), *self._extra_sinks):
            self.sinks.add(sink)
        return self.publisher.close

    def start_capture(self) -> Callable[[], None]:
        factory = self._source_factory or create_source_factory(self.settings.capture, video=self._video)
        # a camera gets a capture thread; a file is decoded in the analysis thread
        self.capture = open_capture(factory, stall_timeout_s=self.settings.capture.stall_timeout_s)
        return self.capture.stop

    def start_commands(self) -> Callable[[], None]:
        from hiitpi.live.inbox import CommandListener

        self.commands = CommandListener(self.settings.redis.url, self.keys)
        self.commands.start()
        return self.commands.stop

    def start_analysis(self) -> Callable[[], None]:
        self.stats = EngineStats(window=self.stats.window)
        self.loop = FrameLoop(
            self.stage,
            self.controller,
            deliver=self.sinks.on_frame,
            state=self.live_state,
            commands=self.commands.drain if self.commands is not None else list,
            handle_command=self.handle_command,
            stats=self.stats,
        )
        if self.autostart:
            self.start_session(self.default_player, self.settings.referee.workout)
        self.loop.start(self.capture, self.stop_event, self.on_finished or (lambda: None))

        def undo() -> None:
            self.stop_event.set()
            self.loop.join(timeout=5)
            if self.controller.session is not None:
                self.controller.stop("done")

        return undo

    # -- restarts (the appliance's supervisor calls these when a part has died) ------------------

    @property
    def capture_alive(self) -> bool:
        """The capture's threads run (or a file has ended)."""
        cap = self.capture
        return cap is not None and (cap.running or cap.finished.is_set())

    def restart_capture(self) -> None:
        """Stop what is left of the capture and open the source again (`SourceOpenError` if it cannot)."""
        self.capture.stop()
        self.capture.start()

    def restart_analysis(self) -> None:
        """Start the analysis thread again after it died; the session goes on where it was."""
        if not self.loop.alive and not self.stop_event.is_set():
            self.loop.start(self.capture, self.stop_event, self.on_finished or (lambda: None))

    # -- sinks ----------------------------------------------------------------------------------

    def add_sink(self, sink: EngineSink) -> None:
        """Hand every analysed frame and session change to ``sink`` too (after the engine's own)."""
        self.sinks.add(sink)

    def _on_change(self, change: SessionChange) -> None:
        self.sinks.on_session(change, self.live_state())

    # -- sessions and commands (thread-safe) ----------------------------------------------------

    @property
    def session(self) -> Session | None:
        return self.controller.session

    def start_session(self, player: str, workout: str, counting: str | None = None) -> Session:
        """Start a session of a workout or HIIT program (or auto mode's wait for the first rep);
        `SessionRefused` while one runs. Viewers see it at once, before the next frame."""
        s = self.controller.start(player, workout, counting)
        if self.publisher is not None:
            self.publisher.publish(None, [], self.live_state())
        return s

    def end_session(self, status: str = "done") -> None:
        self.controller.stop(status)

    def handle_command(self, cmd: LiveCommand) -> tuple[bool, str]:
        """Run a start/stop/switch command; its answer goes out in the state (cmd_* fields)."""
        ok, message = answer(self.controller, cmd)
        unsaved = self.store_problem()
        if ok and unsaved and cmd.action in ("start", "stop"):
            message = f"{message}, but it is not saved yet: {unsaved}"
        self._cmd = LiveState(cmd_id=cmd.id, cmd_ok=ok, cmd_message=message)
        if self.publisher is not None:
            self.publisher.publish(None, [], self.live_state())
        return ok, message

    # -- what the engine says about itself ------------------------------------------------------

    def store_problem(self) -> str | None:
        """Why the history is not being written now (a full disk, with what to do), or None."""
        return self.store_sink.problem() if self.store_sink is not None else None

    @property
    def catalog(self):
        """The workouts and programs the last session was started from (`hiitpi.referee.catalog`)."""
        return self.controller.catalog

    @property
    def analysing(self) -> bool:
        """True while the analysis thread runs."""
        return self.loop is not None and self.loop.alive

    @property
    def finished(self) -> threading.Event:
        """Set once a finite source has been fully analysed."""
        return self.loop.finished if self.loop is not None else _NEVER

    def wait(self, timeout: float | None = None) -> bool:
        """Until a finite source has been fully analysed (or the engine stopped)."""
        return self.loop is not None and self.loop.wait(self.stop_event, timeout)

    @property
    def degraded(self) -> dict[str, str]:
        """Parts that are not working, with why: sinks that failed, the source, the analysis."""
        out = dict(self.sinks.errors)
        out.pop("live bus", None)  # the publisher degrades by itself and says so in redis_reconnects
        cap = self.capture.status() if self.capture is not None else None
        if cap is not None and not cap.healthy:
            out["source"] = cap.last_error or "the source stalled"
        if self.loop is not None and self.loop.last_error:
            out["analysis"] = self.loop.last_error
        return out

    def live_state(self) -> LiveState:
        """What viewers see now: the session's numbers, the engine's health, the last command."""
        st = self.controller.state()
        cap = self.capture.status() if self.capture is not None else None
        st.fps = round(self.stats.fps, 1)
        st.dark = bool(getattr(self.estimator, "too_dark", False))
        st.dropped = cap.dropped if cap else 0
        st.source = cap.source if cap else ""
        st.source_restarts = cap.restarts if cap else 0
        st.degraded = tuple(sorted(self.degraded))
        st.redis_reconnects = self.publisher.reconnects if self.publisher else 0
        st.updated = round(time.time(), 3)
        st.cmd_id, st.cmd_ok, st.cmd_message = self._cmd.cmd_id, self._cmd.cmd_ok, self._cmd.cmd_message
        running = self.controller.session
        if running is not None:  # where a viewer finds the session's history (the charts since its start)
            st.t0, st.store_id = running.t0, running.store_id
        return st

    def _clock_now(self) -> float:
        """The referee clock now, before any frame: the monotonic capture clock for a camera,
        media time 0 for a file."""
        src = self.capture.source if self.capture is not None else None
        return 0.0 if (src is not None and not src.live) or _is_file(src) else time.monotonic()

    def _reset_pose(self) -> None:
        if self.stage is not None:
            self.stage.reset()


_NEVER = threading.Event()


def _is_file(src: Any) -> bool:
    from hiitpi.capture.video import VideoFileSource

    return isinstance(src, VideoFileSource)
