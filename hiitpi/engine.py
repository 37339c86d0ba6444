"""The live engine: one session at a time, source → pose → smoothing → referee → live bus (+ store, + video).

Threads: the capture thread and its watchdog (`hiitpi.capture.runner`), the command listener
(`hiitpi.live.commands`), the MJPEG encoder (`hiitpi.web.mjpeg`), and the analysis thread here,
which always takes the newest frame, runs the `FramePipeline`, publishes a sample, the referee's
events and the state to Redis, hands events to the store recorder (when one is given) and the
frame to the video encoder. Start-up is a flat list of ``init_*``/``start_*`` steps; `stop()`
undoes them in reverse.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from hiitpi.capture.base import Frame
from hiitpi.capture.runner import CaptureRunner
from hiitpi.capture.select import SourceFactory, create_source_factory
from hiitpi.config import Settings
from hiitpi.errors import HiitpiError
from hiitpi.live.contract import LiveCommand, LiveKeys, encode_event, encode_sample, validate_command
from hiitpi.referee.events import RefEvent

log = logging.getLogger(__name__)

DEFAULT_PLAYER = "guest"
#: State fields of a HIIT program (see `hiitpi.referee.programs.ProgramRun.state`), empty without one.
_NO_PROGRAM = {
    "program": "",
    "program_elapsed": "",
    "round": "",
    "rounds": "",
    "segment": "",
    "remaining": "",
}


class Recorder(Protocol):
    """What the engine calls on the store (``hiitpi.store.recorder.SessionRecorder`` fits)."""

    def start_session(
        self,
        player: str,
        workout: str,
        *,
        program: str | None = None,
        round: int | None = None,
        t0: float = 0.0,
    ) -> Any: ...

    def start_interval(self, workout: str, *, round: int | None = None) -> None: ...

    def record(self, event: RefEvent) -> None: ...

    def end_session(self, status: str = "done") -> Any: ...


@dataclass(slots=True)
class FrameRecord:
    """What one analysed frame cost. ``latency_ms`` is captured → in Redis, minus the pose model."""

    seq: int
    stages_ms: dict[str, float]
    latency_ms: float | None
    published: bool
    cpu_ms: float = 0.0  # CPU time the analysis thread spent on it (waiting for a core excluded)


@dataclass
class EngineStats:
    frames: int = 0
    published: int = 0
    started_at: float = field(default_factory=time.monotonic)
    last_frame_at: float | None = None
    window: int = 1000
    records: deque[FrameRecord] = field(init=False)
    _recent: deque[float] = field(default_factory=lambda: deque(maxlen=64))

    def __post_init__(self) -> None:
        # Only the newest frames' costs are kept: an engine runs for hours.
        self.records = deque(maxlen=self.window)

    def add(self, rec: FrameRecord) -> None:
        self.last_frame_at = time.monotonic()
        self.frames += 1
        self.published += rec.published
        self.records.append(rec)
        self._recent.append(time.monotonic())

    @property
    def fps(self) -> float:
        r = self._recent
        if len(r) < 2 or r[-1] == r[0]:
            return 0.0
        return (len(r) - 1) / (r[-1] - r[0])


@dataclass(slots=True)
class Session:
    id: str
    player: str
    workout: str
    t0: float | None = None  # referee clock at the session's first frame
    started_wall: float = field(default_factory=time.time)
    store_id: Any = None
    program: Any = None  # a `ProgramRun` when the session is a HIIT program
    resting: bool = False
    reps_before: int = 0  # reps of the intervals already finished
    no_reps_before: int = 0


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
        video: bool = True,
        on_finished: Callable[[], None] | None = None,
        stats_window: int = 1000,
    ):
        self.settings = settings
        self.keys = LiveKeys(settings.redis.prefix)
        self._source_factory = source_factory
        self.recorder = recorder
        self.default_player = player
        self.autostart = autostart
        self.want_video = video
        self.on_finished = on_finished
        self.stop_event = threading.Event()
        self.finished = threading.Event()
        self.stats_window = stats_window
        self.stats = EngineStats(window=stats_window)
        self.session: Session | None = None
        self.degraded: set[str] = set()
        self.capture: CaptureRunner | None = None
        self.publisher = None
        self.commands = None
        self.video = None
        self.estimator = None
        self.smoother = None
        self.rules = None
        self.programs: dict[str, Any] = {}
        self.pipeline = None
        self._rest_pipeline = None
        self._cmd_result: dict[str, str] = {}
        self._last_ts: float | None = None
        self._ended: dict[str, Any] = {
            "total_reps": 0,
            "total_no_reps": 0,
            **_NO_PROGRAM,
            "session": "",
            "player": "",
            "workout": "",
            "running": False,
            "phase": "",
            "reps": 0,
            "no_reps": 0,
            "pace": 0.0,
            "elapsed": 0.0,
        }
        self._undo: list[tuple[str, Callable[[], None]]] = []
        self._thread: threading.Thread | None = None
        # Sessions change between frames: commands from another thread wait for the frame in hand.
        self._lock = threading.RLock()

    # -- start-up: a flat list of steps, undone in reverse --------------------------------------

    def start(self) -> None:
        steps = [
            ("rules", self.init_rules),
            ("pose model", self.init_pose),
            ("live bus", self.init_live),
            ("video encoder", self.init_video),
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

    @property
    def analysing(self) -> bool:
        """True while the analysis thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> bool:
        """Until a finite source has been fully analysed (or the engine stopped)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self.finished.is_set() and not self.stop_event.is_set():
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                return False
            self.finished.wait(0.1 if left is None else min(0.1, left))
        return self.finished.is_set()

    def __enter__(self) -> Engine:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def init_rules(self) -> None:
        self.reload_rules()
        try:
            self._resolve(self.settings.referee.workout)
        except KeyError as exc:
            raise EngineError(str(exc.args[0])) from exc

    def reload_rules(self) -> None:
        """Read the rules folder again (at start-up and before every session), so an edited or
        added file is used without a restart; a file that no longer loads keeps its last good
        version and the error is logged."""
        from hiitpi.referee.programs import load_programs
        from hiitpi.referee.rules import load_rule_set

        self.rules = load_rule_set(self.settings.referee.rules_dir, previous=self.rules)
        for line in self.rules.errors:
            log.warning("rules: %s", line)
        self.programs, errors = load_programs(self.settings.referee.rules_dir, self.rules.rules)
        for line in errors:
            log.warning("program skipped: %s", line)

    def _resolve(self, name: str) -> tuple[str, Any]:
        """(first workout's rules name, the `Program` or None) for a workout or program name."""
        prog = self.programs.get(name.strip().lower())
        if prog is not None:
            return self.rules.resolve(prog.first_workout).name, prog
        return self.rules.resolve(name).name, None

    def init_pose(self) -> Callable[[], None]:
        from hiitpi.pose.registry import create_estimator
        from hiitpi.pose.smoothing import PoseSmoother

        self.estimator = create_estimator(self.settings)
        self.smoother = PoseSmoother.from_settings(self.settings.pose.smoothing)
        return self.estimator.close

    def init_live(self) -> Callable[[], None]:
        from hiitpi.live.publisher import LivePublisher

        r = self.settings.redis
        self.publisher = LivePublisher(r.url, self.keys, stream_maxlen=r.stream_maxlen)
        if not self.publisher.check():
            log.warning("starting without the live bus at %s; it will be retried", r.url)
        return self.publisher.close

    def init_video(self) -> Callable[[], None] | None:
        if not self.want_video:
            return None
        from hiitpi.web.mjpeg import MjpegBroadcaster

        self.video = MjpegBroadcaster(self.settings.web, min_score=self.settings.pose.min_score)
        self.video.start()
        return self.video.stop

    def start_capture(self) -> Callable[[], None]:
        factory = self._source_factory or create_source_factory(self.settings.capture)
        self.capture = CaptureRunner(factory, stall_timeout_s=self.settings.capture.stall_timeout_s)
        self.capture.start()  # SourceOpenError says what to do
        return self.capture.stop

    def start_commands(self) -> Callable[[], None]:
        from hiitpi.live.commands import CommandListener

        self.commands = CommandListener(self.settings.redis.url, self.keys)
        self.commands.start()
        return self.commands.stop

    def start_analysis(self) -> Callable[[], None]:
        self.stats = EngineStats(window=self.stats_window)
        if self.autostart:
            self.start_session(self.default_player, self.settings.referee.workout)
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()

        def undo() -> None:
            self.stop_event.set()
            if self._thread is not None:
                self._thread.join(timeout=5)
            if self.session is not None:
                self.end_session("done")

        return undo

    # -- sessions -----------------------------------------------------------------------------

    def _new_pipeline(self, workout: str):
        from hiitpi.analysis import FramePipeline
        from hiitpi.referee.machine import Referee

        rule = self.rules.resolve(workout)
        referee = Referee(rule, pace_window_s=self.settings.referee.pace_window_s)
        self.smoother.reset()
        self.estimator.reset()  # as `hiitpi analyze` does at the start of a clip
        return FramePipeline(self.estimator, self.smoother, referee), rule.name

    def start_session(self, player: str, workout: str) -> Session:
        """End the running session (kept), start a new one of a workout or a HIIT program.
        Raises KeyError for an unknown name."""
        with self._lock:
            return self._start_session(player, workout)

    def _start_session(self, player: str, workout: str) -> Session:
        self.reload_rules()
        first, program = self._resolve(workout)
        pipeline, name = self._new_pipeline(first)
        if self.session is not None:
            self.end_session("done")
        self.pipeline = pipeline
        self.session = Session(id=uuid.uuid4().hex[:12], player=player, workout=name)
        if program is not None:
            from hiitpi.referee.programs import ProgramRun

            self.session.program = ProgramRun(program)
        if self.recorder is not None:
            try:
                self.session.store_id = self.recorder.start_session(
                    player,
                    name,
                    program=program.name if program else None,
                    round=1 if program else None,
                    t0=self._clock_now(),
                )
                self.degraded.discard("store")
            except Exception as exc:
                self._store_failed("start the session", exc)
        self._emit(
            "session_start",
            {
                "player": player,
                "workout": name,
                "program": program.name if program else None,
                "store_id": self.session.store_id,
            },
        )
        log.info(
            "session %s started: %s doing %s", self.session.id, player, program.name if program else name
        )
        return self.session

    def _elapsed(self, s: Session) -> float:
        t = self._last_ts
        return round(t - s.t0, 2) if (t is not None and s.t0 is not None) else 0.0

    def _clock_now(self) -> float:
        """The referee clock now: the newest frame's timestamp (media time for a file, the
        monotonic capture clock for a camera)."""
        if self._last_ts is not None:
            return self._last_ts
        src = self.capture.source if self.capture is not None else None
        return time.monotonic() if (src is None or src.live) and not isinstance(src, _file_types()) else 0.0

    def switch_workout(self, workout: str, *, round: int | None = None) -> None:
        """Next interval of the running session: the reps done so far are kept."""
        with self._lock:
            self._switch_workout(workout, round=round)

    def _switch_workout(self, workout: str, *, round: int | None = None) -> None:
        s = self.session
        if s is None:
            raise ValueError("no session is running: start one before switching workout")
        done = self._referee_snapshot()
        pipeline, name = self._new_pipeline(workout)
        self._emit("interval_end", {"workout": s.workout, **done})
        s.reps_before += done["reps"]
        s.no_reps_before += done["no_reps"]
        self.pipeline = pipeline
        s.workout = name
        s.resting = False
        if self.recorder is not None:
            try:
                self.recorder.start_interval(name, round=round)
            except Exception as exc:
                self._store_failed("start the interval", exc)
        self._emit("interval_start", {"workout": name, "round": round})
        log.info("session %s switched to %s", s.id, name)

    def _program_step(self) -> None:
        """Move a HIIT program along the clock: switch workout, rest, or finish."""
        s = self.session
        if s is None or s.program is None:
            return
        seg = s.program.update(self._elapsed(s))
        if s.program.done:
            log.info("program %s finished", s.program.program.name)
            self.end_session("done")
            return
        if seg is None:
            return
        if seg.kind == "rest":
            s.resting = True
            if self._rest_pipeline is None:
                from hiitpi.analysis import FramePipeline

                self._rest_pipeline = FramePipeline(self.estimator, self.smoother, None)
            self._emit("rest_start", {"next": seg.workout, "round": seg.round, "duration_s": seg.duration_s})
        elif seg.index > 0:
            self.switch_workout(seg.workout, round=seg.round)

    def end_session(self, status: str = "done") -> None:
        with self._lock:
            self._end_session(status)

    def _end_session(self, status: str) -> None:
        s = self.session
        if s is None:
            raise ValueError("no session is running: there is nothing to stop")
        done = self._referee_snapshot()
        done["total_reps"] = s.reps_before + done["reps"]
        done["total_no_reps"] = s.no_reps_before + done["no_reps"]
        if self.recorder is not None:
            try:
                self.recorder.end_session(status)
            except Exception as exc:
                self._store_failed("close the session", exc)
        self._emit("session_stop", {"status": status, "player": s.player, "workout": s.workout, **done})
        log.info("session %s ended (%s): %s", s.id, status, done)
        # Viewers keep seeing the finished session's numbers until the next one starts.
        self._ended = {
            "session": s.id,
            "player": s.player,
            "workout": s.workout,
            "running": False,
            "phase": "",
            "reps": done.get("reps", 0),
            "no_reps": done.get("no_reps", 0),
            "total_reps": done["total_reps"],
            "total_no_reps": done["total_no_reps"],
            "pace": done.get("pace", 0.0),
            "elapsed": self._elapsed(s),
            **_NO_PROGRAM,
        }
        self.session = None
        self.pipeline = None
        self._publish_state()

    def _store_failed(self, what: str, exc: Exception) -> None:
        if "store" not in self.degraded:
            log.error("store: could not %s (%s); counting goes on", what, exc)
        self.degraded.add("store")

    def _referee_snapshot(self) -> dict[str, Any]:
        ref = self.pipeline.referee if self.pipeline is not None else None
        if ref is None:
            return {"reps": 0, "no_reps": 0}
        return {"reps": ref.count, "no_reps": ref.no_reps, "pace": round(ref.pace, 2)}

    def _emit(self, kind: str, data: dict[str, Any]) -> None:
        s = self.session
        ref = self.pipeline.referee if self.pipeline is not None else None
        self.publisher.publish(
            None,
            [
                encode_event(
                    kind,
                    ts=ref.last_t or 0.0 if ref is not None else 0.0,
                    wall=time.time(),
                    session=s.id if s else "",
                    count=ref.count if ref is not None else 0,
                    data=data,
                )
            ],
            self._state(),
        )

    # -- commands ------------------------------------------------------------------------------

    def handle_command(self, cmd: LiveCommand) -> tuple[bool, str]:
        """Run a start/stop/switch command (thread-safe: waits for the frame being analysed)."""
        with self._lock:
            return self._handle_command(cmd)

    def _handle_command(self, cmd: LiveCommand) -> tuple[bool, str]:
        problem = validate_command(cmd.action, cmd.player, cmd.workout)
        try:
            if problem:
                raise ValueError(problem)
            if cmd.action == "start":
                s = self.start_session(
                    cmd.player or DEFAULT_PLAYER, cmd.workout or self.settings.referee.workout
                )
                result = (True, f"session {s.id} started: {s.player}, {s.workout}")
            elif cmd.action == "switch":
                self.switch_workout(cmd.workout or "")
                result = (True, f"switched to {self.session.workout}")
            else:
                self.end_session("done")
                result = (True, "session stopped")
        except (ValueError, KeyError) as exc:
            result = (False, str(exc.args[0]) if exc.args else str(exc))
            log.warning("command %s %s refused: %s", cmd.id, cmd.action, result[1])
        self._cmd_result = {"cmd_id": cmd.id, "cmd_ok": "1" if result[0] else "0", "cmd_message": result[1]}
        self._publish_state()
        return result

    # -- the analysis thread -------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        s = self.session
        ref = self.pipeline.referee if self.pipeline is not None else None
        cap = self.capture.status() if self.capture is not None else None
        degraded = set(self.degraded)
        if cap is not None and not cap.healthy:
            degraded.add("source")
        if s is not None and ref is not None:
            elapsed = self._elapsed(s)
            state = {
                "session": s.id,
                "player": s.player,
                "workout": s.workout,
                "running": True,
                "phase": "rest" if s.resting else ref.phase,
                "reps": ref.count,
                "no_reps": ref.no_reps,
                "total_reps": s.reps_before + ref.count,
                "total_no_reps": s.no_reps_before + ref.no_reps,
                "pace": round(ref.pace, 2),
                "elapsed": elapsed,
                **(s.program.state(elapsed) if s.program is not None else _NO_PROGRAM),
            }
        else:
            state = dict(self._ended)
        state.update(
            {
                "fps": round(self.stats.fps, 1),
                "dropped": cap.dropped if cap else 0,
                "source": cap.source if cap else "",
                "source_restarts": cap.restarts if cap else 0,
                "degraded": sorted(degraded),
                "redis_reconnects": self.publisher.reconnects if self.publisher else 0,
                "updated": round(time.time(), 3),
            }
        )
        state.update(self._cmd_result)
        return state

    def _publish_state(self) -> None:
        if self.publisher is not None:
            self.publisher.publish(None, [], self._state())

    def _run(self) -> None:
        try:
            self._loop()
        except Exception:
            log.exception("analysis thread crashed; stopping the engine")
            self.degraded.add("analysis")
            self._publish_state()
        finally:
            if self.on_finished is not None and self.finished.is_set():
                self.on_finished()

    def _loop(self) -> None:
        buf = self.capture.buffer
        while not self.stop_event.is_set():
            for cmd in self.commands.drain() if self.commands else ():
                self.handle_command(cmd)
            frame = buf.get(timeout=0.2)
            if frame is None:
                if self.capture.finished.is_set():
                    self._finish()
                    return
                continue
            self.process(frame)

    def _finish(self) -> None:
        log.info("source finished: %d frames analysed, %d dropped", self.stats.frames, buf_dropped(self))
        if self.session is not None:
            self.end_session("done")
        self.finished.set()

    def process(self, frame: Frame) -> FrameRecord:
        """Analyse one frame and publish what it gave. Runs on the analysis thread."""
        cpu0 = time.thread_time()
        with self._lock:
            rec = self._process(frame)
        rec.cpu_ms = (time.thread_time() - cpu0) * 1000
        return rec

    def _process(self, frame: Frame) -> FrameRecord:
        from hiitpi.pose.types import Pose

        s = self.session
        pose: Pose | None
        events: list[RefEvent] = []
        pipe = self._rest_pipeline if (s is not None and s.resting) else self.pipeline
        if pipe is not None:
            pose, events = pipe.process(frame.image, frame.timestamp)
            stages = _take_stage_times(pipe.times)
        else:  # no session: still estimate, for the picture and the samples
            t0 = time.perf_counter()
            pose = self.estimator.estimate(frame.image, frame.timestamp)
            stages = {"pose": (time.perf_counter() - t0) * 1000}
        self._last_ts = frame.timestamp
        if s is not None and s.t0 is None:
            s.t0 = frame.timestamp
        if self.recorder is not None and s is not None:
            for e in events:
                try:
                    self.recorder.record(e)
                except Exception as exc:
                    self._store_failed("record a rep", exc)
        t_pub = time.perf_counter()
        sid = s.id if s else ""
        sample = encode_sample(
            seq=frame.seq,
            ts=frame.timestamp,
            wall=time.time(),
            session=sid,
            keypoints=pose.keypoints if pose is not None else None,
            score=pose.score if pose is not None else None,
            stages=stages,
            age_ms=(time.monotonic() - frame.captured_at) * 1000 - stages.get("pose", 0.0),
        )
        encoded = [
            encode_event(e.kind, ts=e.t_end, wall=time.time(), session=sid, count=e.count, data=e.to_dict())
            for e in events
        ]
        ok = self.publisher.publish(sample, encoded, self._state())
        done = time.monotonic()
        stages["publish"] = (time.perf_counter() - t_pub) * 1000
        latency = (done - frame.captured_at) * 1000 - stages.get("pose", 0.0) if ok else None
        if s is not None and s.program is not None:
            self._program_step()  # after this frame's events: they belong to the interval they happened in
            s = self.session
        if self.video is not None and self.video.clients:
            from hiitpi.web.mjpeg import Overlay

            ref = self.pipeline.referee if self.pipeline is not None else None
            self.video.submit(
                frame.viewing_image,
                pose,
                Overlay(
                    reps=ref.count if ref else 0,
                    workout=s.workout if s else "",
                    phase=ref.phase if ref else "",
                ),
            )
        rec = FrameRecord(seq=frame.seq, stages_ms=stages, latency_ms=latency, published=ok)
        self.stats.add(rec)
        return rec


def _take_stage_times(times: Any) -> dict[str, float]:
    """This frame's stage times from the pipeline's `StageTimes`, emptying its lists (a live
    engine runs for hours; keeping every frame's timing there would grow without bound)."""
    out = {}
    for attr in ("pose_ms", "smooth_ms", "referee_ms"):
        values = getattr(times, attr)
        if values:
            out[attr[:-3]] = values[-1]
            values.clear()
    return out


def _file_types() -> tuple[type, ...]:
    from hiitpi.capture.video import VideoFileSource

    return (VideoFileSource,)


def buf_dropped(engine: Engine) -> int:
    cap = engine.capture
    return cap.status().dropped if cap is not None else 0
