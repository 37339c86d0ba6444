"""The referee: one state machine per active workout, fed one `Pose` at a time.

Each pose: features are measured in pixels, the first state whose conditions all hold is the
*candidate*, and it becomes the current state once it has held for the state's minimum dwell
time (so one noisy frame never changes state). Because states are separate threshold regions
(the rules loader rejects overlapping ones) a value between them keeps the current state:
that gap is the hysteresis.

A rep is a *cycle*: it starts when the pose leaves the rule's start state and ends when the
start state is entered again. If the cycle passed through the rule's sequence of states, in
order, it is a rep — unless a form check failed, which makes it a no-rep with the check's reason.
A cycle that only reached the rule's ``partial`` threshold is a no-rep ("not low enough"); one
that reached neither was noise. A cycle longer than ``max_s``, or a person lost for longer than
``max_gap_s``, resets the half-done rep. Work per pose is constant: nothing grows with the
session.
"""

from __future__ import annotations

import logging
import math

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent
from hiitpi.referee.features import BodyScale, Feature
from hiitpi.referee.pace import PaceMeter
from hiitpi.referee.rules import Rule

log = logging.getLogger(__name__)

_INF = math.inf


class _Check:
    __slots__ = (
        "bad_frames", "during", "extreme", "fi", "hi", "lo", "min_frames", "reach_above", "reach_below",
        "reported", "spec", "violated",
    )  # fmt: skip

    def __init__(self, spec, fi: int):
        self.spec = spec
        self.fi = fi
        self.lo = spec.min if spec.min is not None else -_INF
        self.hi = spec.max if spec.max is not None else _INF
        self.during = frozenset(spec.during)
        # read on every pose: slots are faster to read than the spec's fields
        self.reach_above = spec.reach_above
        self.reach_below = spec.reach_below
        self.min_frames = spec.min_frames
        self.reset()

    def reset(self) -> None:
        self.bad_frames = 0
        self.violated = False
        self.reported = False
        self.extreme = None


