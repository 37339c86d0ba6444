"""How well the recogniser does: on labelled sequences, and on sequences joined at a switch.

A sequence is run through `AutoMode` exactly as live. Per sequence:

- ``pred``: the workout credited with the most reps (``none`` when no rep was credited at all);
- ``lock_s``: seconds from the start of the sequence to the first time the true workout was
  recognised (None: never);
- ``reps``: reps credited to the true workout, ``wrong_reps`` to any other, and ``manual``: what
  the true workout's referee counts over the whole sequence (the count had it been picked by hand).

A *none* sequence (an exercise that is no workout of ours) is right when no workout gets a rep.

The switching test joins two sequences of different workouts with ``rest_s`` of rest between
(the first one's last pose held, as a person standing still); ``follow_s`` is the time from the
start of the second one's first rep (by its own referee) to its being recognised
(``from_segment_s``: from its first frame), and ``wrong_reps`` the reps from the end of the first
one on credited to any other workout than the second's.
"""

from __future__ import annotations

import dataclasses
import logging
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from hiitpi.pose.types import Pose
from hiitpi.recognition.auto import AutoMode, Timeline
from hiitpi.recognition.data import NONE
from hiitpi.referee.machine import Referee

log = logging.getLogger(__name__)


def follow(poses: Iterable[tuple[Pose | None, float]], auto: AutoMode) -> Timeline:
    """Run ``auto`` over (pose, t) pairs; every interval with the reps its referee counted."""
    timeline = Timeline()
    t = 0.0
    for pose, t in poses:
        events = auto.update(pose, t)
        timeline.add(auto.last_change, events, t)
    timeline.add(None, auto.finish(), t)
    return timeline


@dataclass
class SequenceScore:
    name: str
    exercise: str
    pred: str
    lock_s: float | None
    reps: int
    wrong_reps: int
    manual: int | None
    key: str = "file"

    def to_dict(self) -> dict:
        d = {self.key: self.name, "exercise": self.exercise, "pred": self.pred, "lock_s": self.lock_s}
        d.update(reps=self.reps, wrong_reps=self.wrong_reps, manual=self.manual)
        return d


def score_sequence(
    name: str,
    exercise: str,
    poses: list[Pose | None],
    times: list[float],
    make_auto: Callable[[], AutoMode],
    key: str = "file",
) -> SequenceScore:
    auto = make_auto()
    followed = follow(zip(poses, times, strict=True), auto)
    credited = followed.reps_by_workout()
    t0 = times[0] if times else 0.0
    lock = next((float(t - t0) for t, w in followed.decisions if w == exercise), None)
    pred = followed.main_workout()
    manual = None
    if exercise in auto.rules:
        ref = Referee(auto.rules[exercise], auto.pace_window_s)
        for pose, t in zip(poses, times, strict=True):
            ref.update(pose, t)
        ref.finish()
        manual = ref.count
    right = int(credited.get(exercise, 0))
    wrong = int(sum(credited.values()) - right)
    return SequenceScore(
        name, exercise, pred, None if lock is None else round(lock, 2), right, wrong, manual, key
    )


def summarise(scores: list[SequenceScore], key: str = "file") -> dict:
    """The JSON report: accuracy, per_exercise, median_lock_s, auto counts, and every sequence."""
    per: dict[str, list[SequenceScore]] = defaultdict(list)
    for s in scores:
        per[s.exercise].append(s)
    locks = [s.lock_s for s in scores if s.exercise != NONE and s.lock_s is not None]
    workouts = [s for s in scores if s.exercise != NONE and s.manual is not None]
    nones = [s for s in scores if s.exercise == NONE]

    def acc(items: list[SequenceScore]) -> float | None:
        return round(sum(s.pred == s.exercise for s in items) / len(items), 4) if items else None

    report = {
        "accuracy": acc(scores),
        "n": len(scores),
        "per_exercise": {name: {"accuracy": acc(v), "n": len(v)} for name, v in sorted(per.items())},
        "median_lock_s": round(statistics.median(locks), 2) if locks else None,
        "workout_accuracy": acc([s for s in scores if s.exercise != NONE]),
        "auto_count_within_one": (
            round(sum(abs(s.reps - s.manual) <= 1 for s in workouts) / len(workouts), 4) if workouts else None
        ),
        "none_accuracy": acc(nones),
        "none_max_reps": max((s.wrong_reps for s in nones), default=None),
        "none_within_one_rep": (
            round(sum(s.wrong_reps <= 1 for s in nones) / len(nones), 4) if nones else None
        ),
        "clips": [s.to_dict() for s in scores],
    }
    return report


