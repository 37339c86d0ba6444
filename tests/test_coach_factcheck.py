"""The coach's grounding: derived numbers, the fact check on hand-written summaries, the template."""

from __future__ import annotations

import dataclasses
import re
from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hiitpi.coach.derived import derive
from hiitpi.coach.factcheck import check_summary, extract_claims
from hiitpi.coach.facts import IntervalFacts, SessionFacts, example_facts
from hiitpi.coach.prompt import build_messages
from hiitpi.coach.template import template_summary


def squat_session(**kw) -> SessionFacts:
    """24 squats slowing from 2.0 s to 3.15 s a rep; 3 no-reps; previous best 21 (the bench's example)."""
    base = dict(session_id=7, player="Ana", started_at=datetime(2026, 3, 1, 7, 30))
    base.update(kw)
    return dataclasses.replace(example_facts(), **base)


def tabata() -> SessionFacts:
    ivs = [
        IntervalFacts("squat", 20.0, r, nr, round=i + 1)
        for i, (r, nr) in enumerate([(10, 0), (9, 1), (7, 2)])
    ]
    return SessionFacts(
        session_id=8,
        player="Bo",
        workout="tabata",
        started_at=datetime(2026, 3, 2),
        duration_s=60.0,
        reps=26,
        no_reps=3,
        intervals=ivs,
    )


# --- derived numbers ---------------------------------------------------------------------------


def test_derived_halves_and_pace():
    n = derive(squat_session())
    assert n.duration_s == pytest.approx(71.0)
    assert n.pace_rpm == pytest.approx(24 / (71.0 / 60))
    assert n.first_half.reps + n.second_half.reps == 24
    assert n.first_half.reps == sum(1 for t in squat_session().rep_times if t <= 35.5)
    assert n.second_half.pace_rpm < n.first_half.pace_rpm
    assert n.pace_change_pct < 0
    assert n.first_half.mean_rep_s == pytest.approx(sum(2.0 + 0.05 * i for i in range(12)) / 12)
    assert n.rep_time_change_pct > 0
    assert n.vs_previous_best == 3


def test_derived_without_rep_times_has_no_half_counts():
    n = derive(squat_session(rep_times=[]))
    assert n.first_half.reps is None and n.first_half.pace_rpm is None
    assert n.first_half.mean_rep_s is not None
    keys = {x.key for x in n.numbers()}
    assert "first_half.reps" not in keys and "first_half.mean_rep_s" in keys


def test_prompt_carries_the_facts_as_json():
    msgs = build_messages(derive(squat_session()))
    assert [m["role"] for m in msgs] == ["system", "user"]
    assert '"reps": 24' in msgs[1]["content"] and '"pace_reps_per_min": 20.3' in msgs[1]["content"]
    retry = build_messages(derive(squat_session()), problems=["'25' wrong"])
    assert "'25' wrong" in retry[1]["content"]


# --- the fact check on hand-written summaries ---------------------------------------------------

GOOD = (
    "Great work, Ana! You did 24 squats in 71 seconds, about 20.3 reps per minute, and 3 no-reps "
    "were called for not going low enough. Your pace dropped from 22 reps per minute in the first "
    "half to 18.6 in the second, 15% slower, while each rep went from 2.3 to 2.9 seconds. That is "
    "3 more reps than your previous best of 21. Next time, try to keep every rep near 2.3 seconds."
)


def test_correct_summary_is_accepted():
    res = check_summary(GOOD, derive(squat_session()))
    assert res.ok, res.problems
    assert {c.matched for c in res.claims} >= {"reps", "duration_s", "pace_rpm", "no_reps", "previous_best"}


@pytest.mark.parametrize(
    "text, why",
    [
        ("You did 25 squats in 71 seconds.", "wrong count"),
        ("You completed 23 reps today.", "wrong count"),
        ("Your pace was 15 reps per minute.", "wrong pace"),
        (
            "Your pace dropped from 25 reps per minute in the first half to 18.6 in the second.",
            "wrong half pace",
        ),
        ("Next time, aim for 30.", "unsourced number"),
        ("Add 5 reps next time.", "unsourced number"),
        ("You were 12% slower in the second half.", "wrong percentage"),
        ("The session lasted 2 minutes.", "wrong duration"),
        ("Each rep took 4.5 seconds.", "wrong rep time"),
        ("There were 4 no-reps.", "wrong no-rep count"),
        ("Twenty-five reps, well done!", "spelled-out wrong count"),
        ("By rep 30 you slowed down.", "rep index out of range"),
    ],
)
def test_wrong_numbers_are_rejected(text, why):
    res = check_summary(text, derive(squat_session()))
    assert not res.ok, why
    assert res.problems


@pytest.mark.parametrize(
    "text",
    [
        "Twenty-four reps, well done!",
        "You trained for 1:11 and for about 1 minute in total.",
        "That was 1.2 minutes of squats.",
        "From rep 13 on the reps got slower.",
        "The 2nd half was slower.",
        "A steady 20 reps per minute on average.",
        "One thing to try next time: breathe out on the way up.",
    ],
)
def test_correct_variants_are_accepted(text):
    res = check_summary(text, derive(squat_session()))
    assert res.ok, res.problems


