"""Per-person calibration: a feature expressed as the share of the person's own travel.

A rule's thresholds in degrees or torso lengths fit the people and cameras they were tuned on.
A feature with ``calibrate`` is instead measured in *travel units*: 0 where this person's start
position is (standing tall, arms locked out), 1 where their far position is (the bottom of their
squats), so a state can say "down at 70 % of the way" and mean the same thing for a deep and a
shallow squatter, seen from the side or foreshortened from the front.

The two positions are read from the movement's turning points: the feature's extremes (of its
median over the last ``SPIKE_S`` seconds, so a glitch of a frame or two is not one), each one
confirmed when the value has come back from it by half the travel known so far. The start
position is the median of the last ``reps`` start-side turning points, the far position the
median of the far-side ones. So a wrong detection (one turning point among several), a rest
sitting up or standing at the top (one turning point, however long) and a person who tires (the
median follows their recent reps) do not throw it. The travel between them is clamped to
``min_travel``..``max_travel`` (feature units) from the rules file: a lazy first rep cannot lower
the bar below the physical floor, and a very deep person is never asked for more than the ceiling.

A travel learnt from something else (a glitch of the pose model before the set, the deep reps of
a first set) can be too large for the movement that follows: its turning points then never come
back far enough to be confirmed, and the travel would never be corrected. So smaller turning
points are watched too (a retrace of half the physical floor); once ``RELEARN_TURNS`` of them
(four cycles) have come in a steady rhythm with no confirmed turning point in between, they are
the person's movement now and the travel is re-learnt from them (``relearnt_since`` says when that
rhythm began: the referee measures its cycles again, `hiitpi.referee.machine`). Fidgets, a rest or
a walk to the mat have no rhythm and do not. Nothing here counts frames: 30 and 60 fps calibrate alike.
"""

from __future__ import annotations

from collections import deque
from itertools import pairwise

from pydantic import ConfigDict, Field, model_validator

from hiitpi.schema import FileModel, Number, WholeNumber

#: a turning point is confirmed when the value has come back from it by this share of the travel
TURN = 0.5
#: the window of the median the turning points are read from (glitch rejection)
SPIKE_S = 0.1
#: a travel no confirmed turning point has come back from is re-learnt from this many smaller
#: turning points (a retrace of TURN times the floor: four cycles) ...
RELEARN_TURNS = 8
#: ... when they come in a rhythm: the intervals between their far ends vary by at most this share
#: of their mean (periodic movement, not fidgeting)
RHYTHM_CV = 0.3


class CalibrateSpec(FileModel):
    """How a feature calibrates to the person: which way the movement goes, and the physical limits
    of the travel its thresholds are scaled to."""

    model_config = ConfigDict(frozen=True, title="Calibrate")

    start: Number() = Field(
        title="Start",
        description="The feature's value at the start position for a typical person (standing: a knee "
        "angle of 175). With `far` it says which way the movement goes, and the nominal travel.",
    )
    far: Number() = Field(
        title="Far", description="Its value at the far position for a typical person (the bottom: 90)."
    )
    min_travel: Number(0.0) | None = Field(
        None,
        title="Minimum travel",
        description="The travel (in the feature's units) thresholds are scaled to never goes below this: "
        "the physical floor, so a lazy first rep cannot lower the bar (default: half the nominal travel).",
    )
    max_travel: Number(0.0) | None = Field(
        None,
        title="Maximum travel",
        description="Nor above this: a very deep person is not asked for more (default: 1.5 times the "
        "nominal travel).",
    )
    reps: WholeNumber(1, 50) = Field(
        3,
        title="Turning points",
        description="How many recent turning points at each end the start and far positions are the "
        "median of.",
    )

    @model_validator(mode="after")
    def _a_travel(self) -> CalibrateSpec:
        if self.start == self.far:
            raise ValueError("impossible travel: start and far are equal")
        if self.min_travel is not None and self.max_travel is not None and self.min_travel > self.max_travel:
            raise ValueError(
                f"impossible travel: min_travel {self.min_travel:g} is above max_travel {self.max_travel:g}"
            )
        return self

    @property
    def nominal(self) -> float:
        return abs(self.far - self.start)

    @property
    def floor(self) -> float:
        return self.min_travel if self.min_travel is not None else 0.5 * self.nominal

    @property
    def ceiling(self) -> float:
        return max(self.max_travel if self.max_travel is not None else 1.5 * self.nominal, self.floor)


def _median(d) -> float:
    s = sorted(d)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) * 0.5


class _SmallTurns:
    """Turning points at a fixed retrace, with their times: (value, far side?, t), oldest first."""

    __slots__ = ("ext", "points", "rising")

    def __init__(self, n: int):
        self.points: deque = deque(maxlen=n)
        self.reset()

    def reset(self) -> None:
        self.points.clear()
        self.ext = None  # as in the calibrator: (low, high) until the first turn, then the extreme
        self.rising: bool | None = None

    def update(self, x: float, t: float, retrace: float) -> None:
        ext = self.ext
        if ext is None:
            self.ext = (x, x)
            return
        if self.rising is None:
            lo, hi = min(ext[0], x), max(ext[1], x)
            if x > lo + retrace:
                self.points.append((lo, False, t))
                self.rising, self.ext = True, x
            elif x < hi - retrace:
                self.points.append((hi, True, t))
                self.rising, self.ext = False, x
            else:
                self.ext = (lo, hi)
        elif self.rising:
            if x > ext:
                self.ext = x
            elif x < ext - retrace:
                self.points.append((ext, True, t))
                self.rising, self.ext = False, x
        elif x < ext:
            self.ext = x
        elif x > ext + retrace:
            self.points.append((ext, False, t))
            self.rising, self.ext = True, x

    def rhythmic(self) -> bool:
        """Whether the far-side turning points came at steady intervals (RHYTHM_CV)."""
        ts = [t for _, far, t in self.points if far]
        iv = [b - a for a, b in pairwise(ts)]
        if len(iv) < 2:
            return False
        mean = sum(iv) / len(iv)
        sd = (sum((d - mean) ** 2 for d in iv) / len(iv)) ** 0.5
        return mean > 0.0 and sd <= RHYTHM_CV * mean


