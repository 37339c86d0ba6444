"""Where an analysed frame goes: sinks the frame loop hands each result to, in order.

A sink has a ``name``, ``on_frame(result)`` for every analysed frame and ``on_session(change,
state)`` for every session change. The engine registers the store sink (`RecorderSink`, first, so
a session's store id is known before it is announced) and the live bus (`LiveSink`); the
appliance adds the video encoder (`hiitpi.web.mjpeg.MjpegBroadcaster`), so the engine knows
nothing of the web side. A sink that raises marks itself degraded on the engine; counting goes on.

**A shown rep is a stored rep.** The store sink runs before the live sink, and for a frame (or
a session change) that carries a rep or a no-rep it commits that event before it returns
(`SessionRecorder.commit`), so nothing a viewer can see — the event, or the state's counts
that include it — reaches the live bus before it is on disk ([store] durable_reps; samples and
other events stay batched). A database that cannot be written (disk full) is never waited for:
counting and the page go on, the reps are kept in memory and written when there is room again,
and the page's banner says they are not being saved. Whatever is added after the store sink
keeps the order: commit first, then publish.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Protocol

from hiitpi.capture.base import Frame
from hiitpi.engine.sessionstate import SessionChange
from hiitpi.live.contract import LiveState, encode_event, encode_sample
from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent

log = logging.getLogger("hiitpi.engine.core")


@dataclass(slots=True)
class FrameResult:
    """One analysed frame: its pose, the session referee's events, the state after it."""

    frame: Frame
    pose: Pose | None
    events: list[RefEvent]
    stages_ms: dict[str, float]
    state: LiveState
    session_id: str = ""
    published: bool = False  # set by the live sink
    latency_ms: float | None = None  # captured → in Redis, minus the pose model (live sink)


class EngineSink(Protocol):
    name: str

    def on_frame(self, result: FrameResult) -> None: ...

    def on_session(self, change: SessionChange, state: LiveState) -> None: ...


class Recorder(Protocol):
    """What the store sink calls (``hiitpi.store.recorder.SessionRecorder`` fits)."""

    def start_session(
        self,
        player: str,
        workout: str,
        *,
        program: str | None = None,
        round: int | None = None,
        t0: float = 0.0,
        counting: str | None = None,
    ) -> Any: ...

    def start_interval(self, workout: str, *, round: int | None = None) -> None: ...

    def start_rest(self) -> None: ...

    def relabel_interval(self, workout: str, events: list[RefEvent]) -> None: ...

    def record(self, event: RefEvent) -> None: ...

    def commit(self, timeout: float = 1.0) -> bool: ...

    def end_session(self, status: str = "done", *, wait: bool = True) -> Any: ...


#: The events a viewer is shown as a rep or a no-rep: committed before they are published.
DURABLE_KINDS = frozenset({"rep", "no_rep"})


class RecorderSink:
    """Sessions, intervals and referee events into the history store; a rep committed before
    it is shown (see the module docstring). ``commit_ms`` holds how long each commit waited."""

    name = "store"

    def __init__(self, recorder: Recorder, *, durable: bool = True, timeout_s: float = 1.0):
        self.recorder = recorder
        self.durable = durable
        self.timeout_s = timeout_s

    def _commit(self, events, stages: dict[str, float] | None = None) -> None:
        if not self.durable or not any(e.kind in DURABLE_KINDS for e in events):
            return
        t0 = time.perf_counter()
        self.recorder.commit(self.timeout_s)
        if stages is not None:
            stages["store"] = (time.perf_counter() - t0) * 1000

    def on_session(self, change: SessionChange, state: LiveState) -> None:
        s = change.session
        for event in change.events:  # the interval's last events belong to it: before it closes
            self.recorder.record(event)
        if change.kind == "session_start":
            s.store_id = self.recorder.start_session(
                s.player,
                s.workout,
                program=s.program_name,
                round=1 if s.program is not None else None,
                t0=change.t,
                counting=s.counting,
            )
            change.data["store_id"] = s.store_id
        elif change.kind == "interval_start":
            self.recorder.start_interval(s.workout, round=change.data.get("round"))
        elif change.kind == "rest_start":
            self.recorder.start_rest()  # the interval's work is over: its work time is kept
        elif change.kind == "interval_relabel":
            self.recorder.relabel_interval(s.workout, list(change.events))
        elif change.kind == "session_stop":  # queued, not waited for: a full disk must not stall
            self.recorder.end_session(change.data.get("status", "done"), wait=False)
        self._commit(change.events)

    def on_frame(self, result: FrameResult) -> None:
        for event in result.events:
            self.recorder.record(event)
        self._commit(result.events, result.stages_ms)

    def problem(self) -> str | None:
        """Why the history is not being written now (a full disk, with what to do), or None."""
        if getattr(self.recorder, "healthy", True):
            return None
        return getattr(self.recorder, "last_error", None) or "the database cannot be written"


