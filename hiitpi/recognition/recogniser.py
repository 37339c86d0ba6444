"""Which workout is being done: the rules' state machines and a learned classifier, together.

Two kinds of evidence, both needed:

- **the rules**: every recognisable workout has its own `Referee` watching the same poses (a
  *candidate*). A candidate completing a rep (or, for a hold, holding its position) says the
  movement *fits* that workout's definition — but many rules fit one movement (a squat also
  completes the lunge's and the side squat jump's cycle), and loose rules fire on movements that
  are no workout at all.
- **the classifier** (`hiitpi.recognition.model`): every ``hop_s`` the last ``window_s`` of
  poses are summarised (`hiitpi.recognition.features`) and scored over the workouts it was
  trained on and ``none``; its probabilities are smoothed over ``smooth_s``.

A workout is *recognised* when the classifier prefers it (probability ≥ ``lock_p`` and above
``none``) **and** its candidate has completed a rep within the last ``evidence_s``. While one is
recognised, another takes over only when it leads by ``switch_margin`` for ``switch_s`` with a
rep of its own; the workout is let go (rest) when its candidate has done nothing for ``idle_s``
or the classifier has said ``none`` for ``idle_s``. Each change is a `Change` with the time the
new activity began (``since``: the start of its first rep in the current stretch), so the caller
can count that rep too (`hiitpi.recognition.auto` replays the poses from there).

Only workouts the classifier was trained on can be recognised (`recognisable`); the others are
still picked by hand. Work per pose: the candidates' referees, the keypoints into a ring buffer;
every ``hop_s`` the features of the new frames, the window summary and one matrix product.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.recognition.data import NONE
from hiitpi.recognition.features import FRAME_FEATURES, frame_features, window_features
from hiitpi.recognition.model import Classifier
from hiitpi.referee.machine import Referee
from hiitpi.referee.rules import Rule

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecogniserConfig:
    window_s: float = 2.5  # poses the classifier summarises
    hop_s: float = 0.2  # how often it does
    smooth_s: float = 0.6  # time constant of the smoothed probabilities
    # a workout's probability needed to recognise it (0.5 → 0.6: the none sequences of Countix 85 → 92 %,
    # of RepCount-A 95 → 97 %, the workouts unchanged; see docs/recognition.md)
    lock_p: float = 0.6
    evidence_s: float = 4.0  # a rep of the workout must have ended this recently
    credit_s: float = 12.0  # reps up to this long before the decision count for it
    switch_margin: float = 0.2  # another workout must lead by this much...
    switch_s: float = 0.6  # ...for this long to take over
    idle_s: float = 4.0  # nothing done (no rep, or the classifier says none) this long: rest
    # ...or, while a rep is under way (the workout's referee away from its start position), this
    # many of the person's own rep intervals (the median of the last few), at most idle_max_s: in a
    # slow set (a lunge every 5 s) the next rep is not a rest after 4 s
    idle_rhythm: float = 1.5
    idle_max_s: float = 10.0
    hold_s: float = 1.5  # seconds a hold must be held to count as evidence
    min_score: float = 0.2  # keypoints under this score are not seen (features)
    end_after_s: float = 120.0  # auto mode: a session resting this long has ended


@dataclass(frozen=True, slots=True)
class Change:
    """``kind``: "start" (a workout recognised, from none), "switch" (another one) or "rest"."""

    kind: str
    workout: str | None
    t: float  # when it was decided
    since: float  # when the activity began (the first rep's start); ``t`` for rest
    confidence: float


@dataclass
class _Candidate:
    workout: str
    referee: Referee
    hold: bool
    reps: deque = field(default_factory=deque)  # (t_start, t_end) of recent reps
    hold_since: float | None = None  # when the current hold began

    def evidence(self, t: float, cfg: RecogniserConfig, after: float) -> float | None:
        """The start of the first rep (or hold) of the current stretch, if there is recent evidence."""
        if self.hold:  # a hold going on since before the last change counts from the change
            start = None if self.hold_since is None else max(self.hold_since, after)
            return start if start is not None and t - start >= cfg.hold_s else None
        recent = [r for r in self.reps if r[0] >= after - 1e-9]
        if not recent or t - recent[-1][1] > cfg.evidence_s:
            return None
        return recent[0][0]

    def idle_after(self, cfg: RecogniserConfig) -> float:
        """Seconds without a rep after which the person is resting: ``idle_s``; while a rep is under
        way, ``idle_rhythm`` times the median interval of the last reps (at most ``idle_max_s``)."""
        ends = [r[1] for r in list(self.reps)[-5:]]
        rule = self.referee.rule
        start = rule.rep.start if rule.rep is not None else None
        under_way = self.referee.state not in (None, start)
        if self.hold or len(ends) < 2 or not under_way:
            return cfg.idle_s
        gaps = sorted(b - a for a, b in itertools.pairwise(ends))
        rhythm = gaps[len(gaps) // 2]
        return min(max(cfg.idle_s, cfg.idle_rhythm * rhythm), cfg.idle_max_s)

    def last_activity(self) -> float | None:
        if self.hold:
            return self.referee.last_t if self.hold_since is not None else None
        return self.reps[-1][1] if self.reps else None


class Recogniser:
    """``update(pose, t)`` → a `Change` when the recognised workout changes, else None."""

    def __init__(self, rules: Mapping[str, Rule], model: Classifier, config: RecogniserConfig | None = None):
        self.cfg = config or RecogniserConfig()
        self.model = model
        # each candidate's referee watches the whole session, every exercise in it: there is no set
        # whose first seconds say which way is up (push-ups before squats would read as a picture
        # turned for the squats' referee), so the picture's turn is read by the interval's referee only
        self.candidates = {
            name: _Candidate(name, Referee(rule.model_copy(update={"up_cue": "none"})), rule.kind == "hold")
            for name, rule in sorted(rules.items())
            if name in model.classes
        }
        #: the classifier's classes → columns of its output
        self._col = {c: i for i, c in enumerate(model.classes)}
        self._none = self._col.get(NONE)
        n = max(4, int(self.cfg.window_s * 120))  # room for a 120 fps camera
        self._px = np.zeros((n, 17, 3), dtype=np.float64)
        self._feat = np.full((n, len(FRAME_FEATURES)), np.nan)
        self._t = np.full(n, -np.inf)
        self._i = 0  # frames seen
        self._done = 0  # frames whose features are computed
        self.reset()

    @property
    def recognisable(self) -> tuple[str, ...]:
        """Workouts this recogniser can tell (rules the classifier was trained on)."""
        return tuple(self.candidates)

    def reset(self) -> None:
        self.current: str | None = None
        self.confidence = 0.0
        self.proba = np.zeros(len(self.model.classes))
        self._next_hop: float | None = None
        self._last_t: float | None = None
        self._since_change = -np.inf  # evidence before the last change belongs to it
        self._challenger: tuple[str, float] | None = None
        self._none_since: float | None = None
        self._pinned = False
        self._pinned_last: float | None = None
        self._i = self._done = 0
        self._t[:] = -np.inf
        for c in self.candidates.values():
            c.referee.reset()
            c.reps.clear()
            c.hold_since = None

    def ranked(self) -> list[tuple[str, float]]:
        """Recognisable workouts by the smoothed probability, best first."""
        return sorted(((w, float(self.proba[self._col[w]])) for w in self.candidates), key=lambda x: -x[1])

    # -----------------------------------------------------------------------------------------
    def update(self, pose: Pose | None, t: float) -> Change | None:
        cfg = self.cfg
        self._last_t = t
        for c in self.candidates.values():
            self._feed(c, pose, t)
        k = self._i % len(self._t)
        if pose is not None:
            self._px[k] = pose.keypoints
            self._px[k, :, 0] *= pose.width
            self._px[k, :, 1] *= pose.height
        else:
            self._px[k] = 0.0
        self._t[k] = t
        self._i += 1
        if self._next_hop is None:
            self._next_hop = t + cfg.hop_s
        if t + 1e-9 < self._next_hop:
            return None
        self._next_hop = t + cfg.hop_s
        self._classify(t)
        return self._decide(t)

    def _feed(self, c: _Candidate, pose: Pose | None, t: float) -> None:
        ref = c.referee
        if c.hold:
            before = ref.hold_s
            ref.update(pose, t)
            if ref.hold_s > before:
                if c.hold_since is None:
                    c.hold_since = t
            elif ref.state != ref.rule.hold.state:
                c.hold_since = None
            return
        for ev in ref.update(pose, t):
            if ev.kind == "rep":
                c.reps.append((ev.t_start, ev.t_end))
        while c.reps and t - c.reps[0][1] > self.cfg.credit_s:
            c.reps.popleft()

    def _classify(self, t: float) -> None:
        n = len(self._t)
        new = min(self._i - self._done, n)
        if new:
            idx = np.arange(self._i - new, self._i) % n
            self._feat[idx] = frame_features(self._px[idx], self.cfg.min_score)
            self._done = self._i
        sel = self._t > t - self.cfg.window_s
        f = self._feat[sel]
        if len(f) < 4 or np.isnan(f[:, 0]).all():
            p = np.zeros(len(self.model.classes))
            if self._none is not None:
                p[self._none] = 1.0
        else:
            p = self.model.proba(window_features(f))
        a = 1.0 - np.exp(-self.cfg.hop_s / self.cfg.smooth_s)
        self.proba = self.proba + a * (p - self.proba)

    def _decide(self, t: float) -> Change | None:
        cfg = self.cfg
        p_none = float(self.proba[self._none]) if self._none is not None else 0.0
        ranked = self.ranked()
        if not ranked:
            return None
        best, p_best = ranked[0]
        self._none_since = (self._none_since or t) if p_none >= p_best else None
        cur = self.current
        if cur is None:
            self.confidence = p_best
            since = self.candidates[best].evidence(t, cfg, self._since_change)
            if p_best >= cfg.lock_p and p_best > p_none and since is not None:
                return self._change("start", best, t, max(since, t - cfg.credit_s), p_best)
            return None
        p_cur = float(self.proba[self._col[cur]]) if cur in self._col else 0.0
        self.confidence = p_cur
        if not self._pinned and best != cur and p_best >= cfg.lock_p and p_best >= p_cur + cfg.switch_margin:
            if self._challenger is None or self._challenger[0] != best:
                self._challenger = (best, t)
            # the challenger's reps from before the classifier saw it coming belong to the old workout
            since = self.candidates[best].evidence(
                t, cfg, max(self._since_change, self._challenger[1] - cfg.window_s)
            )
            if since is not None and t - self._challenger[1] >= cfg.switch_s - 1e-9:
                return self._change("switch", best, t, max(since, t - cfg.credit_s), p_best)
        else:
            self._challenger = None
        cand = None if self._pinned else self.candidates[cur]
        last = self._pinned_last if cand is None else cand.last_activity()
        idle = last is None or t - last > (cfg.idle_s if cand is None else cand.idle_after(cfg))
        if idle or (not self._pinned and self._none_since is not None and t - self._none_since >= cfg.idle_s):
            return self._change("rest", None, t, t, p_none)
        return None

    def pin(self, workout: str, t: float) -> None:
        """The person said what they are doing (a correction): hold ``workout`` until the next rest.

        The caller reports the pinned workout's reps with `activity` (it may be a workout this
        recogniser has no candidate for); ``t`` counts as activity.
        """
        self.current = workout
        self._pinned = True
        self._pinned_last = t
        self._challenger = None

    def activity(self, t: float) -> None:
        """A rep of the pinned workout ended at ``t``."""
        self._pinned_last = t

    def _change(self, kind: str, workout: str | None, t: float, since: float, p: float) -> Change:
        log.debug("recogniser: %s %s at %.2fs (since %.2fs, p %.2f)", kind, workout, t, since, p)
        self.current = workout
        self.confidence = p
        self._since_change = t if workout is None else since
        self._challenger = None
        self._none_since = None
        self._pinned = False
        return Change(kind, workout, t, since, round(p, 3))
