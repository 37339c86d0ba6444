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

import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

from hiitpi.pose.types import Pose
from hiitpi.recognition.model import Classifier, load_model
from hiitpi.recognition.recogniser import Change, Recogniser, RecogniserConfig
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.rules import Rule

log = logging.getLogger(__name__)

#: replayed poses start this long before the first rep, so the referee sees its start position
REPLAY_MARGIN_S = 1.0
#: an interval keeps at most this many seconds of poses for a correction
KEEP_S = 300.0


@dataclass
class AutoStep:
    """What one pose did: the recogniser's change (if any) and the interval referee's events
    (at a change, those of the replayed poses too)."""

    change: Change | None = None
    events: list[RefEvent] = field(default_factory=list)


class AutoMode:
    def __init__(
        self,
        rules: Mapping[str, Rule],
        model: Classifier | None = None,
        *,
        config: RecogniserConfig | None = None,
        pace_window_s: float = 20.0,
    ):
        self.rules = dict(rules)
        self.recogniser = Recogniser(self.rules, model if model is not None else load_model(), config)
        self.pace_window_s = pace_window_s
        cfg = self.recogniser.cfg
        self._recent: deque[tuple[Pose | None, float]] = deque()
        self._recent_s = cfg.credit_s + cfg.window_s + REPLAY_MARGIN_S
        self._interval: deque[tuple[Pose | None, float]] = deque()
        self.referee: Referee | None = None  # the current interval's
        self.resting = True

    @property
    def workout(self) -> str | None:
        return self.referee.name if self.referee is not None else None

    @property
    def recognisable(self) -> tuple[str, ...]:
        return self.recogniser.recognisable

    def update(self, pose: Pose | None, t: float) -> AutoStep:
        self._recent.append((pose, t))
        while self._recent and t - self._recent[0][1] > self._recent_s:
            self._recent.popleft()
        change = self.recogniser.update(pose, t)
        step = AutoStep(change)
        if change is not None and change.workout is not None:
            start = change.since - REPLAY_MARGIN_S
            self._interval = deque(item for item in self._recent if item[1] >= start)
            self.referee = Referee(self.rules[change.workout], self.pace_window_s)
            self.resting = False
            step.events = self._replay()
            return step
        if change is not None:  # rest
            self.resting = True
        if self.referee is not None and not self.resting:
            self._interval.append((pose, t))
            while t - self._interval[0][1] > KEEP_S:
                self._interval.popleft()
            step.events = self._count(self.referee.update(pose, t))
        return step

    def correct(self, workout: str) -> list[RefEvent]:
        """Count the current interval again as ``workout``; its events, from the interval's start.

        The recogniser holds ``workout`` until the next rest.
        """
        self.referee = Referee(self.rules[workout], self.pace_window_s)
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
        return events