def test_digits_in_names_are_not_claims():
    n = derive(squat_session(player="R2D2", no_rep_reasons={"knee angle over 90": 3}))
    assert check_summary("R2D2 did 24 reps; 3 no-reps for knee angle over 90.", n).ok


def test_interval_reps_are_checked_per_interval():
    n = derive(tabata())
    assert check_summary("In round 2 you did 9 reps with 1 no-rep, in round 3 only 7 reps.", n).ok
    assert not check_summary("In round 2 you did 11 reps.", n).ok
    assert not check_summary("Round 4 was your best.", n).ok
    assert check_summary("26 reps over 3 rounds of 20 seconds.", n).ok
    assert not check_summary("26 reps over 4 rounds.", n).ok


def test_claims_carry_units():
    claims = extract_claims(
        "24 reps at 20.3 reps per minute, 15% slower, in 1.2 minutes", derive(squat_session())
    )
    assert [(c.value, c.unit) for c in claims] == [(24, "reps"), (20.3, "rpm"), (15, "pct"), (1.2, "min")]


# --- the template -----------------------------------------------------------------------------


def _sentences(text: str) -> int:
    return len(re.findall(r"[.!?](?=\s|$)", text))


def test_template_reports_what_pace_timing_and_one_suggestion():
    text = template_summary(derive(squat_session()))
    assert "24 reps of squat" in text
    assert "dropped from 22 reps per minute" in text and "18.6" in text
    assert "2.3 seconds" in text and "2.9" in text
    assert "previous best of 21" in text
    assert text.count("Next time") == 1
    assert 3 <= _sentences(text) <= 6
    assert template_summary(derive(squat_session())) == text  # deterministic


def test_template_suggestion_follows_the_main_problem():
    n = derive(squat_session(no_reps=8, no_rep_reasons={"not low enough": 6, "knees in": 2}))
    text = template_summary(n)
    assert "work on 'not low enough'" in text and "6 no-reps" in text
    assert check_summary(text, n).ok


def test_template_for_zero_reps_and_holds():
    empty = derive(squat_session(reps=0, no_reps=0, no_rep_reasons={}, rep_times=[], rep_durations=[],
                                 eccentric_s=[], concentric_s=[], previous_best=None))  # fmt: skip
    text = template_summary(empty)
    assert "no reps were counted" in text and 3 <= _sentences(text) <= 6
    hold = derive(SessionFacts(9, "Cy", "plank", datetime(2026, 1, 1), 65.0, 0, 0, hold_s=58.4))
    text = template_summary(hold)
    assert "58 seconds" in text and check_summary(text, hold).ok and 3 <= _sentences(text) <= 6


@st.composite
def sessions(draw) -> SessionFacts:
    reps = draw(st.integers(0, 60))
    durs = [draw(st.floats(0.6, 6.0)) for _ in range(reps)]
    gaps = [draw(st.floats(0.0, 3.0)) for _ in range(reps)]
    t, times = draw(st.floats(0.0, 5.0)), []
    for d, g in zip(durs, gaps, strict=True):
        t += d + g
        times.append(t)
    duration = t + draw(st.floats(0.5, 30.0))
    n_reasons = draw(st.integers(0, 3))
    reasons = {f"reason {chr(97 + i)}": draw(st.integers(1, 6)) for i in range(n_reasons)}
    ivs = []
    if draw(st.booleans()) and reps:
        k = draw(st.integers(2, 4))
        split = [reps // k] * k
        split[-1] += reps - sum(split)
        ivs = [IntervalFacts("squat", duration / k, r, 0, round=i + 1) for i, r in enumerate(split)]
    return SessionFacts(
        session_id=1,
        player=draw(st.sampled_from(["Ana", "Bo", "Player 2"])),
        workout=draw(st.sampled_from(["squat", "push_up", "jumping_jack"])),
        started_at=datetime(2026, 1, 1),
        duration_s=duration,
        reps=reps,
        no_reps=sum(reasons.values()),
        no_rep_reasons=reasons,
        rep_times=times if draw(st.booleans()) else [],
        rep_durations=durs,
        eccentric_s=[d * 0.5 for d in durs],
        concentric_s=[d * 0.5 for d in durs],
        intervals=ivs,
        previous_best=draw(st.none() | st.integers(0, 80)),
    )


@settings(max_examples=300, deadline=None)
@given(sessions())
def test_template_always_passes_the_fact_check(facts):
    n = derive(facts)
    text = template_summary(n)
    res = check_summary(text, n)
    assert res.ok, (text, res.problems)
    assert 3 <= _sentences(text) <= 6, text
    from hiitpi.coach.language import check_language

    assert check_language(text, n) == [], text  # and it reads as the English summary it is


@pytest.mark.parametrize(
    "text", ["You did 25reps.", "Pace: ²⁵ reps per minute", "x25 squats", "rep time 4.5s"]
)
def test_digits_glued_to_letters_or_in_other_forms_are_claims(text):
    res = check_summary(text, derive(squat_session()))
    assert not res.ok and res.claims


def test_share_of_counted_attempts():
    n = derive(squat_session())
    assert check_summary("89% of your attempts counted.", n).ok
    assert not check_summary("95% of your attempts counted.", n).ok
    clean = derive(squat_session(no_reps=0, no_rep_reasons={}))
    assert check_summary("100% of your reps counted.", clean).ok
