"""Sessions: who trains what, HIIT programs moving along the clock, and the commands that drive them.

The `SessionController` owns the running `Session` (its referee, its program, its totals) and is
the one place that decides what a start, stop or switch means. Its policy: one session at a time
per camera — a start while someone trains is refused with their name (they stop first); a program
switches workout and rests by itself and ends when its last interval does. Every change is a
`SessionChange` handed to ``on_change`` (the engine passes it to its sinks: store, live bus).
The controller never touches a frame: the frame loop calls `on_pose` with each frame's pose.
Thread-safe: commands come from the command listener, the page's API and tests.

Auto mode (workout ``auto``): the session waits, watching (`hiitpi.recognition.auto.AutoMode`),
and starts on the first recognised rep, counting it; each recognised stretch of one workout is an
interval, a rest is a rest, and a correction (``correct``) re-counts the current interval as the
workout the person names. A session that has rested for ``end_after_s`` ends, and the next one
waits for the first rep again. A free circuit (a program block of workout ``any``) is auto mode
inside the program's work time: each such block watches afresh, its first recognised rep opens
its interval, and the program's rests and clock go on as in any program; a free circuit that
starts with such a block starts, clock and all, on its first recognised rep.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hiitpi.config import Settings
from hiitpi.engine.autosession import AutoSessions
from hiitpi.errors import InputError
from hiitpi.live.contract import LiveCommand, LiveState, validate_command
from hiitpi.pose.types import Pose
from hiitpi.recognition import is_auto
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.programs import ANY

log = logging.getLogger(__name__)

DEFAULT_PLAYER = "guest"


class SessionRefused(InputError):
    """A command the session policy refuses (someone is training, nothing to stop, unknown name)."""


@dataclass(slots=True)
class Session:
    id: str
    player: str
    workout: str  # the current interval's workout (rules name); "" while auto mode waits
    referee: Referee | None  # None while auto mode waits for the first rep
    program: Any = None  # a `ProgramRun` when the session is a HIIT program
    auto: Any = None  # an `AutoMode` when the workout is recognised (auto mode, a free block)
    corrections: dict[str, str] = dataclasses.field(default_factory=dict)  # recognised → said
    started: bool = True  # session_start announced (auto mode: at the first recognised rep)
    t0: float | None = None  # referee clock at the session's first frame
    store_id: Any = None  # set by the store sink when it opens the session's row
    resting: bool = False
    counting: str = "judge"  # the session's counting convention (every interval keeps it)
    reps_before: int = 0  # reps of the intervals already finished
    no_reps_before: int = 0
    attempts_before: int = 0
    partial_reps: int = 0  # reps counted short of the full range (counting attempts), whole session

    @property
    def total_reps(self) -> int:
        return self.reps_before + (self.referee.count if self.referee else 0)

    @property
    def total_no_reps(self) -> int:
        return self.no_reps_before + (self.referee.no_reps if self.referee else 0)

    @property
    def total_attempts(self) -> int:
        return self.attempts_before + (self.referee.attempts if self.referee else 0)

    @property
    def watching(self) -> bool:
        """A free block that has not recognised anything yet."""
        return self.auto is not None and self.started and self.auto.referee is None

    @property
    def total_full_reps(self) -> int:
        """Reps that reached the full range and passed every check (the judge's count)."""
        return self.total_reps - self.partial_reps

    def note(self, events: Iterable[RefEvent]) -> None:
        """Count the partial reps among the referee's events (counted when counting attempts)."""
        self.partial_reps += sum(1 for e in events if e.kind == "rep" and e.extra.get("full") is False)

    @property
    def program_name(self) -> str | None:
        return self.program.program.name if self.program is not None else None


@dataclass(frozen=True, slots=True)
class SessionChange:
    """``kind``: session_start, interval_end, interval_start, interval_relabel, rest_start or
    session_stop; ``t`` the referee clock; ``data`` what the live bus carries with it; ``events``
    the referee's last events of the interval that ends (a rep on its way back when the set
    stops), before the change, or an interval_relabel's re-counted reps."""

    kind: str
    session: Session
    t: float
    data: dict[str, Any]
    events: tuple[RefEvent, ...] = ()


class SessionController(AutoSessions):
    def __init__(
        self,
        settings: Settings,
        *,
        on_change: Callable[[SessionChange], None],
        clock: Callable[[], float],
        reset_pose: Callable[[], None] = lambda: None,
    ):
        self.settings = settings
        self.on_change = on_change
        self._clock = clock
        self._reset_pose = reset_pose
        self.catalog = None  # the `Catalog` the last session was started from
        self.session: Session | None = None
        self.last_t: float | None = None  # newest frame's timestamp
        self._ended = LiveState()
        self.lock = threading.RLock()

    # -- what can be started ------------------------------------------------------------------

    def reload(self) -> None:
        """Read the rules folder again (at start-up and before every session), so an edited or
        added file is used without a restart; a file that no longer loads keeps its last good
        version and the error is logged."""
        from hiitpi.referee.catalog import load_catalog

        self.catalog = load_catalog(self.settings.referee.rules_dir, previous=self.catalog)
        for line in self.catalog.errors:
            log.warning("rules: %s", line)

    def resolve(self, name: str) -> tuple[Any, Any]:
        """(the first workout's rule, the `Program` or None) for a workout or program name."""
        from hiitpi.referee.catalog import UnknownNameError

        try:
            return self.catalog.resolve(name)
        except UnknownNameError as exc:
            raise SessionRefused(exc.message, exc.hint) from None

    def workout(self, name: str) -> Any:
        """The rule of a workout (or alias) for the next interval: programs do not nest."""
        from hiitpi.referee.catalog import UnknownNameError

        try:
            return self.catalog.workout(name)
        except UnknownNameError as exc:
            raise SessionRefused(exc.message, exc.hint) from None

    def _referee(self, rule: Any, counting: str | None = None) -> Referee:
        self._reset_pose()  # tracking and smoothing start afresh, as `hiitpi analyze` does
        from hiitpi.referee.similarity import attach_scorer

        ref = self.settings.referee
        referee = Referee(rule, pace_window_s=ref.pace_window_s, counting=counting or ref.counting)
        attach_scorer(referee)  # reps are scored when the workout has a recorded reference
        return referee

    # -- the commands -------------------------------------------------------------------------

    def start(self, player: str, workout: str, counting: str | None = None) -> Session:
        """Start a session of a workout or a HIIT program. Refused while a session runs.
        ``counting`` ("judge" or "attempts") is the session's convention (default: the settings')."""
        from hiitpi.referee.machine import COUNTING

        if counting is not None and counting not in COUNTING:
            raise SessionRefused(f"counting must be one of {', '.join(COUNTING)}, not {counting!r}")
        with self.lock:
            s = self.session
            if s is not None:
                raise SessionRefused(
                    f"{s.player} is training ({s.program_name or s.workout}): only one session runs "
                    "per camera; stop it first"
                )
            self.reload()
            if is_auto(workout):
                return self._arm(player, counting=counting or self.settings.referee.counting)
            rule, program = self.resolve(workout)
            counting = counting or self.settings.referee.counting
            if rule is None:  # a free circuit: it starts on the first recognised rep
                from hiitpi.referee.programs import ProgramRun

                return self._arm(player, ProgramRun(program), counting=counting)
            s = Session(
                id=uuid.uuid4().hex[:12],
                player=player,
                workout=rule.name,
                referee=self._referee(rule, counting),
                counting=counting,
            )
            if program is not None:
                from hiitpi.referee.programs import ProgramRun

                s.program = ProgramRun(program)
            self.session = s
            self._change(
                "session_start",
                {"player": player, "workout": rule.name, "program": s.program_name, "counting": counting},
            )
            log.info("session %s started: %s doing %s", s.id, player, s.program_name or rule.name)
            return s

    def switch(self, workout: str, *, round: int | None = None) -> None:
        """Next interval of the running session: the reps done so far are kept."""
        with self.lock:
            s = self._running("switch workout")
            self._next_interval(s, self._referee(self.workout(workout), s.counting), round)

    def _next_interval(self, s: Session, referee: Referee, round: int | None = None) -> None:
        last = tuple(s.referee.finish())  # the set is over: a rep on its way back counts
        s.note(last)
        self._change("interval_end", {"workout": s.workout, **_tally(s.referee)}, events=last)
        s.reps_before += s.referee.count
        s.no_reps_before += s.referee.no_reps
        s.attempts_before += s.referee.attempts
        s.referee = referee
        s.workout = referee.name
        s.resting = False
        self._change("interval_start", {"workout": referee.name, "round": round})
        log.info("session %s switched to %s", s.id, referee.name)

    def stop(self, status: str = "done") -> Session:
        """End the running session; viewers keep seeing its numbers until the next one starts."""
        with self.lock:
            s = self._running("stop")
            if not s.started:  # auto mode still waiting: nothing was done, nothing to keep
                self.session = None
                log.info("auto mode stopped before any rep")
                return s
            last = tuple(s.referee.finish()) if not s.resting else ()
            s.note(last)
            tally = _tally(s.referee)
            self._ended = self._session_state(s)
            self._ended.running = False
            self._ended.pace = 0.0  # nobody is moving any more: the recent pace is 0, the average stays
            self._ended.store_id = s.store_id  # where the page links the result to
            self._ended.t0 = s.t0  # and where a page opened later finds its charts
            self._ended.phase = ""
            # the program stays: the result card is titled by it ("Tabata squats", not "Squat")
            self._ended.program_elapsed = self._ended.round = self._ended.rounds = None
            self._ended.segment = ""
            self._ended.remaining = None
            self.session = None
            self._change(
                "session_stop",
                {
                    "status": status,
                    "player": s.player,
                    "workout": s.workout,
                    **tally,
                    "total_reps": s.total_reps,
                    "total_no_reps": s.total_no_reps,
                    "total_attempts": s.total_attempts,
                    "total_full_reps": s.total_full_reps,
                    "store_id": s.store_id,
                },
                s,
                events=last,
            )
            log.info(
                "session %s ended (%s): %d reps, %d no-reps", s.id, status, s.total_reps, s.total_no_reps
            )
            return s

    def handle(self, cmd: LiveCommand) -> tuple[bool, str]:
        """Run a start/stop/switch/correct command from the page; (ok, message fit to show)."""
        try:
            problem = validate_command(cmd.action, cmd.player, cmd.workout, cmd.counting)
            if problem:
                raise SessionRefused(problem)
            if cmd.action == "start":
                s = self.start(
                    cmd.player or DEFAULT_PLAYER, cmd.workout or self.settings.referee.workout, cmd.counting
                )
                if not s.started:  # auto mode, a free circuit: the session opens at the first rep
                    what = self.catalog.title(s.program_name) if s.program is not None else "Auto mode"
                    return True, f"{what} for {s.player}: waiting for the first rep."
                title = self.catalog.title(s.program_name or s.workout)
                where = f" (session {s.store_id})" if s.store_id is not None else ""
                return True, f"Started {title} for {s.player}{where}."
            if cmd.action == "switch":
                self.switch(cmd.workout or "")
                return True, f"Switched to {self.catalog.title(self.session.workout)}."
            if cmd.action == "correct":
                self.correct(cmd.workout or "")
                s = self.session
                return True, f"Corrected to {self.catalog.title(s.workout)}: {s.referee.count} reps."
            s = self.stop("done")
            if not s.started:
                return True, "Stopped: auto mode was still waiting for a first rep, nothing saved."
            where = f"session {s.store_id}" if s.store_id is not None else "the session"
            return True, f"Stopped: {where} saved, {s.total_reps} reps."
        except SessionRefused as exc:
            log.warning("command %s %s refused: %s", cmd.id, cmd.action, exc.message)
            return False, exc.message

    def _running(self, what: str) -> Session:
        if self.session is None:
            raise SessionRefused(f"no session is running: there is nothing to {what}")
        return self.session

    # -- frames ---------------------------------------------------------------------------------

    def on_pose(self, stage: Any, pose: Pose | None, t: float) -> list[RefEvent]:
        """Feed one frame's pose to the session's referee (not while resting), then move a program
        along the clock. Returns the referee's events."""
        with self.lock:
            self.last_t = t
            s = self.session
            if s is None:
                return []
            if s.auto is not None:
                events = self._auto_step(s, stage, pose, t)
            else:
                if s.t0 is None:
                    s.t0 = t
                events = [] if s.resting else stage.referee((s.referee,), pose, t)
            s.note(events)
            if s.program is not None and s.started and self.session is s:
                self._program_step(s)  # after this frame's events: they belong to their interval
            return events

    def _program_step(self, s: Session) -> None:
        seg = s.program.update(self.elapsed(s))
        if s.program.done:
            log.info("program %s finished", s.program_name)
            self.stop("done")
        elif seg is None:
            return
        elif seg.kind == "rest":
            s.resting = True
            s.auto = None  # rest is rest: nothing is recognised until the next block
            self._change(
                "rest_start", {"next": seg.workout, "round": seg.round, "duration_s": seg.duration_s}
            )
        elif seg.index == 0:
            return  # the session's start began it
        elif seg.workout == ANY:
            self._watch(s)  # whatever is done next opens this block's interval
        else:
            self.switch(seg.workout, round=seg.round)

    # -- what viewers see -------------------------------------------------------------------------

    def elapsed(self, s: Session) -> float:
        t = self.last_t
        return round(t - s.t0, 2) if (t is not None and s.t0 is not None) else 0.0

    def state(self) -> LiveState:
        """The session part of the live state (the running session, else the one that ended)."""
        with self.lock:
            s = self.session
            if s is None:
                return dataclasses.replace(self._ended)
            return self._session_state(s)

    def _session_state(self, s: Session) -> LiveState:
        from hiitpi.referee.pace import average_rpm

        ref = s.referee
        elapsed = self.elapsed(s) if s.started else 0.0
        # the recent pace at the newest frame, not the referee's last pose: it decays during a rest
        pace = ref.pace_meter.rate(self.last_t) if ref is not None and self.last_t is not None else 0.0
        avg = average_rpm(s.total_reps, elapsed)
        st = LiveState(
            session=s.id,
            player=s.player,
            workout=s.workout,
            running=True,
            phase="waiting" if ref is None or s.watching else "rest" if s.resting else ref.phase,
            reps=ref.count if ref else 0,
            no_reps=ref.no_reps if ref else 0,
            attempts=ref.attempts if ref else 0,
            total_reps=s.total_reps,
            total_no_reps=s.total_no_reps,
            total_attempts=s.total_attempts,
            full_reps=s.total_full_reps,
            counting=ref.counting if ref else s.counting,
            pace=round(pace, 2),
            avg_pace=None if avg is None else round(avg, 2),
            elapsed=elapsed,
            t0=s.t0,
            store_id=s.store_id,
        )
        if s.auto is not None:
            for key, value in s.auto.live_fields().items():
                setattr(st, key, value)
        if s.program is not None:
            for key, value in s.program.state(elapsed).items():
                setattr(st, key, value)
        return st

    def _change(
        self,
        kind: str,
        data: dict[str, Any],
        s: Session | None = None,
        events: tuple[RefEvent, ...] = (),
        *,
        t: float | None = None,
    ) -> None:
        if t is None:
            t = self.last_t if self.last_t is not None else self._clock()
        self.on_change(SessionChange(kind, s or self.session, t, data, events))


def _tally(ref: Referee | None) -> dict[str, Any]:
    if ref is None:
        return {"reps": 0, "no_reps": 0, "attempts": 0, "pace": 0.0}
    return {"reps": ref.count, "no_reps": ref.no_reps, "attempts": ref.attempts, "pace": round(ref.pace, 2)}