class Calibrator:
    """``update(v)`` returns where ``v`` sits on the person's travel (0 start, 1 far), learning from it."""

    __slots__ = (
        "_ceil", "_ext", "_floor", "_his", "_lo", "_los", "_rising", "_sign",
        "_small", "_span", "_spikes", "relearnt", "relearnt_since", "spec",
    )  # fmt: skip

    def __init__(self, spec: CalibrateSpec):
        self.spec = spec
        self._sign = 1.0 if spec.far >= spec.start else -1.0
        self._floor = spec.floor
        self._ceil = spec.ceiling
        self._los: deque = deque(maxlen=max(spec.reps, 1))  # start-side turning points, oriented
        self._his: deque = deque(maxlen=max(spec.reps, 1))  # far-side turning points
        self._spikes: deque = deque()  # (t, x) of the last SPIKE_S seconds
        self._small = _SmallTurns(RELEARN_TURNS)
        self.reset()

    def reset(self) -> None:
        self._los.clear()
        self._his.clear()
        self._lo: float | None = None  # the start position, oriented so that far is +
        self._span = self._floor
        self._spikes.clear()
        self._ext = None  # the extreme since the last turning point ((low, high) before the first)
        self._rising: bool | None = None  # heading far (True), back (False), unknown (None)
        self._small.reset()
        #: how many times a stale travel was re-learnt from a rhythm of smaller turning points
        self.relearnt = 0
        #: when the rhythm the travel was last re-learnt from began (seconds; None: never)
        self.relearnt_since: float | None = None

    def forget_recent(self) -> None:
        """Forget the values of the last SPIKE_S seconds (what the turning points are read from):
        a copy that replays older poses (`hiitpi.referee.machine`) starts that window afresh."""
        self._spikes.clear()

    @property
    def rest(self) -> float | None:
        """The person's start position, in feature units (None before the first value)."""
        return None if self._lo is None else self._lo * self._sign

    @property
    def travel(self) -> float:
        """The travel thresholds are scaled to, in feature units (clamped to the floor/ceiling)."""
        return self._span

    def update(self, v: float, t: float, learn: bool = True) -> float | None:
        """Where ``v`` (at time ``t``) sits on the person's travel; with ``learn`` it also looks for a
        turning point. None until something has been learnt."""
        x = v * self._sign
        if learn:
            # learn from the median of the last SPIKE_S seconds: a one- or two-frame glitch is
            # not a turning point
            recent = self._spikes
            recent.append((t, x))
            while recent[0][0] < t - SPIKE_S:
                recent.popleft()
            m = x if len(recent) < 3 else _median([r[1] for r in recent])
            self._watch(m, t, self._learn(m))
        if self._lo is None:
            return None
        return (x - self._lo) / self._span

    def _learn(self, x: float) -> bool:
        """Follow the value; True when it confirmed a turning point."""
        ext = self._ext
        if ext is None:
            self._ext = (x, x)
            self._lo = x
            return False
        turn = TURN * self._span
        rising = self._rising
        if rising is None:
            # no turning point yet: the lowest and highest values so far, until it turns
            lo, hi = min(ext[0], x), max(ext[1], x)
            if x > lo + turn and hi - x < turn:
                self._turn(lo, False)
                self._rising, self._ext = True, x
                return True
            if x < hi - turn and x - lo < turn:
                self._turn(hi, True)
                self._rising, self._ext = False, x
                return True
            self._ext = (lo, hi)
            return False
        if rising:
            if x > ext:
                self._ext = x
            elif x < ext - turn:
                self._turn(ext, True)
                self._rising, self._ext = False, x
                return True
        elif x < ext:
            self._ext = x
        elif x > ext + turn:
            self._turn(ext, False)
            self._rising, self._ext = True, x
            return True
        return False

    def _watch(self, x: float, t: float, turned: bool) -> None:
        """Smaller turning points since the last confirmed one: in a rhythm, the travel is stale."""
        small = self._small
        small.update(x, t, TURN * self._floor)
        if turned:
            small.points.clear()
            return
        if len(small.points) < RELEARN_TURNS or not small.rhythmic():
            return
        ts = [t for _, far, t in small.points if far]
        # the rhythm began half a period before its first turning point was seen
        self.relearnt_since = small.points[0][2] - 0.5 * (ts[-1] - ts[0]) / (len(ts) - 1)
        los = [v for v, far, _ in small.points if not far]
        his = [v for v, far, _ in small.points if far]
        self._los.clear()
        self._his.clear()
        self._los.extend(los)  # the deques keep the last `reps` of each
        self._his.extend(his)
        self._update_travel()
        # follow on from where the small turning points are
        self._rising, self._ext = small.rising, small.ext
        small.points.clear()
        self.relearnt += 1

    def _turn(self, value: float, far: bool) -> None:
        (self._his if far else self._los).append(value)
        self._update_travel()

    def _update_travel(self) -> None:
        los, his = self._los, self._his
        lo = _median(los) if los else None
        hi = _median(his) if his else None
        if lo is None:
            lo = hi - self._floor
        if hi is None:
            hi = lo + self._floor
        span = hi - lo
        self._span = self._floor if span < self._floor else self._ceil if span > self._ceil else span
        self._lo = lo
