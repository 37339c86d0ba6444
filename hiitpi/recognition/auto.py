"""Auto mode: follow whatever the person does, one referee per stretch of one workout.

`AutoMode` sits between the pose stream and a session: it feeds the `Recogniser` and, when the
recogniser recognises a workout, starts a fresh `Referee` of that workout and replays into it the
poses since the activity began — so the first rep, done before anything was recognised, counts.
From then on that referee counts, until the recogniser calls a rest or another workout; each
stretch is an *interval*. `correct(workout)` re-counts the current interval as another workout
(a wrong guess corrected by the person) from the poses it kept.

The same object runs live (the engine's `SessionController`) and offline (`hiitpi analyze
--workout auto`, `hiitpi eval recognition`), so both count alike.
"""

from __future__ import annotations

import dataclasses
import logging
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from hiitpi.pose.types import Pose
from hiitpi.recognition.data import NONE
from hiitpi.recognition.model import Classifier, load_model
from hiitpi.recognition.recogniser import Change, Recogniser, RecogniserConfig
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.rules import Rule

log = logging.getLogger(__name__)

#: replayed poses start this long before the first rep, so the referee sees its start position and
#: calibrates on it (measured: 1 s lost reps on 2 of the 26 clips, 3 s none)
REPLAY_MARGIN_S = 3.0
#: an interval keeps at most this many seconds of poses for a correction
KEEP_S = 300.0


class AutoMode:
    def __init__(
        self,
        rules: Mapping[str, Rule],
        model: Classifier | None = None,
        *,
        config: RecogniserConfig | None = None,
        pace_window_s: float = 20.0,
        renamed: dict[str, str] | None = None,
        counting: str = "judge",
    ):
        self.rules = dict(rules)
        self.recogniser = Recogniser(self.rules, model if model is not None else load_model(), config)
        self.pace_window_s = pace_window_s
        self.counting = counting  # the referees' counting convention (the session's)
        cfg = self.recogniser.cfg
        self._recent: deque[tuple[Pose | None, float]] = deque()
        self._recent_s = cfg.credit_s + cfg.window_s + REPLAY_MARGIN_S
        self._interval: deque[tuple[Pose | None, float]] = deque()
        self.referee: Referee | None = None  # the current interval's
        self._counted_until: float | None = None  # the end of the last rep or no-rep counted
        self.resting = True
        self.rest_since: float | None = None
        #: the recogniser's change at the latest pose (None: no change)
        self.last_change: Change | None = None
        #: corrections so far: what the recogniser said → what the person said it is (the caller's
        #: dict when given, so a session's corrections outlive one `AutoMode`)
        self.renamed: dict[str, str] = renamed if renamed is not None else {}

    @property
    def workout(self) -> str | None:
        return self.referee.name if self.referee is not None else None

    @property
    def recognisable(self) -> tuple[str, ...]:
        return self.recogniser.recognisable

    def update(self, pose: Pose | None, t: float) -> list[RefEvent]:
        """Feed one pose; the interval referee's events (at a change, the replayed poses' too).

        The recogniser's change, if this pose made one, is in `last_change`.
        """
        self._recent.append((pose, t))
        while self._recent and t - self._recent[0][1] > self._recent_s:
            self._recent.popleft()
        change = self.recogniser.update(pose, t)
        if change is not None and change.workout in self.renamed:  # told before: believe the person
            change = dataclasses.replace(change, workout=self.renamed[change.workout])
            self.recogniser.pin(change.workout, t)
        self.last_change = change
        if change is not None and change.workout is not None:
            start = change.since - REPLAY_MARGIN_S
            if self.rest_since is not None and self._counted_until is not None:
                # what the last interval counted is not counted again; a rep it had under way at
                # the rest (not counted) is replayed from its start
                start = max(start, self._counted_until)
            self._interval = deque(item for item in self._recent if item[1] >= start)
            self.referee = self._interval_referee(change.workout)
            self.resting = False
            self.rest_since = None
            return self._replay()
        if change is not None:  # rest: a rep under way is not counted here but replayed if the set goes on
            self.resting = True
            self.rest_since = t
            if self.referee is not None:
                self.referee.abandon()
            return []
        if self.referee is None or self.resting:
            return []
        self._interval.append((pose, t))
        while t - self._interval[0][1] > KEEP_S:
            self._interval.popleft()
        return self._count(self.referee.update(pose, t))

    def _interval_referee(self, workout: str) -> Referee:
        """A fresh referee for an interval of ``workout``; its reps are scored for form when the
        workout has a recorded reference, as in a session whose workout was picked."""
        from hiitpi.referee.similarity import attach_scorer

        referee = Referee(self.rules[workout], self.pace_window_s, self.counting)
        attach_scorer(referee)
        return referee

    def finish(self) -> list[RefEvent]:
        """The stream is over: the interval referee's last events (judging, a rep on its way back counts)."""
        if self.referee is None or self.resting:
            return []
        return self._count(self.referee.finish())

    def rested_for(self, t: float) -> float:
        """Seconds since the last rest began (0 while working or before anything was done)."""
        return t - self.rest_since if self.resting and self.rest_since is not None else 0.0

    def live_fields(self) -> dict:
        """What the live state shows of auto mode (`LiveState` fields)."""
        rec = self.recogniser
        ranked = [w for w, _ in rec.ranked() if w != rec.current]
        return {
            "auto": True,
            "recognised": rec.current or "",
            "confidence": round(rec.confidence, 2) if rec.current else None,
            "choices": tuple(ranked[:3]),
        }

    def correct(self, workout: str) -> list[RefEvent]:
        """Count the current interval again as ``workout``; its events, from the interval's start.

        The recogniser holds ``workout`` until the next rest, and for the rest of the session the
        workout it had recognised is taken to be ``workout`` (the person said so).
        """
        if self.referee is None or self.resting:  # nothing recognised now: what was just done
            self._interval = deque(self._recent)
        elif self.referee.name != workout:
            self.renamed[self.referee.name] = workout
        self.referee = self._interval_referee(workout)
        self.resting = False
        self.rest_since = None
        t = self._interval[-1][1] if self._interval else 0.0
        self.recogniser.pin(workout, t)
        events = self._replay()
        log.info("auto: interval corrected to %s: %d reps", workout, self.referee.count)
        return events

    def _replay(self) -> list[RefEvent]:
        events: list[RefEvent] = []
        for pose, t in self._interval:
            events.extend(self.referee.update(pose, t))
        return self._count(events)

    def _count(self, events: list[RefEvent]) -> list[RefEvent]:
        for ev in events:
            if ev.kind == "rep":
                self.recogniser.activity(ev.t_end)
            if ev.kind in ("rep", "no_rep"):
                self._counted_until = max(ev.t_end, self._counted_until or ev.t_end)
        return events


