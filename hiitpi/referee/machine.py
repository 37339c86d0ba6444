"""The referee: one state machine per active workout, fed one `Pose` at a time.

Each pose: the camera view is read from the body (`hiitpi.referee.view`), features are measured
in pixels (a calibrated feature in the person's own travel units, `hiitpi.referee.calibrate`), and
of the states whose conditions hold on the features valid in this view, the one held by the
largest margin is the *candidate* (never simply the first listed: two states that both hold are
decided by how far inside each the body is). The candidate becomes the current state once it has
held for the state's minimum dwell time, so one noisy frame never changes state; a value between
two states keeps the current one: that gap is the hysteresis.

A rep is a *cycle*: it starts when the pose leaves the rule's start state and ends when the
start state is entered again. If the cycle passed through the rule's sequence of states, in
order, it is a full rep — unless a form check failed (a mark it never reached, a limit it broke).
A cycle that only reached the rule's ``partial`` threshold is short. What happens to short and
failed cycles is the counting convention: ``judge`` (the default) calls them no-reps with the
reason; ``attempts`` counts them too and marks them with a fault event carrying the reason (a
short cycle once a full rep follows it: getting ready and fidgeting after the set are not
attempts). ``count`` is the convention's number, ``attempts`` every attempted cycle in both.
A cycle no longer than ``min_s`` is noise (at any point of the clock); one that has not reached its far position within
``max_s``, or a person lost for longer than ``max_gap_s``, resets the half-done rep (the far
position itself may be held as long as the person likes). `finish` ends a set: judging, a rep on
its way back from the far position when the clip or interval ends counts (its full range was shown);
counting attempts, a cycle counts only once back at its start, as data labelled by cycles (a start
and an end each) count them. When a stale travel is re-learnt from the set's rhythm
(`hiitpi.referee.calibrate`), the rhythm's cycles, measured on the old travel, are measured again
on the new one (`_recount`) and those never called count late. Work per pose is constant (the
measuring again is bounded by RECOUNT_S) and every time constant is in seconds, so the frame rate
does not matter.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
from collections import deque

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent
from hiitpi.referee.features import COMBINED_TYPES, BodyScale, Feature, make_feature
from hiitpi.referee.orientation import Orientation
from hiitpi.referee.pace import PaceMeter
from hiitpi.referee.rules import Rule
from hiitpi.referee.view import VIEWS, ViewDetector

log = logging.getLogger(__name__)

_INF = math.inf
#: one machine per side: a side's rep reaching the far position within this share of a rep of the
#: other side's is the same lift seen on both legs (the pose model put both on the one that moved)
SAME_LIFT_SHARE = 0.25
#: how far back (seconds) the poses are kept to be measured again when a stale travel is re-learnt:
#: the four cycles of a rhythm at a rep every 3 s (a slower rhythm is not measured again)
RECOUNT_S = 12.0
#: the sides of a rule counted one machine per side (``each_side``), in the order of its machines
SIDES = ("left", "right")

#: the counting conventions: "judge" counts full reps, "attempts" every attempted cycle
COUNTING: tuple[str, ...] = ("judge", "attempts")


class _Check:
    __slots__ = (
        "bad_since", "during", "extreme", "fi", "hi", "lo", "min_s", "reach_above", "reach_below", "reported",
        "spec", "violated",
    )  # fmt: skip

    def __init__(self, spec, fi: int):
        self.spec = spec
        self.fi = fi
        self.lo = spec.min if spec.min is not None else -_INF
        self.hi = spec.max if spec.max is not None else _INF
        self.during = frozenset(spec.during)
        # read on every pose: slots are faster to read than the spec's fields
        self.min_s = spec.min_s
        self.reach_above = spec.reach_above
        self.reach_below = spec.reach_below
        self.reset()

    def reset(self) -> None:
        self.bad_since: float | None = None
        self.violated = False
        self.reported = False
        self.extreme = None

    def bad(self, t: float) -> bool:
        """The value is outside the limits at ``t``: True once that has lasted ``min_s``."""
        if self.bad_since is None:
            self.bad_since = t
        return t - self.bad_since >= self.min_s - 1e-9


@dataclasses.dataclass(frozen=True, slots=True)
class _Table:
    """What decides in one camera view: states and checks on the features valid there."""

    states: tuple  # (name, when conditions, dwell, any conditions)
    checks: tuple[_Check, ...]
    state_features: tuple[int, ...]


class Referee:
    """Counts one workout. ``update(pose)`` returns the events that pose caused.

    ``counting`` is "judge" or "attempts" (see the module doc). Read by the engine: ``count``,
    ``attempts``, ``no_reps``, ``phase``, ``pace``, ``hold_s``, ``view`` (the camera view read
    from the body, or None), ``last_t``; ``finish()`` at the end of a set, ``reset()`` for a new one.
    """

    def __init__(self, rule: Rule, pace_window_s: float = 20.0, counting: str = "judge"):
        if counting not in COUNTING:
            raise ValueError(f"counting must be one of {', '.join(COUNTING)}, not {counting!r}")
        self.rule = rule
        self.name = rule.name
        self.counting = counting
        self._children: list[Referee] = []
        if rule.rep is not None and rule.rep.each_side:
            self._children = [Referee(_one_side(rule, side), pace_window_s, counting) for side in SIDES]
        self._scale = BodyScale(rule.min_score)
        self._features = [make_feature(spec, rule.min_score) for spec in rule.features.values()]
        self._fidx = {f.spec.name: i for i, f in enumerate(self._features)}
        self.values: list[float | None] = [None] * len(self._features)
        self._all_checks = [_Check(c, self._fidx[c.feature]) for c in rule.checks]
        #: the picture's turn read from the body (`hiitpi.referee.orientation`), and the events held
        #: back while it may be turned
        self._orient = Orientation(rule.up_cue, rule.min_score) if rule.up_cue != "none" else None
        self._held: list[RefEvent] = []
        viewed = any(f.spec.views for f in self._features)
        self._viewer = ViewDetector(rule.min_score) if viewed else None
        self._tables = {v: self._table(v) for v in ((None, *VIEWS) if viewed else (None,))}
        self._dwell = {
            s.name: rule.min_dwell_s if s.min_dwell_s is None else s.min_dwell_s for s in rule.states
        }
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
        # alternating reps read off one feature on both sides: it says which sides could be seen
        alt = self._features[self._rom[0]] if self._rom is not None and rep and rep.alternate else None
        self._alt = alt if isinstance(alt, Feature) and alt.two_sided else None
        self._hold = rule.hold
        self._max_s = rep.max_s if rep else _INF  # read on every pose: kept out of the spec
        self._max_gap_s = rule.max_gap_s
        # only the features something reads are measured
        used = rule.features_read()
        if self._rom is not None:
            used.add(self._features[self._rom[0]].spec.name)
        for f in self._features:
            if f.spec.name in used:
                used |= set(f.spec.of)
                if f.spec.fallback:
                    used.add(f.spec.fallback)
        self._active = [
            (i, f)
            for i, f in enumerate(self._features)
            if f.spec.name in used and f.spec.type not in COMBINED_TYPES
        ]
        self._cals = [(i, f.calibrator) for i, f in self._active if f.calibrator is not None]
        #: (feature, the feature that stands in for it when it cannot be measured)
        self._fallbacks = [
            (i, self._fidx[f.spec.fallback]) for i, f in self._active if f.spec.fallback in self._fidx
        ]
        # physical plausibility: a raw value outside its feature's range makes the pose a glitch
        self._plausible = [
            (
                i,
                -_INF if f.spec.plausible_min is None else f.spec.plausible_min,
                _INF if f.spec.plausible_max is None else f.spec.plausible_max,
            )
            for i, f in self._active
            if f.spec.plausible_min is not None or f.spec.plausible_max is not None
        ]
        #: poses dropped as physically implausible (a pose-model glitch) since the last reset
        self.glitches = 0  # set again by reset()
        calibrated = {self._features[i].spec.name for i, _ in self._cals}
        calibrated |= {f.spec.name for f in self._features if f.spec.type in COMBINED_TYPES}
        # the exercise's posture in each view: the uncalibrated `when` conditions of every state, on
        # the features valid in that view (a torso tilt seen from above does not say "plank")
        self._postures = {
            view: tuple(
                tuple(
                    (
                        self._fidx[c.feature],
                        -_INF if c.above is None else c.above,
                        _INF if c.below is None else c.below,
                    )
                    for c in s.when
                    if c.feature not in calibrated
                    and self._features[self._fidx[c.feature]].spec.valid_in(view)
                )
                for s in rule.states
            )
            for view in self._tables
        }
        # combined features, with the inputs valid in each view
        self._means = {
            view: tuple(
                (
                    i,
                    tuple(
                        self._fidx[n] for n in f.spec.of if self._features[self._fidx[n]].spec.valid_in(view)
                    ),
                )
                for i, f in enumerate(self._features)
                if f.spec.type in COMBINED_TYPES and f.spec.name in used
            )
            for view in self._tables
        }
        self._wh: tuple[int, int] | None = None
        self._whs = None
        self.pace_meter = PaceMeter(pace_window_s)
        #: a copy measuring poses again (see `_recount`) emits nothing of its own accord
        self._recounting = False
        #: scores each rep against a recorded reference (`hiitpi.referee.similarity.attach_scorer`)
        self.scorer = None
        self.reset()

    def _table(self, view: str | None) -> _Table:
        """States and checks with only the features valid in ``view``.

        A condition on a feature the view cannot see is left out; a state all of whose ``when``
        conditions, or all of whose ``any`` conditions, are left out cannot be told in that view.
        """
        feats = self._features

        def ok(c) -> bool:
            return feats[self._fidx[c.feature]].spec.valid_in(view)

        def compiled(c, with_missing: bool) -> tuple:
            f = feats[self._fidx[c.feature]]
            lo = -_INF if c.above is None else c.above
            hi = _INF if c.below is None else c.below
            unit = f.spec.unit
            return (
                (self._fidx[c.feature], lo, hi, c.or_missing, unit)
                if with_missing
                else (self._fidx[c.feature], lo, hi, unit)
            )

        states = []
        for s in self.rule.states:
            when = [c for c in s.when if ok(c)]
            anys = [c for c in s.any if ok(c)]
            if (s.when and not when and not s.any) or (s.any and not anys):
                continue
            dwell = self.rule.min_dwell_s if s.min_dwell_s is None else s.min_dwell_s
            states.append(
                (
                    s.name,
                    tuple(compiled(c, True) for c in when),
                    dwell,
                    tuple(compiled(c, False) for c in anys),
                )
            )
        checks = tuple(c for c in self._all_checks if feats[c.fi].spec.valid_in(view))
        used = sorted({c[0] for _, conds, _, anys in states for c in (*conds, *anys)})
        return _Table(tuple(states), checks, tuple(used))

    # ----------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Forget everything (a new set, a new clip)."""
        self.count = 0
        self.glitches = 0
        self.no_reps = 0
        self.attempts = 0
        self._full = 0  # full reps (in both conventions)
        self._pending: list[tuple[float, float, str]] = []  # attempts: short cycles awaiting a full rep
        self.state: str | None = None
        self.view: str | None = None
        self.hold_s = 0.0
        self.last_t: float | None = None
        self.last_side: str | None = None
        #: each side's last rep (one machine per side): when it reached the far position, how long it took
        self._side_far: dict[str, tuple[float, float]] = {}
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
        if self.scorer is not None:
            self.scorer.reset()
        for child in getattr(self, "_children", ()):
            child.reset()
        for f in self._features:
            f.reset()
        if self._viewer is not None:
            self._viewer.reset()
        if self._orient is not None:
            self._orient.reset()
        self._held = []
        #: what the recent poses measured ((values, view, t), RECOUNT_S) and the cycles called
        #: ((t_start, t_end)), for `_recount`
        self._recent: deque = deque()
        self._called: deque = deque()
        self._relearnt_seen = 0
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
        for c in self._all_checks:
            c.reset()

    # ----------------------------------------------------------------------------------------
    @property
    def phase(self) -> str:
        """The current state's name ('-' before the first state is reached)."""
        return self.state or "-"

    @property
    def turn(self) -> int:
        """Where the body's up points in the picture, read from the body (0: upright or not read)."""
        return 0 if self._orient is None else self._orient.turn

    @property
    def turn_read(self) -> bool:
        """The set's picture turn has been read (`turn` says which)."""
        return self._orient is not None and self._orient.decided

    @property
    def pace(self) -> float:
        """Reps per minute over the pace window, at the time of the latest pose."""
        return 0.0 if self.last_t is None else self.pace_meter.rate(self.last_t)

    def feature_values(self) -> dict[str, float | None]:
        return {f.spec.name: v for f, v in zip(self._features, self.values, strict=True)}

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
        if self._orient is not None:
            turn = self._orient.turn
            px, replay = self._orient.update(px, t, *(self._wh or (0, 0)))
            if self._orient.turn != turn:
                log.debug(
                    "%s: the picture reads as turned %d° (from the body); measuring it upright",
                    self.name,
                    self._orient.turn,
                )
            if replay is not None:
                self._held.clear()  # measured sideways: the set is measured again instead
                return self._measure_again(replay)
            events = self._feed(px, t)
            if self._orient.leaning:
                # the picture may be turned: what the sideways reading counts is held back until the
                # turn is read (then measured again) or the picture is read upright (then let go)
                self._held.extend(events)
                return []
            if self._held:
                events, self._held = [*self._held, *events], []
            return events
        return self._feed(px, t)

    def _feed(self, px: list | None, t: float) -> list[RefEvent]:
        events = self._update_sides(px, t) if self._children else self._step(px, t)
        if self.scorer is not None:
            self.scorer.observe(px, t, self.view, events)
        return events

    def _measure_again(self, poses: list[tuple[list | None, float]]) -> list[RefEvent]:
        """The set so far forgotten and its poses (turned back) measured again; the picture's turn kept."""
        orient, self._orient = self._orient, None
        self.reset()
        self._orient = orient
        events: list[RefEvent] = []
        for px, t in poses:
            events += self._feed(px, t)
        return events

    def finish(self, t: float | None = None) -> list[RefEvent]:
        """The set is over (end of a clip or an interval). Judging, a rep that reached the far
        position and is on its way back counts now instead of waiting for the start position;
        counting attempts, a cycle without its end is not one (see the module doc)."""
        t = self.last_t if t is None else t
        if t is None:
            return []
        held, self._held = self._held, []  # a clip over before its picture's turn was read
        events = self._finish(t)
        if self.scorer is not None:
            self.scorer.annotate(events)
        return [*held, *events]

    def abandon(self) -> None:
        """The set was interrupted (auto mode's rest): forget a cycle under way without counting
        it and without calling it a no-rep; whoever counts on replays it from its start."""
        for child in self._children:
            child.abandon()
        self._pending.clear()
        self._reset_cycle()
        self._armed = False

    def _finish(self, t: float) -> list[RefEvent]:
        if self._children:
            events: list[RefEvent] = []
            for side, child in zip(SIDES, self._children, strict=True):
                events.extend(self._merge_side_events(side, child.finish(t)))
            return events
        events = []
        self._pending.clear()  # short cycles no full rep followed: fidgeting at the end of the set
        if (
            self.counting == "judge"
            and self._hold is None
            and self._armed
            and self._in_cycle
            and self._seq_pos >= len(self._seq)
            and self._cand != self._seq[-1]
        ):
            self._finish_cycle(t, events)
            self._reset_cycle()
            self._armed = False
        return events

    def _step(self, px: list | None, t: float) -> list[RefEvent]:
        """One pose as pixel keypoints [[x, y, score] * 17] (None: nobody seen)."""
        seen = self._measure(px, t)
        if self._cals and self._hold is None and not self._recounting:
            # what the pose measured, kept to be decided on again (`_recount`): the features' own
            # values and the view depend on the pose alone, not on the travel
            recent = self._recent
            recent.append((list(self.values) if seen else None, self.view, t))
            while recent[0][2] < t - RECOUNT_S:
                recent.popleft()
        return self._decide(seen, t)

    def _measure(self, px: list | None, t: float) -> bool:
        """The features' values of one pose (before calibration) into ``values``, and the view;
        False when nobody is seen, or the pose is a glitch."""
        values = self.values
        if px is None:
            for i in range(len(values)):
                values[i] = None
            return False
        scale = self._scale
        scale.update(px)
        for i, f in self._active:
            values[i] = f.compute(px, scale, t)
        for i, lo, hi in self._plausible:
            v = values[i]
            if v is not None and not (lo <= v <= hi):
                # no body in this exercise looks like this: a glitch, as if nobody were seen
                self.glitches += 1
                for j in range(len(values)):
                    values[j] = None
                return False
        if self._viewer is not None:
            self.view = self._viewer.update(px, t)
        return True

    def _decide(self, seen: bool, t: float) -> list[RefEvent]:
        """The state machine on the values `_measure` left (calibrated here)."""
        events: list[RefEvent] = []
        if self.last_t is None:
            self._t_origin = t
        dt = 0.0 if self.last_t is None else t - self.last_t
        self.last_t = t
        self.pace_meter.seen(t)
        values = self.values
        if seen:
            if self._cals:
                # calibrated features learn the person's range only in the exercise's posture
                # (the conditions of a state on uncalibrated features): not while they stand
                # up from a set, walk to the mat or leave
                learn = self._in_posture(values)
                for i, cal in self._cals:
                    v = values[i]
                    if v is not None:
                        values[i] = cal.update(v, t, learn)
            for i, k in self._fallbacks:
                if values[i] is None:
                    values[i] = values[k]  # not seen: the feature that stands in for it
            for i, inputs in self._means[self.view]:
                vs = [values[j] for j in inputs if values[j] is not None]
                values[i] = sum(vs) / len(vs) if vs else None
        table = self._tables[self.view] if self._viewer is not None else self._tables[None]

        match = self._match(table, values)

        # occlusion: a short gap holds the state; a long one resets the half-done rep
        if match is None and any(values[fi] is None for fi in table.state_features):
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
            return self._update_hold(t, dt, match, values, table, events)

        start = self._start
        if match == start and match is not None:
            self._t_last_start = t
            self._start_glimpsed = True
        elif self._armed and not self._in_cycle and self.state == start:
            # left the start position: a cycle begins
            self._in_cycle = True
            self._t_cycle = self._t_last_start if self._t_last_start is not None else t

        if self._in_cycle:
            self._track_cycle(t, values, table, events)

        if (
            match is not None
            and (match != self.state or (self._in_cycle and match == start))
            and t - self._cand_since >= self._dwell[match] - 1e-9
        ):
            self._commit(match, t, events)

        # a rep that has not reached the far position within max_s is dropped; once there, the
        # person may hold it (a rest sitting up, a paused squat) and the rep waits for the return
        if self._in_cycle and self._seq_pos < len(self._seq) and t - self._t_cycle > self._max_s:
            log.debug("%s: rep timed out after %.1fs", self.name, t - self._t_cycle)
            self._reset_cycle()
            self._armed = False
        if self._cals and not self._recounting:
            relearnt = sum(cal.relearnt for _, cal in self._cals)
            if relearnt != self._relearnt_seen:
                self._relearnt_seen = relearnt
                since = min(cal.relearnt_since for _, cal in self._cals if cal.relearnt_since is not None)
                self._recount(since, t, events)
        return events

    def _recount(self, since: float, now: float, events: list[RefEvent]) -> None:
        """A stale travel was re-learnt from a rhythm that began at ``since``: the cycles of that
        rhythm were measured against the old travel and may not have been called at all. A copy of
        the machine, with the travel just learnt, decides again on what the poses since then
        measured (the features are not computed again); each cycle it completes that this machine
        called nothing (no rep, no no-rep, no attempt awaiting a full rep) is counted now."""
        if now - since > RECOUNT_S:
            return  # a rhythm slower than a rep every few seconds: not a set measured again
        poses = [p for p in self._recent if p[2] >= since]
        if not poses:
            return
        recent, called, scorer = self._recent, self._called, self.scorer
        self._recent, self._called, self.scorer = deque(), deque(), None
        try:
            twin = copy.deepcopy(self, {id(self.rule): self.rule})  # the rule is shared, not copied
        finally:
            self._recent, self._called, self.scorer = recent, called, scorer
        twin._recounting = True
        twin.count = twin.attempts = twin.no_reps = twin._full = 0
        twin._pending = []
        twin.state = twin._cand = twin._t_last_start = twin._missing_since = None
        twin._armed, twin._fresh, twin._start_glimpsed = False, True, False
        twin._reset_cycle()
        twin.last_t = None
        for _, cal in twin._cals:
            cal.forget_recent()
        found: list[RefEvent] = []
        values = twin.values
        for measured, view, t in poses:
            values[:] = measured if measured is not None else [None] * len(values)
            twin.view = view
            found += twin._decide(measured is not None, t)
        busy = self._t_cycle if self._in_cycle else now  # the cycle under way is this machine's
        reasons = {(e.t_start, e.t_end): e.reason for e in found if e.kind == "fault"}
        for ev in found:
            if ev.kind not in ("rep", "no_rep") or ev.t_end > busy:
                continue
            # called already, or a short cycle waiting on a full rep (attempts): not again
            if any(a < ev.t_end and ev.t_start < b for a, b in self._called) or any(
                a < ev.t_end and ev.t_start < b for a, b, _ in self._pending
            ):
                continue
            log.debug(
                "%s: a cycle at %.1f-%.1fs measured on the travel re-learnt", self.name, ev.t_start, ev.t_end
            )
            args = (ev.t_start, ev.t_end)
            if ev.kind == "no_rep" or ev.extra.get("full") is False:
                why = ev.reason or reasons.get(args) or self.rule.rep.partial_reason
                self._short(*args, why, ev.eccentric_s, ev.concentric_s, ev.rom, ev.side, events)
            else:
                extra = {**ev.extra, "recounted": True}
                self._add_rep(*args, ev.eccentric_s, ev.concentric_s, ev.rom, ev.side, extra, events)

    def _in_posture(self, values: list) -> bool:
        """Whether the uncalibrated ``when`` conditions of some state hold (those valid in the view)."""
        for conds in self._postures[self.view if self._viewer is not None else None]:
            for fi, lo, hi in conds:
                v = values[fi]
                if v is None or not (lo < v < hi):
                    break
            else:
                return True
        return False

    def _match(self, table: _Table, values: list) -> str | None:
        """The state whose conditions hold by the largest margin (the current one wins a tie)."""
        best = None
        best_m = -_INF
        current = self._cand
        for name, conds, _dwell, anys in table.states:
            m = _INF
            for fi, lo, hi, or_missing, unit in conds:
                v = values[fi]
                if v is None:
                    if or_missing:
                        continue
                    break
                if not (lo < v < hi):
                    break
                cm = (v - lo if v - lo < hi - v else hi - v) / unit
                if cm < m:
                    m = cm
            else:
                if anys:
                    am = -_INF
                    for fi, lo, hi, unit in anys:
                        v = values[fi]
                        if v is not None and lo < v < hi:
                            cm = (v - lo if v - lo < hi - v else hi - v) / unit
                            if cm > am:
                                am = cm
                    if am == -_INF:
                        continue
                    if am < m:
                        m = am
                if m > best_m or (m == best_m and name == current):
                    best, best_m = name, m
        return best

    def _track_cycle(self, t: float, values: list, table: _Table, events: list[RefEvent]) -> None:
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
        for c in table.checks:
            if c.during and state not in c.during:
                c.bad_since = None
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
                c.bad_since = None
                continue
            if c.lo == -_INF and c.hi == _INF:
                continue
            if c.bad(t) and not c.violated:
                c.violated = True
                spec = c.spec
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
        if t_end - t0 < rep.min_s + 1e-9:
            log.debug("%s: cycle of %.2fs is no longer than min_s, ignored", self.name, t_end - t0)
            return
        if not complete:
            # short of the person's own travel: a no-rep for the judge. Counting attempts it is an
            # attempt once a full rep follows it, and not before a first full rep: getting ready
            # and fidgeting after the set are not attempts (measured, on data labelled by attempts)
            if self._partial_hit:
                # a failed mark says more than "incomplete" (arms up but "feet not apart")
                why = self._failed_check() or rep.partial_reason
                if self.counting == "judge":
                    self._short(t0, t_end, why, None, None, None, None, events)
                elif self._full > 0:
                    self._pending.append((t0, t_end, why))
            return
        reason = self._failed_check()
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
            self._short(t0, t_end, reason, ecc, con, rom_val, side, events)
            return
        self._full += 1
        for p0, p1, why in self._pending:
            self._short(p0, p1, why, None, None, None, None, events)
        self._pending.clear()
        self._count(t0, t_end, ecc, con, rom_val, side, {"pause_s": pause} if pause else {}, events)

    def _failed_check(self) -> str | None:
        """The reason of the first no-rep check the cycle failed (None: it passed them all)."""
        for c in self._all_checks:
            s = c.spec
            if s.action != "no_rep":
                continue
            if c.violated:
                return s.reason
            # a mark that could not be seen during the rep (hidden, or not valid in this view)
            # is not held against it
            if s.reach_above is not None and c.extreme is not None and c.extreme <= s.reach_above:
                return s.reason
            if s.reach_below is not None and c.extreme is not None and c.extreme >= s.reach_below:
                return s.reason
        return None

    def _short(self, t0, t_end, reason, ecc, con, rom_val, side, events: list[RefEvent]) -> None:
        """A cycle that is not a full rep: a no-rep (judge) or an attempt with a fault (attempts)."""
        if self.counting == "judge":
            self._note_called(t0, t_end)
            self.no_reps += 1
            self.attempts += 1
            events.append(
                RefEvent(
                    "no_rep", self.name, t0, t_end, self.count, ecc, con, rom_val, reason=reason, side=side
                )
            )
            return
        self._count(t0, t_end, ecc, con, rom_val, side, {"full": False}, events)
        events.append(RefEvent("fault", self.name, t0, t_end, self.count, reason=reason, side=side))

    def _count(self, t0, t_end, ecc, con, rom_val, side, extra: dict, events: list[RefEvent]) -> None:
        if self.rule.rep.alternate and side is not None and side == self.last_side:
            other = "right" if side == "left" else "left"
            if self._alt is not None and not self._alt.seen[other]:
                # the same side twice while the other could not be seen at all (the far leg, side
                # on): the alternation says it went in between
                self._add_rep(t0, t0, None, None, None, other, {"hidden": True}, events)
            else:
                events.append(
                    RefEvent(
                        "fault",
                        self.name,
                        t0,
                        t_end,
                        self.count,
                        reason="same side twice: alternate",
                        side=side,
                    )
                )
        self._add_rep(t0, t_end, ecc, con, rom_val, side, extra, events)

    def _note_called(self, t0: float, t_end: float) -> None:
        if self._cals and not self._recounting:
            called = self._called
            called.append((t0, t_end))
            while called[0][1] < t_end - RECOUNT_S:
                called.popleft()

    def _add_rep(self, t0, t_end, ecc, con, rom_val, side, extra: dict, events: list[RefEvent]) -> None:
        self._note_called(t0, t_end)
        self.count += 1
        self.attempts += 1
        self.pace_meter.add(t_end)
        self.last_side = side
        if self._alt is not None:
            self._alt.seen.update(left=False, right=False)
        events.append(
            RefEvent("rep", self.name, t0, t_end, self.count, ecc, con, rom_val, side=side, extra=extra)
        )

    # ----------------------------------------------------------------------------------------
    def _update_hold(
        self, t: float, dt: float, match: str | None, values: list, table: _Table, events: list[RefEvent]
    ) -> list[RefEvent]:
        hold = self._hold
        if match is not None and match != self.state and t - self._cand_since >= self._dwell[match] - 1e-9:
            self.state = match
            for c in self._all_checks:
                c.reset()
        if self.state is None:
            return events
        if self._missing_since is not None and match is None:
            # nobody measurable: the clock does not run
            return events
        in_hold = self.state == hold.state
        faulted = False
        for c in table.checks:
            if c.during and self.state not in c.during:
                c.bad_since = None
                continue
            v = values[c.fi]
            if v is None:
                continue
            if c.lo < v < c.hi:
                c.bad_since = None
                if c.violated:
                    c.violated = False
                    c.reported = False
                continue
            if c.bad(t):
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
        for side, child in zip(SIDES, self._children, strict=True):
            events.extend(self._merge_side_events(side, child._step(px, t)))
        states = [c.state for c in self._children]
        active = [s for s in states if s is not None and s != self._start]
        self.state = active[0] if active else next((s for s in states if s is not None), None)
        self.view = self._children[0].view
        return events

    def _merge_side_events(self, side: str, child_events: list[RefEvent]) -> list[RefEvent]:
        events: list[RefEvent] = []
        for ev in child_events:
            if ev.kind in ("rep", "no_rep"):
                ev.side = side
                if self._same_lift(ev):
                    continue
            if ev.kind == "rep":
                self.count += 1
                self.attempts += 1
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
                self.attempts += 1
            ev.count = self.count
            events.append(ev)
        return events

    def _same_lift(self, ev: RefEvent) -> bool:
        """Whether ``ev`` is the other side's last rep seen again: the pose model put both legs on
        the one that moved, so both machines saw it reach the far position at nearly the same moment
        (the sides of a real alternation are half a cycle apart)."""
        far = ev.t_start + (ev.eccentric_s or 0.0)
        other = self._side_far.get("right" if ev.side == "left" else "left")
        if other is not None and abs(far - other[0]) < SAME_LIFT_SHARE * min(ev.duration_s, other[1]):
            log.debug(
                "%s: the %s side at %.2f s is the other side's lift seen again", self.name, ev.side, far
            )
            return True
        if ev.kind == "rep":
            self._side_far[ev.side] = (far, ev.duration_s)
        return False


def _one_side(rule: Rule, side: str) -> Rule:
    """The rule with every side-less feature pinned to one side, for per-side counting."""
    features = {
        name: spec.model_copy(update={"side": side}) if spec.sided else spec
        for name, spec in rule.features.items()
    }
    rep = rule.rep.model_copy(update={"each_side": False, "alternate": False})
    # the picture's turn is read once, by the machine that feeds both sides
    return rule.model_copy(update={"features": features, "rep": rep, "up_cue": "none"})
