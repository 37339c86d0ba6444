"""The numbers a summary may state, derived once from `SessionFacts`.

The prompt, the template summary and the fact check all read the same `SessionNumbers`, so a
number the template writes or the model is given is, by construction, a number the check accepts.
Every value carries its unit: ``reps`` (counts of reps), ``no_reps``, ``s``, ``min``, ``rpm``
(reps per minute), ``pct`` (a percentage, unsigned), ``count`` (rounds/intervals), ``index``
(rep/round numbers: "round 3"); the chat's history facts add ``sessions``, ``faults`` and ``days``.
"""

from __future__ import annotations

import logging
import statistics
from dataclasses import dataclass, field
from typing import Literal

from hiitpi.coach.facts import SessionFacts

log = logging.getLogger(__name__)

Unit = Literal["reps", "no_reps", "s", "min", "rpm", "pct", "count", "index", "sessions", "faults", "days"]

#: Below this many reps the halves say nothing and are left out.
MIN_REPS_FOR_HALVES = 4


@dataclass(frozen=True, slots=True)
class Number:
    """One stated-able number: ``exact`` ones (counts) must be quoted exactly."""

    key: str
    value: float
    unit: Unit
    exact: bool = False


@dataclass(slots=True)
class Half:
    reps: int | None
    pace_rpm: float | None
    mean_rep_s: float | None


@dataclass(slots=True)
class IntervalNumbers:
    index: int
    workout: str
    reps: int
    no_reps: int
    duration_s: float
    pace_rpm: float | None
    round: int | None


