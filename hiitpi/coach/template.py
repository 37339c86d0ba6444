"""The template summary: deterministic, grounded by construction, good on its own.

Used when the model file is missing or broken, runs past its time limit, or twice writes numbers
the facts do not support. Every number it writes comes from `SessionNumbers`, so it passes the
same fact check as the model's text (a test holds it to that). Its sentences are public: the
chat's facts (`hiitpi.coach.chatfacts`) say the same things with the same words.
"""

from __future__ import annotations

import logging

from hiitpi.coach.derived import MIN_REPS_FOR_HALVES, SessionNumbers

log = logging.getLogger(__name__)

#: Changes smaller than this (percent) are called "steady".
STEADY_PCT = 5.0
#: A no-rep reason is worth the suggestion when it cost at least this many reps...
REASON_MIN = 2
#: ...and at least this share of the attempts.
REASON_SHARE = 0.15


def fmt_num(x: float, decimals: int = 1) -> str:
    s = f"{x:.{decimals}f}"
    return s[:-2] if decimals == 1 and s.endswith(".0") else s


def fmt_secs(x: float) -> str:
    v = fmt_num(x)
    return f"{v} second" if v == "1" else f"{v} seconds"


def fmt_duration(seconds: float) -> str:
    if seconds < 120:
        return fmt_secs(round(seconds))
    return f"{fmt_num(seconds / 60.0)} minutes"


def plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def what_sentence(n: SessionNumbers) -> str:
    name = n.player or "You"
    workout = n.workout.replace("_", " ")
    if n.reps == 0 and n.hold_s is None:
        return f"{name} worked on {workout} for {fmt_duration(n.duration_s)}, but no reps were counted."
    if n.hold_s is not None and n.reps == 0:
        return f"{name} held the {workout} for {fmt_duration(n.hold_s)} in a {fmt_duration(n.duration_s)} session."
    where = f" over {plural(len(n.intervals), 'interval')}" if len(n.intervals) > 1 else ""
    s = f"{name} did {plural(n.reps, 'rep')} of {workout}{where} in {fmt_duration(n.duration_s)}"
    if n.pace_rpm is not None:
        s += f", an average of {fmt_num(n.pace_rpm)} reps per minute"
    if n.no_reps:
        s += f"; {plural(n.no_reps, 'more attempt')} did not count ({plural(n.no_reps, 'no-rep')}"
        top = top_reason(n)
        if top:
            s += f", mostly '{top[0]}'"
        s += ")"
    return s + "."


def top_reason(n: SessionNumbers) -> tuple[str, int] | None:
    if not n.no_rep_reasons:
        return None
    reason, count = max(n.no_rep_reasons.items(), key=lambda kv: (kv[1], kv[0]))
    return reason, count


def pace_sentence(n: SessionNumbers) -> str | None:
    a, b = n.first_half, n.second_half
    if a is None or b is None or a.pace_rpm is None or b.pace_rpm is None or n.pace_change_pct is None:
        return None
    if abs(n.pace_change_pct) < STEADY_PCT:
        return (
            f"Your pace held steady: {fmt_num(a.pace_rpm)} reps per minute in the first half "
            f"and {fmt_num(b.pace_rpm)} in the second."
        )
    verb, word = ("dropped", "slower") if n.pace_change_pct < 0 else ("picked up", "faster")
    return (
        f"Your pace {verb} from {fmt_num(a.pace_rpm)} reps per minute in the first half to "
        f"{fmt_num(b.pace_rpm)} in the second ({round(abs(n.pace_change_pct))}% {word})."
    )