def format_report(report: dict, key: str = "file") -> str:
    rows = report["clips"]
    width = max([len(key)] + [len(str(c[key])) for c in rows]) + 2
    lines = [f"{key:<{width}}{'exercise':<17}{'pred':<17}{'lock_s':>7}{'reps':>6}{'manual':>7}{'wrong':>6}"]
    for c in rows:
        lock = "-" if c["lock_s"] is None else f"{c['lock_s']:.1f}"
        manual = "-" if c["manual"] is None else str(c["manual"])
        mark = "" if c["pred"] == c["exercise"] else "   WRONG"
        lines.append(
            f"{c[key]:<{width}}{c['exercise']:<17}{c['pred']:<17}{lock:>7}{c['reps']:>6}{manual:>7}"
            f"{c['wrong_reps']:>6}{mark}"
        )
    lines.append("")
    lines.append(f"{'exercise':<17}{'n':>4}{'accuracy':>10}")
    for name, m in report["per_exercise"].items():
        lines.append(f"{name:<17}{m['n']:>4}{_pct(m['accuracy']):>10}")
    lines.append(f"{'overall':<17}{report['n']:>4}{_pct(report['accuracy']):>10}")
    if report.get("median_lock_s") is not None:
        lines.append(f"median time to recognise: {report['median_lock_s']:.2f} s")
    if report.get("auto_count_within_one") is not None:
        lines.append(
            f"auto-mode count within one of the hand-picked count: {_pct(report['auto_count_within_one'])}"
        )
    if report.get("none_accuracy") is not None:
        lines.append(
            f"none sequences recognised as none: {_pct(report['none_accuracy'])}; "
            f"at most 1 rep credited: {_pct(report['none_within_one_rep'])} (max {report['none_max_reps']})"
        )
    return "\n".join(lines)


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{100 * v:.1f}%"


# --------------------------------------------------------------------------------------------
# switching


@dataclass
class Segment:
    name: str
    exercise: str
    poses: list[Pose | None]
    times: list[float]


def joined(a: Segment, b: Segment, rest_s: float) -> tuple[list[Pose | None], list[float], float]:
    """a's poses, ``rest_s`` of a's last pose held still, then b's; (poses, times, b's start)."""
    poses: list[Pose | None] = []
    times: list[float] = []
    t0 = a.times[0]
    for p, t in zip(a.poses, a.times, strict=True):
        poses.append(_at(p, t - t0))
        times.append(t - t0)
    end = times[-1] if times else 0.0
    dt = (a.times[-1] - a.times[0]) / max(1, len(a.times) - 1) if len(a.times) > 1 else 1 / 30
    still = next((p for p in reversed(a.poses) if p is not None), None)
    t = end
    while t < end + rest_s:
        t += dt
        poses.append(_at(still, t))
        times.append(t)
    b_start = t + dt
    for p, tb in zip(b.poses, b.times, strict=True):
        tt = b_start + tb - b.times[0]
        poses.append(_at(p, tt))
        times.append(tt)
    return poses, times, b_start


def _at(p: Pose | None, t: float) -> Pose | None:
    return None if p is None else dataclasses.replace(p, timestamp=t)


@dataclass
class SwitchScore:
    first: str
    second: str
    a: str
    b: str
    follow_s: float | None  # from the second exercise's first rep starting to its recognition
    from_segment_s: float | None  # from the second sequence's first frame
    wrong_reps: int
    right_reps: int

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def score_switch(a: Segment, b: Segment, rest_s: float, make_auto: Callable[[], AutoMode]) -> SwitchScore:
    poses, times, b_start = joined(a, b, rest_s)
    followed = follow(zip(poses, times, strict=True), make_auto())
    decided = next((float(t) for t, w in followed.decisions if t >= b_start and w == b.exercise), None)
    moved = b_start + _first_rep_start(b, make_auto().rules) - b.times[0]
    credited = followed.reps_by_workout(t0=b_start - rest_s)
    right = int(credited.get(b.exercise, 0))
    return SwitchScore(
        a.name,
        b.name,
        a.exercise,
        b.exercise,
        None if decided is None else round(decided - moved, 2),
        None if decided is None else round(decided - b_start, 2),
        int(sum(credited.values()) - right),
        right,
    )


def _first_rep_start(seg: Segment, rules: dict) -> float:
    """When the segment's first rep starts, by its own workout's referee (its first frame if none)."""
    ref = Referee(rules[seg.exercise])
    for p, t in zip(seg.poses, seg.times, strict=True):
        for e in ref.update(p, t):
            if e.kind == "rep":
                return e.t_start
    return seg.times[0]


def summarise_switches(scores: list[SwitchScore], within_s: float = 3.0) -> dict:
    follows = [s.follow_s for s in scores if s.follow_s is not None]
    return {
        "n": len(scores),
        "followed": round(len(follows) / len(scores), 4) if scores else None,
        "followed_within_s": within_s,
        "followed_in_time": round(sum(f <= within_s for f in follows) / len(scores), 4) if scores else None,
        "median_follow_s": round(statistics.median(follows), 2) if follows else None,
        "at_most_one_wrong_rep": round(sum(s.wrong_reps <= 1 for s in scores) / len(scores), 4)
        if scores
        else None,
        "max_wrong_reps": max((s.wrong_reps for s in scores), default=None),
        "switches": [s.to_dict() for s in scores],
    }


def format_switches(report: dict) -> str:
    lines = [f"{'from':<52}{'to':<52}{'follow_s':>9}{'wrong':>6}{'right':>6}"]
    for s in report["switches"]:
        f = "-" if s["follow_s"] is None else f"{s['follow_s']:.1f}"
        lines.append(
            f"{s['first'][-50:]:<52}{s['second'][-50:]:<52}{f:>9}{s['wrong_reps']:>6}{s['right_reps']:>6}"
        )
    lines.append("")
    lines.append(
        f"{report['n']} switches: followed {_pct(report['followed'])}, within {report['followed_within_s']:g} s "
        f"{_pct(report['followed_in_time'])} (median {report['median_follow_s']} s); "
        f"at most one rep credited to the wrong workout: {_pct(report['at_most_one_wrong_rep'])} "
        f"(max {report['max_wrong_reps']})"
    )
    return "\n".join(lines)