class LiveSink:
    """Samples, events and the state onto the live bus (`hiitpi.live.publisher.LivePublisher`)."""

    name = "live bus"

    def __init__(self, publisher: Any):
        self.publisher = publisher

    def on_session(self, change: SessionChange, state: LiveState) -> None:
        s = change.session
        wall = time.time()
        events = [
            encode_event(e.kind, ts=e.t_end, wall=wall, session=s.id, count=e.count, data=e.to_dict())
            for e in change.events
        ]
        events.append(
            encode_event(
                change.kind, ts=change.t, wall=wall, session=s.id, count=s.referee.count, data=change.data
            )
        )
        self.publisher.publish(None, events, state)

    def on_frame(self, result: FrameResult) -> None:
        """The frame's events at once; its sample when one is due (the viewers' rate) or it has
        events; the state's changes (`LivePublisher.publish` decides what is worth a write)."""
        frame, pose, stages = result.frame, result.pose, result.stages_ms
        wall = time.time()
        session = result.session_id
        events = [
            encode_event(e.kind, ts=e.t_end, wall=wall, session=session, count=e.count, data=e.to_dict())
            for e in result.events
        ]
        sample = None
        if events or self.publisher.sample_due():
            sample = encode_sample(
                seq=frame.seq,
                ts=frame.timestamp,
                wall=wall,
                session=session,
                keypoints=pose.keypoints if pose is not None else None,
                score=pose.score if pose is not None else None,
                stages=stages,
                age_ms=(time.monotonic() - frame.captured_at) * 1000 - stages.get("pose", 0.0),
            )
        t_pub = time.perf_counter()
        written = self.publisher.publish(sample, events, result.state)
        stages["publish"] = (time.perf_counter() - t_pub) * 1000
        result.published = written and sample is not None
        if result.published:
            result.latency_ms = (time.monotonic() - frame.captured_at) * 1000 - stages.get("pose", 0.0)


class SinkFanout:
    """Hands every analysed frame and session change to each sink in order. A sink that raises
    is marked degraded (logged once, its error kept in ``errors`` until it works again) and the
    others still get the frame: counting goes on."""

    def __init__(self, sinks: list[EngineSink] | None = None):
        self.sinks: list[EngineSink] = list(sinks or ())
        self.errors: dict[str, str] = {}  # sink name → its last error

    def add(self, sink: EngineSink) -> None:
        self.sinks.append(sink)

    def on_frame(self, result: FrameResult) -> None:
        for sink in self.sinks:
            self._call(sink, "on_frame", result)

    def on_session(self, change: SessionChange, state: LiveState) -> None:
        for sink in self.sinks:
            self._call(sink, "on_session", change, state)

    def _call(self, sink: EngineSink, method: str, *args: Any) -> None:
        try:
            getattr(sink, method)(*args)
        except Exception as exc:
            if sink.name not in self.errors:
                log.error("%s: %s failed (%s); counting goes on", sink.name, method, exc)
            self.errors[sink.name] = str(exc)
        else:
            if self.errors.pop(sink.name, None) is not None:
                log.info("%s: working again", sink.name)