@dataclass(slots=True)
class SessionNumbers:
    """Derived statistics of one session. ``None`` where the facts do not support a value."""

    workout: str
    player: str
    reps: int
    no_reps: int
    duration_s: float
    pace_rpm: float | None
    mean_rep_s: float | None
    fastest_rep_s: float | None
    slowest_rep_s: float | None
    mean_eccentric_s: float | None
    mean_concentric_s: float | None
    first_half: Half | None
    second_half: Half | None
    #: Second-half pace relative to the first, percent (negative = slower).
    pace_change_pct: float | None
    #: Second-half mean rep duration relative to the first, percent (positive = reps got longer).
    rep_time_change_pct: float | None
    success_pct: float | None
    no_rep_reasons: dict[str, int] = field(default_factory=dict)
    intervals: list[IntervalNumbers] = field(default_factory=list)
    rounds: int | None = None
    hold_s: float | None = None
    previous_best: int | None = None
    #: mean and lowest similarity of the scored reps to the workout's reference (0..100)
    similarity_pct: float | None = None
    similarity_low_pct: float | None = None
    #: the body part that deviated most from the reference ("knees")
    deviation: str | None = None

    @property
    def attempts(self) -> int:
        return self.reps + self.no_reps

    @property
    def duration_min(self) -> float:
        return self.duration_s / 60.0

    @property
    def vs_previous_best(self) -> int | None:
        return None if self.previous_best is None else self.reps - self.previous_best

    def numbers(self) -> list[Number]:
        """Every number a summary may state, with its unit."""
        out: list[Number] = [
            Number("reps", self.reps, "reps", exact=True),
            Number("no_reps", self.no_reps, "no_reps", exact=True),
            Number("attempts", self.attempts, "reps", exact=True),
            Number("duration_s", self.duration_s, "s"),
            Number("duration_min", self.duration_min, "min"),
        ]

        def add(key: str, value: float | None, unit: Unit, exact: bool = False) -> None:
            if value is not None:
                out.append(Number(key, abs(value) if unit == "pct" else value, unit, exact))

        add("pace_rpm", self.pace_rpm, "rpm")
        add("mean_rep_s", self.mean_rep_s, "s")
        add("fastest_rep_s", self.fastest_rep_s, "s")
        add("slowest_rep_s", self.slowest_rep_s, "s")
        add("mean_eccentric_s", self.mean_eccentric_s, "s")
        add("mean_concentric_s", self.mean_concentric_s, "s")
        for name, half in (("first_half", self.first_half), ("second_half", self.second_half)):
            if half is not None:
                add(f"{name}.reps", half.reps, "reps", exact=True)
                add(f"{name}.pace_rpm", half.pace_rpm, "rpm")
                add(f"{name}.mean_rep_s", half.mean_rep_s, "s")
        add("pace_change_pct", self.pace_change_pct, "pct")
        add("rep_time_change_pct", self.rep_time_change_pct, "pct")
        add("success_pct", self.success_pct, "pct")
        for reason, n in self.no_rep_reasons.items():
            add(f"no_rep_reasons.{reason}", n, "no_reps", exact=True)
        if self.intervals:
            add("intervals", len(self.intervals), "count", exact=True)
        add("rounds", self.rounds, "count", exact=True)
        for iv in self.intervals:
            p = f"intervals[{iv.index}]"
            add(f"{p}.reps", iv.reps, "reps", exact=True)
            add(f"{p}.no_reps", iv.no_reps, "no_reps", exact=True)
            add(f"{p}.duration_s", iv.duration_s, "s")
            add(f"{p}.duration_min", iv.duration_s / 60.0, "min")
            add(f"{p}.pace_rpm", iv.pace_rpm, "rpm")
        add("hold_s", self.hold_s, "s")
        if self.hold_s is not None:
            add("hold_min", self.hold_s / 60.0, "min")
        add("previous_best", self.previous_best, "reps", exact=True)
        add("similarity_pct", self.similarity_pct, "pct")
        add("similarity_low_pct", self.similarity_low_pct, "pct")
        if self.vs_previous_best is not None:
            add("vs_previous_best", abs(self.vs_previous_best), "reps", exact=True)
        return out

    def index_limits(self) -> dict[str, int]:
        """Largest valid number after 'rep', 'round', 'interval' ("round 3 was the best")."""
        return {
            "rep": self.attempts,
            "round": max(self.rounds or 0, len(self.intervals)),
            "interval": len(self.intervals),
            "set": len(self.intervals),
        }

    def to_prompt_dict(self) -> dict:
        """The facts as the model sees them: rounded, units in the key names, no empty fields."""

        def r1(x: float | None) -> float | None:
            return None if x is None else round(x, 1)

        def r0(x: float | None) -> int | None:
            return None if x is None else round(x)

        d: dict = {
            "player": self.player,
            "workout": self.workout.replace("_", " "),
            "reps": self.reps,
            "no_reps": self.no_reps,
            "duration_min": r1(self.duration_min),
            "duration_s": r0(self.duration_s),
            "pace_reps_per_min": r1(self.pace_rpm),
            "average_rep_s": r1(self.mean_rep_s),
            "fastest_rep_s": r1(self.fastest_rep_s),
            "slowest_rep_s": r1(self.slowest_rep_s),
            "average_lowering_s": r1(self.mean_eccentric_s),
            "average_lifting_s": r1(self.mean_concentric_s),
        }
        for name, half in (("first_half", self.first_half), ("second_half", self.second_half)):
            if half is not None:
                h = {
                    "reps": half.reps,
                    "pace_reps_per_min": r1(half.pace_rpm),
                    "average_rep_s": r1(half.mean_rep_s),
                }
                d[name] = {k: v for k, v in h.items() if v is not None}
        if self.pace_change_pct is not None:
            word = "faster" if self.pace_change_pct > 0 else "slower"
            d["pace_change"] = f"{abs(r0(self.pace_change_pct))}% {word} in the second half"
        if self.rep_time_change_pct is not None:
            word = "longer" if self.rep_time_change_pct > 0 else "shorter"
            d["rep_time_change"] = f"reps {abs(r0(self.rep_time_change_pct))}% {word} in the second half"
        if self.no_rep_reasons:
            d["no_rep_reasons"] = dict(self.no_rep_reasons)
        if self.intervals:
            d["intervals"] = [
                {
                    k: v
                    for k, v in {
                        "round": iv.round,
                        "workout": iv.workout.replace("_", " "),
                        "reps": iv.reps,
                        "no_reps": iv.no_reps,
                        "duration_s": r0(iv.duration_s),
                        "pace_reps_per_min": r1(iv.pace_rpm),
                    }.items()
                    if v is not None
                }
                for iv in self.intervals
            ]
        if self.hold_s is not None:
            d["hold_s"] = r0(self.hold_s)
        if self.previous_best is not None:
            d["previous_best_reps"] = self.previous_best
        if self.similarity_pct is not None:
            d["form_match_with_reference_pct"] = r0(self.similarity_pct)
            d["lowest_form_match_pct"] = r0(self.similarity_low_pct)
            if self.deviation:
                d["body_part_deviating_most"] = self.deviation
        return {k: v for k, v in d.items() if v is not None}


