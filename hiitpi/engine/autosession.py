"""Auto mode's part of the session controller: wait for the first recognised rep, follow the
recogniser from interval to interval, rest, end after a long rest, and take a correction; and a
free circuit's blocks of ``any``, which watch the same way inside the program's work time.

`SessionController` (`hiitpi.engine.session`) inherits these; they use its lock, its changes
(`_change`, `_next_interval`) and its session. The recognition itself is
`hiitpi.recognition.auto.AutoMode`.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent

log = logging.getLogger("hiitpi.engine.session")


class AutoSessions:
    def _arm(self, player: str, program: Any = None, *, counting: str | None = None) -> Any:
        """Auto mode (or a free circuit, ``program`` its `ProgramRun`): a session that waits,
        watching, for the first recognised rep."""
        from hiitpi.engine.sessionstate import Session

        counting = counting or self.settings.referee.counting
        s = Session(
            uuid.uuid4().hex[:12], player, "", None, program=program, started=False, counting=counting
        )
        self.session = s
        self._watch(s)
        what = f"free circuit {s.program_name}" if program is not None else "auto mode"
        log.info("%s: waiting for %s's first rep (%s)", what, player, ", ".join(s.auto.recognisable))
        return s

    def _watch(self, s: Any) -> None:
        """Recognise afresh from now on (auto mode's start, a free block's); what the person
        corrected earlier in the session stays corrected."""
        from hiitpi.recognition.auto import AutoMode

        s.auto = AutoMode(
            self.catalog.workouts,
            pace_window_s=self.settings.referee.pace_window_s,
            renamed=s.corrections,
            counting=s.counting,
        )

    def correct(self, workout: str) -> None:
        """Auto mode guessed wrong: the current interval is ``workout``, re-counted from its start."""
        from hiitpi.engine.session import SessionRefused

        with self.lock:
            s = self._running("correct")
            if s.auto is None and s.program is not None and s.resting:
                raise SessionRefused("the program is resting: correct the workout during its work time")
            if s.auto is None:
                raise SessionRefused(f"{s.workout} was picked, not recognised: switch workouts instead")
            rule = self.workout(workout)
            fresh = s.watching  # a free block with nothing recognised yet: its interval opens now
            was, events = s.workout, s.auto.correct(rule.name)
            if not s.started:
                s.referee, s.workout = s.auto.referee, rule.name
                self._begin(s, events[0].t_start if events else (self.last_t or 0.0))
                was = ""
            elif fresh:
                self._next_interval(s, s.auto.referee, self._round(s))
                was = ""
            s.referee, s.workout, s.resting = s.auto.referee, rule.name, False
            self._change("interval_relabel", {"workout": rule.name, "was": was}, events=tuple(events))
            log.info(
                "session %s: %s corrected to %s (%d reps)", s.id, was or "waiting", rule.name, s.referee.count
            )

    def _auto_step(self, s: Any, stage: Any, pose: Pose | None, t: float) -> list[RefEvent]:
        step = stage.referee((s.auto,), pose, t)  # timed as the referee stage
        ch = s.auto.last_change
        if ch is not None and ch.workout is not None:
            if not s.started:
                s.referee, s.workout = s.auto.referee, ch.workout
                self._begin(s, ch.since)
            else:
                self._next_interval(s, s.auto.referee, self._round(s))
        elif ch is not None and s.started:  # a rep under way is replayed if the set goes on (AutoMode)
            s.resting = True
            self._change("rest_start", {"recognised": None})
        elif s.program is not None:
            pass  # a free circuit rests and ends on its clock
        elif s.started and s.auto.rested_for(t) > s.auto.recogniser.cfg.end_after_s:
            player = s.player
            self.stop("done")
            self._arm(player, counting=s.counting)  # hands-free: the next session starts on its first rep
        return step

    @staticmethod
    def _round(s: Any) -> int | None:
        cur = s.program.current if s.program is not None else None
        return cur.round if cur is not None else None

    def _begin(self, s: Any, t0: float) -> None:
        s.t0, s.started, s.resting = t0, True, False
        data = {
            "player": s.player,
            "workout": s.workout,
            "program": s.program_name,
            "counting": s.counting,
            "auto": True,
        }
        self._change("session_start", data, t=t0)
        log.info("session %s started: %s doing %s (recognised)", s.id, s.player, s.workout)