def timing_sentence(n: SessionNumbers) -> str | None:
    a, b = n.first_half, n.second_half
    parts: list[str] = []
    if (
        a is not None
        and b is not None
        and a.mean_rep_s is not None
        and b.mean_rep_s is not None
        and n.rep_time_change_pct is not None
    ):
        if abs(n.rep_time_change_pct) < STEADY_PCT:
            parts.append(f"Each rep took about {fmt_secs(n.mean_rep_s or a.mean_rep_s)} from start to finish")
        else:
            word = "longer" if n.rep_time_change_pct > 0 else "shorter"
            parts.append(
                f"Reps took {fmt_secs(a.mean_rep_s)} on average early on and {fmt_num(b.mean_rep_s)} "
                f"seconds later ({round(abs(n.rep_time_change_pct))}% {word})"
            )
    elif n.mean_rep_s is not None:
        parts.append(f"A rep took {fmt_secs(n.mean_rep_s)} on average")
    if not parts:
        return None
    if n.mean_eccentric_s is not None and n.mean_concentric_s is not None:
        parts.append(
            f"with about {fmt_secs(n.mean_eccentric_s)} on the way down and "
            f"{fmt_secs(n.mean_concentric_s)} on the way up"
        )
    return ", ".join(parts) + "."


def no_trend_sentence(n: SessionNumbers) -> str:
    if n.reps == 0 and n.hold_s is not None:
        return "It was a timed hold, so there is no rep pace to compare."
    if n.reps == 0:
        return "Without counted reps there is no pace or rep timing to compare."
    if n.reps < MIN_REPS_FOR_HALVES:
        return "That is too few reps to compare the first half of the session with the second."
    return "Rep timing was not recorded for this session, so the halves cannot be compared."


def intervals_sentence(n: SessionNumbers) -> str | None:
    if len(n.intervals) < 2:
        return None
    best = max(n.intervals, key=lambda iv: (iv.pace_rpm or 0.0, -iv.index))
    label = f"round {best.round}" if best.round is not None else f"interval {best.index}"
    return f"Your strongest was {label}, with {plural(best.reps, 'rep')} in {fmt_duration(best.duration_s)}."


def record_sentence(n: SessionNumbers) -> str | None:
    if n.previous_best is None or n.vs_previous_best is None:
        return None
    d = n.vs_previous_best
    if d > 0:
        return f"That is {plural(d, 'rep')} more than your previous best of {n.previous_best}."
    if d == 0:
        return f"That equals your previous best of {plural(n.previous_best, 'rep')}."
    return f"That is {plural(-d, 'rep')} short of your previous best of {n.previous_best}."


def suggestion_sentence(n: SessionNumbers) -> str:
    if n.reps == 0 and n.hold_s is None:
        return "Next time, check that the camera sees your whole body, side on, so every rep can be counted."
    top = top_reason(n)
    if top and top[1] >= REASON_MIN and top[1] >= REASON_SHARE * n.attempts:
        return f"Next time, work on '{top[0]}': it cost you {plural(top[1], 'no-rep')}."
    if n.pace_change_pct is not None and n.pace_change_pct <= -10 and n.pace_rpm is not None:
        return (
            f"Next time, start a little slower and aim to hold about {fmt_num(n.pace_rpm)} reps per minute "
            "from start to finish."
        )
    if n.rep_time_change_pct is not None and n.rep_time_change_pct >= 10 and n.first_half:
        return (
            "Next time, take a short breath between reps when they start to drag, so each one stays "
            f"close to {fmt_secs(n.first_half.mean_rep_s or 0.0)}."
        )
    if n.pace_change_pct is not None and n.pace_change_pct >= 10 and n.second_half and n.second_half.pace_rpm:
        return (
            "You finished stronger than you started: next time, open at your second-half pace of "
            f"{fmt_num(n.second_half.pace_rpm)} reps per minute."
        )
    if n.pace_rpm is not None:
        return (
            f"Next time, keep this rhythm of {fmt_num(n.pace_rpm)} reps per minute and try to add a few reps."
        )
    return "Next time, try to hold the position a little longer with the same good form."


def template_summary(n: SessionNumbers) -> str:
    """3–6 sentences: what was done, how pace and rep timing changed, one suggestion."""
    pace, timing = pace_sentence(n), timing_sentence(n)
    if pace is None and timing is None:
        pace = no_trend_sentence(n)
    parts = [
        what_sentence(n),
        pace,
        timing,
        intervals_sentence(n),
        record_sentence(n),
        suggestion_sentence(n),
    ]
    return " ".join(p for p in parts if p)