def _pace(reps: int, seconds: float) -> float | None:
    return reps / (seconds / 60.0) if seconds > 0 else None


def _mean(xs: list[float | None]) -> float | None:
    vals = [x for x in xs if x is not None]
    return statistics.fmean(vals) if vals else None


def _pct(new: float | None, old: float | None) -> float | None:
    if new is None or old is None or old == 0:
        return None
    return (new - old) / old * 100.0


def derive(facts: SessionFacts) -> SessionNumbers:
    """Compute every derived statistic the summary may use."""
    reps = facts.reps
    durs = [d for d in facts.rep_durations if d is not None]
    first = second = None
    pace_change = rep_time_change = None
    if reps >= MIN_REPS_FOR_HALVES and facts.duration_s > 0:
        half_t = facts.duration_s / 2.0
        n1 = sum(1 for t in facts.rep_times if t <= half_t) if len(facts.rep_times) == reps else None
        k = len(durs) // 2
        m1 = statistics.fmean(durs[:k]) if k else None
        m2 = statistics.fmean(durs[k:]) if len(durs) - k else None
        if n1 is not None or m1 is not None:
            # without rep times the halves carry rep timing only
            first = Half(n1, _pace(n1, half_t) if n1 is not None else None, m1)
            second = Half(
                reps - n1 if n1 is not None else None,
                _pace(reps - n1, half_t) if n1 is not None else None,
                m2,
            )
            pace_change = _pct(second.pace_rpm, first.pace_rpm)
            rep_time_change = _pct(m2, m1)
    intervals = [
        IntervalNumbers(
            index=i + 1,
            workout=iv.title or iv.workout,
            reps=iv.reps,
            no_reps=iv.no_reps,
            duration_s=iv.duration_s,
            pace_rpm=_pace(iv.reps, iv.duration_s),
            round=iv.round,
        )
        for i, iv in enumerate(facts.intervals)
    ]
    rounds = max((iv.round for iv in facts.intervals if iv.round is not None), default=None)
    attempts = reps + facts.no_reps
    sims = [x for x in facts.rep_similarity if x is not None]
    return SessionNumbers(
        workout=facts.title or facts.workout,
        player=facts.player,
        reps=reps,
        no_reps=facts.no_reps,
        duration_s=facts.duration_s,
        pace_rpm=_pace(reps, facts.duration_s) if reps else None,
        mean_rep_s=statistics.fmean(durs) if durs else None,
        fastest_rep_s=min(durs) if durs else None,
        slowest_rep_s=max(durs) if durs else None,
        mean_eccentric_s=_mean(facts.eccentric_s),
        mean_concentric_s=_mean(facts.concentric_s),
        first_half=first,
        second_half=second,
        pace_change_pct=pace_change,
        rep_time_change_pct=rep_time_change,
        success_pct=reps / attempts * 100.0 if attempts else None,
        no_rep_reasons=dict(facts.no_rep_reasons),
        intervals=intervals,
        rounds=rounds,
        hold_s=facts.hold_s,
        previous_best=facts.previous_best,
        similarity_pct=_mean(sims) if sims else None,
        similarity_low_pct=min(sims) if sims else None,
        deviation=facts.deviation if sims else None,
    )
