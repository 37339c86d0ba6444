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
from collections.abc import Callable
from typing import Any

from hiitpi.config import Settings
from hiitpi.engine import sessionstate
from hiitpi.engine.autosession import AutoSessions
from hiitpi.engine.sessionstate import Session, SessionChange, ended_state, running_state, tally
from hiitpi.errors import InputError
from hiitpi.live.contract import LiveState
from hiitpi.pose.types import Pose
from hiitpi.recognition import is_auto
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.programs import ANY

log = logging.getLogger(__name__)

DEFAULT_PLAYER = "guest"


class SessionRefused(InputError):
    """A command the session policy refuses (someone is training, nothing to stop, unknown name)."""


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
        last = tuple(s.referee.finish())  # the set is over: a rep on its way back counts (judging)
        s.note(last)
        self._change("interval_end", {"workout": s.workout, **tally(s.referee)}, events=last)
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
            numbers = tally(s.referee)
            self._ended = ended_state(s, self.last_t)
            self.session = None
            self._change(
                "session_stop",
                {
                    "status": status,
                    "player": s.player,
                    "workout": s.workout,
                    **numbers,
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
            # a camera on its side: once the referee has read the turn, the pose model sees it upright
            stage.follow(s.auto.referee if s.auto is not None else s.referee)
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
        return sessionstate.elapsed(s, self.last_t)

    def state(self) -> LiveState:
        """The session part of the live state (the running session, else the one that ended)."""
        with self.lock:
            s = self.session
            if s is None:
                return dataclasses.replace(self._ended)
            return running_state(s, self.last_t)

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