@dataclass
class Interval:
    """One recognised stretch of one workout and what its referee counted."""

    workout: str
    start: float
    end: float
    rep_ends: list[float] = field(default_factory=list)  # when each counted rep ended
    no_reps: int = 0
    hold_s: float = 0.0  # seconds held (holds)

    @property
    def reps(self) -> int:
        return len(self.rep_ends)

    def tally(self, events: list[RefEvent]) -> None:
        """Count the referee's events into this interval."""
        for e in events:
            if e.kind == "rep":
                self.rep_ends.append(e.t_end)
            elif e.kind == "no_rep":
                self.no_reps += 1
            elif e.kind == "hold_tick" and e.hold_s is not None:
                self.hold_s = max(self.hold_s, e.hold_s)

    def to_dict(self) -> dict:
        return {
            "workout": self.workout,
            "start": round(self.start, 3),
            "end": round(self.end, 3),
            "reps": self.reps,
            "no_reps": self.no_reps,
            "hold_s": round(self.hold_s, 3),
        }


@dataclass
class Timeline:
    """What auto mode made of a pose stream: its intervals and its decisions (t, workout or None)."""

    intervals: list[Interval] = field(default_factory=list)
    decisions: list[tuple[float, str | None]] = field(default_factory=list)
    _cur: Interval | None = None

    def add(self, change: Change | None, events: list[RefEvent], t: float) -> None:
        """One pose's outcome: `AutoMode.last_change` and the events `AutoMode.update` returned."""
        if change is not None:
            self.decisions.append((change.t, change.workout))
            if self._cur is not None:
                self._cur.end = change.t
            self._cur = None
            if change.workout is not None:
                self._cur = Interval(change.workout, change.since, t)
                self.intervals.append(self._cur)
        cur = self._cur
        if cur is not None:
            cur.tally(events)
            cur.end = t

    def reps_by_workout(self, t0: float = -1e18, t1: float = 1e18) -> dict[str, int]:
        """Reps per workout that ended in [t0, t1)."""
        out: dict[str, int] = defaultdict(int)
        for iv in self.intervals:
            out[iv.workout] += sum(t0 <= t < t1 for t in iv.rep_ends)
        return dict(out)

    def held_by_workout(self) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for iv in self.intervals:
            out[iv.workout] += iv.hold_s
        return dict(out)

    def main_workout(self) -> str:
        """The workout credited with the most reps, else the one held longest, else none."""
        reps = self.reps_by_workout()
        if any(reps.values()):
            return max(reps, key=lambda w: reps[w])
        held = self.held_by_workout()
        if any(v >= 1.0 for v in held.values()):
            return max(held, key=lambda w: held[w])
        return NONE