class Referee:
    """Counts one workout. ``update(pose)`` returns the events that pose caused."""

    def __init__(self, rule: Rule, pace_window_s: float = 20.0):
        self.rule = rule
        self.name = rule.name
        self._children: list[Referee] = []
        if rule.rep is not None and rule.rep.each_side:
            self._children = [Referee(_one_side(rule, side), pace_window_s) for side in ("left", "right")]
        self._scale = BodyScale(rule.min_score)
        self._features = [Feature(spec, rule.min_score) for spec in rule.features.values()]
        self._fidx = {f.spec.name: i for i, f in enumerate(self._features)}
        self.values: list[float | None] = [None] * len(self._features)
        self._states = [
            (
                s.name,
                tuple(
                    (
                        self._fidx[c.feature],
                        -_INF if c.above is None else c.above,
                        _INF if c.below is None else c.below,
                        c.or_missing,
                    )
                    for c in s.when
                ),
                rule.min_dwell_s if s.min_dwell_s is None else s.min_dwell_s,
                tuple(
                    (
                        self._fidx[c.feature],
                        -_INF if c.above is None else c.above,
                        _INF if c.below is None else c.below,
                    )
                    for c in s.any
                ),
            )
            for s in rule.states
        ]
        self._dwell = {name: dwell for name, _, dwell, _ in self._states}
        self._state_features = sorted(
            {fi for _, conds, _, anys in self._states for fi, *_ in (*conds, *anys)}
        )
        self._checks = [_Check(c, self._fidx[c.feature]) for c in rule.checks]
        rep = rule.rep
        self._start = rep.start if rep else None
        self._seq = rep.sequence if rep else ()
        self._partial = tuple(
            (
                self._fidx[c.feature],
                -_INF if c.above is None else c.above,
                _INF if c.below is None else c.below,
            )
            for c in (rep.partial if rep else ())
        )
        if rep and rep.rom:
            self._rom = (self._fidx[rep.rom.feature], rep.rom.start, rep.rom.full)
        elif rep:
            # no rom given: time the split on the first condition of the first sequence state
            first = (*rule.state(rep.sequence[0]).when, *rule.state(rep.sequence[0]).any)[0]
            full = first.below if first.below is not None else first.above
            start_state = rule.state(rep.start)
            sc = next((c for c in (*start_state.when, *start_state.any) if c.feature == first.feature), None)
            start = (sc.above if sc and sc.above is not None else sc.below) if sc else None
            self._rom = (self._fidx[first.feature], start, full) if start is not None else None
        else:
            self._rom = None
        self._peak_tol = 0.02 * abs(self._rom[2] - self._rom[1]) if self._rom is not None else 0.0
        self._hold = rule.hold
        self._max_s = rep.max_s if rep else _INF  # read on every pose: kept out of the spec
        self._max_gap_s = rule.max_gap_s
        # only the features something reads are measured
        used = rule.features_read()
        if self._rom is not None:
            used.add(self._features[self._rom[0]].spec.name)
        self._active = [(i, f) for i, f in enumerate(self._features) if f.spec.name in used]
        self._wh: tuple[int, int] | None = None
        self._whs = None
        self.pace_meter = PaceMeter(pace_window_s)
        self.reset()

    # ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (a new set, a new clip)."""
        self.count = 0
        self.no_reps = 0
        self.state: str | None = None
        self.hold_s = 0.0
        self.last_t: float | None = None
        self.last_side: str | None = None
        self._cand: str | None = None
        self._cand_since = 0.0
        self._armed = False
        self._t_last_start = None
        self._missing_since: float | None = None
        self._t_origin = 0.0
        self._fresh = True  # nothing committed yet since reset(): a first sight mid-rep may count
        self._start_glimpsed = False
        self._hold_ticks = 0
        self.pace_meter.reset()
        for child in getattr(self, "_children", ()):
            child.reset()
        for f in self._features:
            f.reset()
        self._reset_cycle()

    def _reset_cycle(self) -> None:
        self._in_cycle = False
        self._t_cycle = 0.0
        self._seq_pos = 0
        self._partial_hit = False
        self._peak: float | None = None
        self._t_peak = 0.0
        self._t_peak_last = 0.0
        self._peak_side: str | None = None
        for c in self._checks:
            c.reset()

    # ----------------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """The current state's name ('-' before the first state is reached)."""
        return self.state or "-"

    @property
    def pace(self) -> float:
        """Reps per minute over the pace window, at the time of the latest pose."""
        return 0.0 if self.last_t is None else self.pace_meter.rate(self.last_t)

    def pace_at(self, now: float) -> float:
        return self.pace_meter.rate(now)

    def feature_values(self) -> dict[str, float | None]:
        return {f.spec.name: v for f, v in zip(self._features, self.values, strict=True)}

    def snapshot(self) -> dict:
        """What the live view shows."""
        return {
            "workout": self.name,
            "count": self.count,
            "no_reps": self.no_reps,
            "phase": self.phase,
            "pace": round(self.pace, 2),
            "hold_s": round(self.hold_s, 2),
        }

    # ----------------------------------------------------------------------------------------
    def update(self, pose: Pose | None, timestamp: float | None = None) -> list[RefEvent]:
        """Feed one pose (None: nobody seen this frame). Returns the events it caused."""
        t = pose.timestamp if pose is not None else timestamp
        if t is None:
            return []
        px = None
        if pose is not None:
            wh = (pose.width, pose.height)
            if wh != self._wh:
                self._wh = wh
                self._whs = np.array([pose.width, pose.height, 1.0], dtype=np.float32)
            px = (pose.keypoints * self._whs).tolist()
        if self._children:
            return self._update_sides(px, t)
        return self._step(px, t)

    def _step(self, px: list | None, t: float) -> list[RefEvent]:
        """One pose as pixel keypoints [[x, y, score] * 17] (None: nobody seen)."""
        events: list[RefEvent] = []
        if self.last_t is None:
            self._t_origin = t
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        self.pace_meter.seen(t)
        values = self.values
        if px is None:
            for i in range(len(values)):
                values[i] = None
        else:
            scale = self._scale
            scale.update(px)
            for i, f in self._active:
                values[i] = f.compute(px, scale, t)

        # which state do the features say?
        match = None
        for name, conds, _dwell, anys in self._states:
            for fi, lo, hi, or_missing in conds:
                v = values[fi]
                if v is None:
                    if or_missing:
                        continue
                    break
                if not (lo < v < hi):
                    break
            else:
                if anys:
                    for fi, lo, hi in anys:
                        v = values[fi]
                        if v is not None and lo < v < hi:
                            break
                    else:
                        continue
                match = name
                break

        # occlusion: a short gap holds the state; a long one resets the half-done rep
        if match is None and any(values[fi] is None for fi in self._state_features):
            if self._missing_since is None:
                self._missing_since = t
            elif t - self._missing_since > self._max_gap_s and (self._armed or self.state):
                log.debug("%s: person lost for %.1fs, resetting", self.name, t - self._missing_since)
                self._armed = False
                self.state = None
                self._cand = None
                self._t_origin = t
                self._reset_cycle()
        else:
            self._missing_since = None

        if match != self._cand:
            self._cand = match
            self._cand_since = t
        if self._hold is not None:
            return self._update_hold(t, dt, match, values, events)

        start = self._start
        if match == start and match is not None:
            self._t_last_start = t
            self._start_glimpsed = True
        elif self._armed and not self._in_cycle and self.state == start:
            # left the start position: a cycle begins
            self._in_cycle = True
            self._t_cycle = self._t_last_start if self._t_last_start is not None else t

        if self._in_cycle:
            self._track_cycle(t, values, events)

        if (
            match is not None
            and (match != self.state or (self._in_cycle and match == start))
            and t - self._cand_since >= self._dwell[match] - 1e-9
        ):
            self._commit(match, t, events)

        if self._in_cycle and t - self._t_cycle > self._max_s:
            log.debug("%s: rep timed out after %.1fs", self.name, t - self._t_cycle)
            self._reset_cycle()
            self._armed = False
        return events

    def _track_cycle(self, t: float, values: list, events: list[RefEvent]) -> None:
        if self._partial and not self._partial_hit:
            for fi, lo, hi in self._partial:
                v = values[fi]
                if v is not None and lo < v < hi:
                    self._partial_hit = True
        rom = self._rom
        if rom is not None:
            v = values[rom[0]]
            if v is not None:
                p = self._peak
                if p is None or (v > p if rom[2] > rom[1] else v < p):
                    if p is None or abs(v - p) > self._peak_tol:
                        self._t_peak = t  # a new extreme: the eccentric phase ends here
                    self._peak = v
                    self._t_peak_last = t
                    self._peak_side = self._features[rom[0]].side
                elif abs(v - p) <= self._peak_tol:
                    self._t_peak_last = t  # still at the bottom: a pause, not yet concentric
        state = self.state
        for c in self._checks:
            if c.during and state not in c.during:
                continue
            v = values[c.fi]
            if v is None:
                continue
            if c.reach_above is not None or c.reach_below is not None:
                e = c.extreme
                if c.reach_above is not None:
                    c.extreme = v if e is None or v > e else e
                else:
                    c.extreme = v if e is None or v < e else e
            if c.lo < v < c.hi:
                c.bad_frames = 0
                continue
            if c.lo == -_INF and c.hi == _INF:
                continue
            c.bad_frames += 1
            if c.bad_frames >= c.min_frames and not c.violated:
                spec = c.spec
                c.violated = True
                if spec.action == "fault" and not c.reported:
                    c.reported = True
                    events.append(RefEvent("fault", self.name, t, t, self.count, reason=spec.reason))

    def _commit(self, name: str, t: float, events: list[RefEvent]) -> None:
        prev = self.state
        self.state = name
        fresh = self._fresh
        self._fresh = False
        if (
            prev is None
            and fresh
            and self._start_glimpsed
            and not self._armed
            and self._seq
            and name == self._seq[0]
        ):
            # the start position was glimpsed (too briefly to dwell) and the person is already
            # mid-rep (a clip or camera that starts late): the rep counts when they are back
            self._armed = True
            self._in_cycle = True
            self._t_cycle = self._t_origin
        if name == self._start:
            if self._armed and self._in_cycle:
                self._finish_cycle(t, events)
            self._reset_cycle()
            self._armed = True
            self._t_last_start = t
            return
        if self._armed:
            if not self._in_cycle:
                self._in_cycle = True
                self._t_cycle = self._t_last_start if self._t_last_start is not None else t
            seq = self._seq
            if self._seq_pos < len(seq) and seq[self._seq_pos] == name:
                self._seq_pos += 1

    def _finish_cycle(self, t_end: float, events: list[RefEvent]) -> None:
        rep = self.rule.rep
        t0 = self._t_cycle
        complete = self._seq_pos >= len(self._seq)
        if not complete:
            if self._partial_hit:
                self.no_reps += 1
                events.append(RefEvent("no_rep", self.name, t0, t_end, self.count, reason=rep.partial_reason))
            return
        if t_end - t0 < rep.min_s:
            log.debug("%s: cycle of %.2fs is shorter than min_s, ignored", self.name, t_end - t0)
            return
        reason = None
        for c in self._checks:
            s = c.spec
            if s.action != "no_rep":
                continue
            if c.violated:
                reason = s.reason
                break
            if s.reach_above is not None and (c.extreme is None or c.extreme <= s.reach_above):
                reason = s.reason
                break
            if s.reach_below is not None and (c.extreme is None or c.extreme >= s.reach_below):
                reason = s.reason
                break
        rom_val = None
        ecc = con = pause = None
        if self._rom is not None and self._peak is not None:
            _, r0, r1 = self._rom
            rom_val = max(0.0, min(1.0, (self._peak - r0) / (r1 - r0)))
            t_peak = min(max(self._t_peak, t0), t_end)
            t_last = min(max(self._t_peak_last, t_peak), t_end)
            ecc = round(t_peak - t0, 3)
            con = round(t_end - t_last, 3)
            pause = round(t_last - t_peak, 3)
        side = self._peak_side
        if reason is not None:
            self.no_reps += 1
            events.append(
                RefEvent(
                    "no_rep", self.name, t0, t_end, self.count, ecc, con, rom_val, reason=reason, side=side
                )
            )
            return
        self.count += 1
        self.pace_meter.add(t_end)
        if rep.alternate and side is not None and side == self.last_side:
            events.append(
                RefEvent(
                    "fault", self.name, t0, t_end, self.count, reason="same side twice: alternate", side=side
                )
            )
        self.last_side = side
        extra = {"pause_s": pause} if pause else {}
        events.append(
            RefEvent("rep", self.name, t0, t_end, self.count, ecc, con, rom_val, side=side, extra=extra)
        )

    # ----------------------------------------------------------------------------------------
    def _update_hold(
        self, t: float, dt: float, match: str | None, values: list, events: list[RefEvent]
    ) -> list[RefEvent]:
        hold = self._hold
        if match is not None and match != self.state and t - self._cand_since >= self._dwell_of(match) - 1e-9:
            self.state = match
            for c in self._checks:
                c.reset()
        if self.state is None:
            return events
        if self._missing_since is not None and match is None:
            # nobody measurable: the clock does not run
            return events
        in_hold = self.state == hold.state
        faulted = False
        for c in self._checks:
            if c.during and self.state not in c.during:
                continue
            v = values[c.fi]
            if v is None:
                continue
            if c.lo < v < c.hi:
                c.bad_frames = 0
                if c.violated:
                    c.violated = False
                    c.reported = False
                continue
            c.bad_frames += 1
            if c.bad_frames >= c.min_frames:
                c.violated = True
                if in_hold and not c.reported:
                    c.reported = True
                    events.append(
                        RefEvent(
                            "fault", self.name, t, t, 0, reason=c.spec.reason, hold_s=round(self.hold_s, 3)
                        )
                    )
            if c.violated:
                faulted = True
        if in_hold and match == hold.state and not faulted and dt > 0.0:
            self.hold_s += min(dt, 0.5)  # a stalled camera is not time held
            ticks = int(self.hold_s / hold.tick_s + 1e-9)
            if ticks > self._hold_ticks:
                self._hold_ticks = ticks
                events.append(RefEvent("hold_tick", self.name, t, t, 0, hold_s=round(self.hold_s, 3)))
        return events

    def _update_sides(self, px: list | None, t: float) -> list[RefEvent]:
        """One machine per side; their reps are merged into one running count."""
        self.last_t = t
        self.pace_meter.seen(t)
        events: list[RefEvent] = []
        for child in self._children:
            for ev in child._step(px, t):
                if ev.kind == "rep":
                    self.count += 1
                    self.pace_meter.add(ev.t_end)
                    if self.rule.rep.alternate and ev.side is not None and ev.side == self.last_side:
                        events.append(
                            RefEvent(
                                "fault",
                                self.name,
                                ev.t_start,
                                ev.t_end,
                                self.count,
                                reason="same side twice: alternate",
                                side=ev.side,
                            )
                        )
                    self.last_side = ev.side
                elif ev.kind == "no_rep":
                    self.no_reps += 1
                ev.count = self.count
                events.append(ev)
        states = [c.state for c in self._children]
        active = [s for s in states if s is not None and s != self._start]
        self.state = active[0] if active else next((s for s in states if s is not None), None)
        return events

    def _dwell_of(self, name: str) -> float:
        return self._dwell[name]


def _one_side(rule: Rule, side: str) -> Rule:
    """The rule with every side-less feature pinned to one side, for per-side counting."""
    features = {
        name: spec.model_copy(update={"side": side}) if spec.sided else spec
        for name, spec in rule.features.items()
    }
    rep = rule.rep.model_copy(update={"each_side": False, "alternate": False})
    return rule.model_copy(update={"features": features, "rep": rep})
