"""The coach you can trust: a summary must read as English sentences in one script that name the
workout and the rep count (not only state the right numbers); the template uses the program's work
time and titles; the page says in plain words why the template was used."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from hiitpi.coach.derived import derive
from hiitpi.coach.explain import explain
from hiitpi.coach.facts import IntervalFacts, SessionFacts, example_facts
from hiitpi.coach.language import check_language
from hiitpi.coach.prompt import rejection_note
from hiitpi.coach.summary import check_summary_text
from hiitpi.coach.template import template_summary

N = derive(example_facts())  # Sam, 24 squats, 3 no-reps


def test_a_real_summary_passes():
    text = (
        "Sam did 24 reps of squat in 1.2 minutes, with 3 no-reps. Your pace dropped in the second "
        "half. Next time, take a breath between reps."
    )
    assert check_language(text, N) == []


@pytest.mark.parametrize(
    ("text", "why"),
    [
        # what a model with random weights writes: numbers-free noise passes the fact check
        ("Xkq vbn zzrtl mmop qwe rtyu iopa sdfg hjkl zxcv bnm", "does not read as English"),
        ("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa squat 24 the and you your of in a", "too long to be words"),
        # multi-script gibberish
        ("Sam сделал 24 приседания squat и это было хорошо очень хорошо молодец отлично.", "mixes alphabets"),
        ("Sam did 24 reps 深蹲 非常好 的 训练 你 做得 很 好 我们 明天 再 见 squat.", "mixes alphabets"),
        (
            "Sam did 24 reps and you kept your pace well in the first half and the second half",
            "no sentence that ends",
        ),
        (
            "You did well today and kept a steady pace. Keep going like that next time.",
            "does not name the workout",
        ),
        ("Sam did squats today and kept a steady pace. Keep going like that next time.", "rep count (24)"),
        ("Great squat.", "not a summary"),
    ],
)
def test_text_that_is_not_an_english_summary_is_refused(text, why):
    problems = check_language(text, N)
    assert any(why in p for p in problems), problems


def test_the_rep_count_may_be_a_word_and_the_workout_any_word_of_its_title():
    n = derive(
        SessionFacts(1, "Bo", "tabata_squat", datetime(2026, 1, 1), 240.0, 12, 0, title="Tabata squats")
    )
    assert n.workout == "Tabata squats"
    assert check_language("Bo did twelve reps in the tabata today and kept a good pace. Well done.", n) == []


def test_the_summary_check_carries_both_and_the_regeneration_is_told_which():
    res = check_summary_text(
        "Sam did 25 reps of squat today, and it was a good session overall. Well done.", N
    )
    assert not res.ok
    assert any("'25'" in p for p in res.problems)  # the fact check
    assert any(p.startswith("language: it does not give the rep count") for p in res.problems)
    note = rejection_note(res.problems)
    assert "numbers that are not in the facts: '25'" in note
    assert "not a plain English summary: it does not give the rep count (24)" in note
    assert "language:" not in note


def test_the_template_uses_the_programs_work_time_and_titles():
    # a Tabata: three 20 s work intervals (the store gives each interval's work time, not with its rest)
    ivs = [IntervalFacts("squat", 20.0, r, 0, round=i + 1, title="Squat") for i, r in enumerate([12, 9, 8])]
    f = SessionFacts(
        3, "Alice", "tabata_squat", datetime(2026, 1, 1), 90.0, 29, 0, intervals=ivs, title="Tabata squats"
    )
    text = template_summary(derive(f))
    assert "Alice did 29 reps of Tabata squats over 3 intervals" in text
    assert "Your strongest was round 1, with 12 reps in 20 seconds." in text
    assert "tabata_squat" not in text and check_language(text, derive(f)) == []


def test_the_store_hands_the_coach_work_time_and_titles(tmp_path):
    from hiitpi.referee.events import RefEvent
    from hiitpi.store import SessionRecorder, Store
    from hiitpi.store.coaching import session_facts

    store = Store.open(tmp_path / "h.db")
    rec = SessionRecorder(store, flush_interval_s=0.05)
    t = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    sid = rec.start_session("Alice", "squat", program="tabata_squat", round=1, started_at=t, t0=0.0)
    for i in range(12):
        rec.record(
            RefEvent("rep", "squat", i * 1.5, i * 1.5 + 1.2, i + 1), at=t + timedelta(seconds=i * 1.5 + 1.2)
        )
    rec.start_rest(at=t + timedelta(seconds=20))
    rec.start_interval("squat", round=2, at=t + timedelta(seconds=30))
    rec.end_session(ended_at=t + timedelta(seconds=50))
    rec.close()
    titles = {"squat": "Squat", "tabata_squat": "Tabata squats"}.get
    f = session_facts(store, sid, titles)
    store.close()
    assert f.title == "Tabata squats" and [iv.title for iv in f.intervals] == ["Squat", "Squat"]
    assert [iv.duration_s for iv in f.intervals] == [20.0, 20.0]  # work, not work + rest
    assert "12 reps in 20 seconds" in template_summary(derive(f))


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("model file missing: tinyllama.gguf", "not installed on this device"),
        ("model failed to load: bad magic", "could not be loaded"),
        ("model failed to load: model file /x/t.gguf not found: run `hiitpi models fetch`", "not installed"),
        ("time limit of 120 s reached (after 90 tokens)", "took longer than its time limit"),
        ("cancelled", "stopped before it finished"),
        (
            "the model's text failed the fact check 2 times (last: language: it mixes alphabets)",
            "not a plain English",
        ),
        (
            "the model's text failed the fact check 2 times (last: '25' (reps) matches no fact)",
            "numbers that are not in your session",
        ),
        ("coach queue full", "too busy"),
    ],
)
def test_why_the_template_was_used_in_plain_words(reason, words):
    text = explain(reason)
    assert words in text and text.endswith("so this summary was written straight from your numbers.")
    assert "language:" not in text and "cancelled" not in text
    assert explain(None) == ""
