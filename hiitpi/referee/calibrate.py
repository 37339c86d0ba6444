"""Per-person calibration: a feature expressed as the share of the person's own travel.

A rule's thresholds in degrees or torso lengths fit the people and cameras they were tuned on.
A feature with ``calibrate`` is instead measured in *travel units*: 0 where this person's start
position is (standing tall, arms locked out), 1 where their far position is (the bottom of their
squats), so a state can say "down at 70 % of the way" and mean the same thing for a deep and a
shallow squatter, seen from the side or foreshortened from the front.

The two positions are the feature's extremes, tracked as the set goes on: each rises (or falls)
at once to a new extreme that lasts at least ``spike_s`` (a one-frame glitch does not move it),
and otherwise drifts toward the current value with ``half_life_s``, so a person who tires, or a
camera that moves, is followed within a few reps. The travel between them is clamped to
``min_travel``..``max_travel`` (feature units) from the rules file: a lazy first rep cannot lower
the bar below the physical floor, and a very deep person is never asked for more than the
ceiling. Every time constant is in seconds, so 30 and 60 fps count alike.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CalibrateSpec:
    """How a feature calibrates: the nominal positions (which way is "far") and the travel limits."""

    #: where the movement starts and where it goes, in the feature's units: only the direction
    #: (far above or below start) and the nominal travel |far - start| are used
    start: float
    far: float
    #: the travel (feature units) thresholds are scaled to never goes below this: the physical
    #: floor; default half the nominal travel
    min_travel: float | None = None
    #: ... nor above this (the ceiling); default the nominal travel times 1.5
    max_travel: float | None = None
    half_life_s: float = 20.0
    #: an extreme must hold this long to move the person's range (spike rejection)
    spike_s: float = 0.1

    @property
    def nominal(self) -> float:
        return abs(self.far - self.start)

    @property
    def floor(self) -> float:
        return self.min_travel if self.min_travel is not None else 0.5 * self.nominal

    @property
    def ceiling(self) -> float:
        return self.max_travel if self.max_travel is not None else 1.5 * self.nominal


class Calibrator:
    """``update(v, t)`` returns where ``v`` sits on the person's travel (0 start, 1 far)."""

    __slots__ = ("_ceil", "_floor", "_half", "_hi", "_hiq", "_lo", "_loq", "_sign", "_spike", "_t", "spec")

    def __init__(self, spec: CalibrateSpec):
        self.spec = spec
        self._sign = 1.0 if spec.far >= spec.start else -1.0
        self._floor = spec.floor
        self._ceil = max(spec.ceiling, self._floor)
        self._half = spec.half_life_s
        self._spike = spec.spike_s
        self._hiq: deque = deque()  # (t, x) with increasing x: the window's minimum in front
        self._loq: deque = deque()  # (t, x) with decreasing x: the window's maximum in front
        self.reset()

    def reset(self) -> None:
        self._lo: float | None = None  # the start-side extreme, oriented (far is +)
        self._hi: float | None = None  # the far-side extreme
        self._t = 0.0
        self._hiq.clear()
        self._loq.clear()

    @property
    def rest(self) -> float | None:
        """The person's start position, in feature units (None before the first value)."""
        return None if self._lo is None else self._lo * self._sign

    @property
    def travel(self) -> float | None:
        """The travel thresholds are scaled to, in feature units (clamped to the floor/ceiling)."""
        if self._lo is None:
            return None
        span = self._hi - self._lo
        return self._floor if span < self._floor else self._ceil if span > self._ceil else span

    def update(self, v: float, t: float) -> float:
        x = v * self._sign
        # sustained values over the last spike_s: a new extreme must last that long
        hq = self._hiq
        while hq and hq[-1][1] >= x:
            hq.pop()
        hq.append((t, x))
        lq = self._loq
        while lq and lq[-1][1] <= x:
            lq.pop()
        lq.append((t, x))
        cut = t - self._spike
        while hq[0][0] < cut:
            hq.popleft()
        while lq[0][0] < cut:
            lq.popleft()
        high = hq[0][1]  # the lowest value of the window: the far side held this long
        low = lq[0][1]
        hi, lo = self._hi, self._lo
        if hi is None:
            hi = high
            lo = low
        else:
            dt = t - self._t
            k = 1.0 - math.pow(0.5, dt / self._half) if dt > 0.0 else 0.0
            hi = high if high > hi else hi - (hi - high) * k
            lo = low if low < lo else lo + (low - lo) * k
        self._hi, self._lo, self._t = hi, lo, t
        span = hi - lo
        travel = self._floor if span < self._floor else self._ceil if span > self._ceil else span
        return (x - lo) / travel
