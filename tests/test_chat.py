"""Ask the coach, without a model: the facts, the retrieval, the scope rules, the plain answers, the
conversations in SQLite, the `hiitpi ask` command and the chat's routes.

The scripted test asks 30 questions over a seeded history (scripts/seed_history.py, fixed seed)
and checks every number in every answer twice: with the fact check against the facts the answer
used, and against the true values computed here from the database with plain SQL.
"""

from __future__ import annotations

import dataclasses
import json
import re
import sqlite3
import subprocess
import threading
from collections import defaultdict
from datetime import UTC, datetime, timedelta

import pytest
import requests
from hypothesis import given, settings
from hypothesis import strategies as st

from hiitpi.coach.chat import ChatCoach, kind_label
from hiitpi.coach.chatfacts import ChatContext, all_facts
from hiitpi.coach.derived import Number, derive
from hiitpi.coach.factcheck import Grounds, check_text
from hiitpi.coach.facts import example_facts, example_history
from hiitpi.coach.job import CoachWorker
from hiitpi.coach.model import SharedModel
from hiitpi.coach.retrieve import mentioned_workouts, select_facts
from hiitpi.coach.scope import classify
from hiitpi.coach.service import ChatService
from hiitpi.coach.summary import Coach
from hiitpi.errors import InputError
from hiitpi.store.chat import Conversation, add_message, clear_conversation, conversation_messages
from hiitpi.store.coaching import chat_context, session_facts
from hiitpi.store.errors import InvalidInput
from tests.chat_history import NOW, WORKOUTS, seed_history, site_settings
from tests.conftest import free_port
from tests.test_coach_factcheck import sessions

# --- a hand-made context ----------------------------------------------------------------------


def _context() -> ChatContext:
    f = example_facts()
    f.session_id, f.faults, f.started_at = 9, 2, NOW - timedelta(hours=2)
    return ChatContext(example_history(NOW), f, known_workouts=WORKOUTS)


def test_every_fact_states_only_its_own_numbers():
    ctx = _context()
    facts = all_facts(ctx)
    keys = {f.key for f in facts}
    assert {
        "session.overview",
        "session.no_reps",
        "session.pace",
        "session.timing",
        "session.previous",
        "history.recent.squat",
        "week.this_week.all",
        "week.this_week.squat",
        "week.last_week.pushup",
        "history.best.squat",
        "history.none.burpee",
        "basics.warm_up",
    } <= keys
    for f in facts:
        res = check_text(f.text, f.grounds)
        assert res.ok, (f.key, f.text, res.problems)
    by = {f.key: f for f in facts}
    assert by["session.previous"].text == (
        "Your previous session of squat, 3 days before, had 21 reps; this one had 24 reps (3 reps more)."
    )
    assert by["week.this_week.pushup"].text.startswith("This week you did 1 session of pushup: 15 reps")
    assert "no sessions of pushup" in by["week.last_week.pushup"].text
    # a number the fact does not hold is refused by its grounds
    assert not check_text("You did 25 reps of squat.", by["session.overview"].grounds).ok


@settings(max_examples=150, deadline=None, derandomize=True)
@given(sessions(), st.integers(0, 20))
def test_facts_of_any_session_pass_their_own_check(facts, days_back):
    """Like the template summary: whatever the session, every fact sentence is grounded."""
    facts = dataclasses.replace(facts, started_at=NOW - timedelta(days=days_back))
    ctx = ChatContext(example_history(NOW), facts, known_workouts=WORKOUTS)
    for f in all_facts(ctx):
        res = check_text(f.text, f.grounds)
        assert res.ok, (f.key, f.text, res.problems)


def test_grounds_union_and_new_units():
    a = Grounds((Number("a", 3, "sessions", exact=True),), {"round": 2}, frozenset({"squat"}))
    b = Grounds((Number("b", 4, "days", exact=True),), {"round": 5}, frozenset({"Bo 2"}))
    g = Grounds.union([a, b])
    assert g.index_limits == {"round": 5} and g.names == {"squat", "Bo 2"}
    assert check_text("Bo 2 did 3 sessions of squat, 4 days ago; round 5.", g).ok
    assert not check_text("You did 4 sessions.", g).ok
    assert not check_text("That was 3 days ago.", g).ok
    assert not check_text("2 form faults.", g).ok


# --- scope and retrieval ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "scope"),
    [
        ("How many reps did I do?", "answer"),
        ("Why was my second set slower?", "answer"),
        ("What should I improve?", "answer"),
        ("How did I do?", "answer"),
        ("How many push-ups this week?", "answer"),
        ("Should I warm up first?", "answer"),
        ("My knee hurts when I squat, why?", "medical"),
        ("Can I take ibuprofen before training?", "medical"),
        ("I have asthma, is HIIT ok?", "medical"),
        ("What is the capital of France?", "refusal"),
        ("Write me a poem about squats", "refusal"),
        ("What's the best pizza in town?", "refusal"),
        ("Who are you?", "refusal"),
    ],
)
def test_scope(question, scope):
    ctx = _context()
    facts = all_facts(ctx)
    named = bool(mentioned_workouts(question, ctx.workouts))
    assert classify(question, facts, workouts_mentioned=named) == scope


def test_a_short_follow_up_is_answered_only_after_an_answer():
    facts = all_facts(_context())
    assert classify("And then?", facts) == "refusal"
    assert classify("And then?", facts, previous_answered=True) == "answer"


def test_workouts_are_recognised_in_questions():
    names = ("squat", "pushup", "jumping_jack", "situp", "tabata_squat", "plank", "plank_jack")
    assert mentioned_workouts("How many push-ups?", names) == ["pushup"]
    assert mentioned_workouts("jumping jacks this week", names) == ["jumping_jack"]
    assert mentioned_workouts("my sit ups", names) == ["situp"]
    assert mentioned_workouts("my last tabata", names) == ["tabata_squat"]
    assert mentioned_workouts("plank", names) == ["plank"]
    assert mentioned_workouts("how was it", names) == []


@pytest.mark.parametrize(
    ("question", "first"),
    [
        ("How many reps did I do?", "session.overview"),
        ("Why didn't some reps count?", "session.no_reps"),
        ("Why was my second set slower?", "session.pace"),
        ("How long did a rep take?", "session.timing"),
        ("What was my fastest rep?", "session.extremes"),
        ("What should I work on?", "session.suggestion"),
        ("How many push-ups did I do this week?", "week.this_week.pushup"),
        ("How many sessions last week?", "week.last_week.all"),
        ("What's my best squat?", "history.best.squat"),
        ("How many burpees have I done?", "history.none.burpee"),
        ("How many calories did I burn?", "basics.not_measured"),
    ],
)
def test_retrieval_puts_the_answering_fact_first(question, first):
    ctx = _context()
    sel = select_facts(question, all_facts(ctx), ctx)
    assert sel.plain and sel.plain[0].key == first, [f.key for f in sel.plain]
    assert sel.plain[0] in sel.facts and len(sel.facts) <= 6


def test_a_question_with_no_topic_gets_the_headline_and_the_suggestion():
    ctx = _context()
    sel = select_facts("How did I do?", all_facts(ctx), ctx)
    assert not sel.matched and [f.key for f in sel.plain] == ["session.overview", "session.suggestion"]


def test_a_follow_up_borrows_the_previous_question():
    ctx = _context()
    sel = select_facts("and last week?", all_facts(ctx), ctx, previous_question="How many push-ups?")
    assert sel.plain[0].key == "week.last_week.pushup"


# --- answers without a model --------------------------------------------------------------------


def _plain_worker(**kw) -> CoachWorker:
    model = SharedModel(None, missing_reason="model file missing: none here")
    return CoachWorker(Coach(None, model=model), chat=ChatCoach(model), **kw)


def test_fixed_answers_need_no_worker_and_busy_is_not_model_time():
    ctx = _context()
    facts = all_facts(ctx)
    running = threading.Event()
    worker = _plain_worker(busy=running.is_set)  # never started: fixed answers do not queue
    job = worker.ask("My back hurts after lunges", ctx, facts)
    assert job.done and job.answer.kind == "medical" and "professional" in job.answer.text
    assert worker._thread is None
    assert worker.ask("Tell me a joke", ctx, facts).answer.kind == "refusal"
    running.set()
    busy = worker.ask("Did I slow down?", ctx, facts).answer
    assert busy.kind == "busy" and "after your session" in busy.text and worker._thread is None
    running.clear()
    job = worker.ask("Did I slow down?", ctx, facts)
    answer = job.wait(10)
    worker.stop()
    assert answer.kind == "plain" and answer.reason == "model file missing: none here"
    assert answer.text.startswith("Your pace dropped from 22 reps per minute")
    assert kind_label("plain", answer.reason).endswith("(the coach model is not available on this device)")
    events = [ev.kind for _i, ev in job.events()]
    assert events == ["start", "token", "done"]


def test_questions_are_checked():
    ctx = _context()
    worker = _plain_worker()
    with pytest.raises(InputError, match="empty"):
        worker.ask("   ", ctx, all_facts(ctx))
    with pytest.raises(InputError, match="characters long"):
        worker.ask("why " * 100, ctx, all_facts(ctx))


def test_busy_policy_by_board():
    from hiitpi.coach.busy import board_model, busy_probe, refuses_during_session

    assert refuses_during_session("auto", "Raspberry Pi 4 Model B Rev 1.4")
    assert refuses_during_session("auto", "Raspberry Pi 3 Model B Plus Rev 1.3")
    assert refuses_during_session("auto", "Raspberry Pi 400 Rev 1.0")
    assert refuses_during_session("auto", "Raspberry Pi Zero 2 W Rev 1.0")
    assert refuses_during_session("auto", "Raspberry Pi Compute Module 4 Rev 1.0")
    assert not refuses_during_session("auto", "Raspberry Pi 5 Model B Rev 1.0")
    assert not refuses_during_session("auto", None)  # this x86 machine has no device tree model
    assert refuses_during_session("refuse", None) and not refuses_during_session("allow", "Raspberry Pi 4")
    assert board_model() is None or isinstance(board_model(), str)
    assert busy_probe("allow", lambda: True)() is False
    assert busy_probe("refuse", lambda: True)() is True
    from hiitpi.coach.busy import describe_policy

    assert describe_policy("auto", "Raspberry Pi 4 Model B Rev 1.4") == (
        "chat waits until the session ends ([coach] chat_during_session = 'auto' on Raspberry Pi 4 Model B Rev 1.4)"
    )
    assert describe_policy("auto", None) == (
        "chat answers during a session (niced) ([coach] chat_during_session = 'auto' (not a Pi 4 or smaller))"
    )


# --- the conversations in SQLite ----------------------------------------------------------------


@pytest.fixture()
def history(tmp_path):
    store = seed_history(tmp_path / "h.db")
    yield store
    store.close()


def test_messages_are_kept_per_session_and_per_player_and_cleared(history):
    a, b, p = Conversation.of_session(1), Conversation.of_session(2), Conversation.of_player(1)
    add_message(history, a, "user", "How many reps?")
    add_message(history, a, "coach", "You did 3.", kind="plain", reason="r", facts=["session.overview"])
    add_message(history, b, "user", "Hi")
    add_message(history, p, "user", "This week?")
    msgs = conversation_messages(history, a)
    assert [(m.role, m.text, m.kind) for m in msgs] == [
        ("user", "How many reps?", None),
        ("coach", "You did 3.", "plain"),
    ]
    assert msgs[1].facts == ["session.overview"] and msgs[1].reason == "r"
    assert [m.text for m in conversation_messages(history, p)] == ["This week?"]
    assert clear_conversation(history, a) == 2
    assert conversation_messages(history, a) == [] and len(conversation_messages(history, b)) == 1
    with pytest.raises(InvalidInput):
        add_message(history, a, "robot", "x")
    with pytest.raises(InvalidInput):
        add_message(history, a, "coach", "x", kind="guess")
    with pytest.raises(InvalidInput):
        add_message(history, a, "user", "  ")
    with pytest.raises(InvalidInput):
        Conversation.parse("session", "1e3")
    # deleting a session deletes its conversation (foreign key cascade)
    with history.writing() as s:
        s.connection().exec_driver_sql("delete from sessions where id = 2")
    assert conversation_messages(history, b) == []


def test_migration_from_the_first_schema_keeps_the_history(tmp_path):
    from alembic import command

    from hiitpi.store.db import Store
    from hiitpi.store.migrate import alembic_config, current_revision, head_revision

    path = tmp_path / "old.db"
    store = Store(path)
    with store.write_engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0001")
    with store.write_engine.begin() as conn:
        conn.exec_driver_sql(
            "insert into players (name, name_key, created_at) values ('Ana', 'ana', '2026-01-01 00:00:00')"
        )
    store.close()
    store = Store.open(path)  # upgrades to head at start
    try:
        assert current_revision(store.read_engine) == head_revision()
        add_message(store, Conversation.of_player(1), "user", "How many?")
        assert [m.text for m in conversation_messages(store, Conversation.of_player(1))] == ["How many?"]
    finally:
        store.close()


# --- 30 scripted questions over the seeded history -----------------------------------------------

SCRIPT_SESSION = [
    ("How many reps did I do?", "plain", "session.overview"),
    ("Why did some attempts not count?", "plain", "session.no_reps"),
    ("Did I slow down?", "plain", "session.pace"),
    ("How long did each rep take?", "plain", "session.timing"),
    ("What was my fastest rep?", "plain", "session.extremes"),
    ("What should I work on next time?", "plain", "session.suggestion"),
    ("How does this compare with my last session?", "plain", "session.previous"),
    ("Is this my best ever?", "plain", None),
    ("Did the referee see any form faults?", "plain", "session.faults"),
    ("How many sessions did I do this week?", "plain", "week.this_week.all"),
    ("How many reps did I do last week?", "plain", "week.last_week"),
    ("How did I do?", "plain", "session.overview"),
]
SCRIPT_PROGRAM = [
    ("Which round was my best?", "plain", "session.intervals"),
    ("How many reps in round 2?", "plain", "session.intervals"),
    ("Did I get slower in the second half?", "plain", "session.pace"),
    ("How many no-reps did I get?", "plain", "session.no_reps"),
    ("What was my pace?", "plain", "session.pace"),
    ("How long was the session?", "plain", "session.duration"),
]
SCRIPT_PLAYER = [
    ("How many reps did I do this week?", "plain", "week.this_week"),
    ("How many sessions did I do last week?", "plain", "week.last_week.all"),
    ("What is my best squat?", "plain", "history.best.squat"),
    ("How did my last pushup sessions go?", "plain", "history.recent.pushup"),
    ("When was my last session?", "plain", "history.last"),
    ("How many burpees did I do this week?", "plain", ("week.this_week.burpee", "history.none.burpee")),
    ("What is my best pace at lunges?", "plain", ("history.best.lunge", "history.none.lunge")),
    (
        "How many jumping jacks did I do last week?",
        "plain",
        ("week.last_week.jumping_jack", "history.none.jumping_jack"),
    ),
    ("Should I warm up before training?", "plain", "basics.warm_up"),
]
SCRIPT_SCOPE = [
    ("What's the capital of France?", "refusal", None),
    ("My knee hurts after squats, what should I take?", "medical", None),
    ("How many calories did I burn?", "plain", "basics.not_measured"),
]
_NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _dt(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def truths(db, conv: Conversation, store) -> list[float]:
    """Every true number about the conversation, computed here with SQL (the session's derived
    statistics — pace per half, rep timing, percentages — from `derive`, which
    test_coach_factcheck checks by hand)."""
    con = sqlite3.connect(db)
    if conv.kind == "session":
        player, sid = con.execute("select player_id, id from sessions where id = ?", (conv.id,)).fetchone()
    else:
        player, sid = conv.id, None
    rows = con.execute(
        "select id, started_at, duration_s, reps, no_reps, faults from sessions where player_id = ?",
        (player,),
    ).fetchall()
    out: list[float] = []
    local = lambda t: _dt(t).astimezone().date()  # noqa: E731
    today = NOW.astimezone().date()
    for _s_id, started, dur, reps, no_reps, faults in rows:
        out += [dur, dur / 60, reps, no_reps, faults, (today - local(started)).days]
    if sid is not None:
        started = dict((r[0], r[1]) for r in rows)[sid]
        out += [abs((local(started) - local(t)).days) for _i, t, *_ in rows]
        reps = dict((r[0], r[3]) for r in rows)
        out += [abs(reps[sid] - r) for r in reps.values()]
        out += [n.value for n in derive(session_facts(store, sid)).numbers()]
        out += [
            c
            for (c,) in con.execute(
                "select count(*) from reps where session_id=? and not valid group by reason", (sid,)
            )
        ]
        n_iv = con.execute("select count(*) from intervals where session_id = ?", (sid,)).fetchone()[0]
        out += list(range(1, n_iv + 1))  # round / interval numbers
        out += [
            v
            for r, nr, d in con.execute(
                "select reps, no_reps, duration_s from intervals where session_id=?", (sid,)
            )
            for v in (r, nr, d)
        ]
    per = defaultdict(lambda: [0, 0, 0.0])  # (session, workout) -> reps, no_reps, active_s
    meta = {}
    for s_id, wk, r, nr, d, started in con.execute(
        "select s.id, i.workout, i.reps, i.no_reps, i.duration_s, s.started_at from intervals i "
        "join sessions s on s.id = i.session_id where s.player_id = ?",
        (player,),
    ):
        p = per[(s_id, wk)]
        p[0], p[1], p[2] = p[0] + r, p[1] + nr, p[2] + d
        meta[s_id] = local(started)
    monday = today - timedelta(days=today.weekday())
    for week in (monday, monday - timedelta(weeks=1)):
        in_week = [r for r in rows if week <= local(r[1]) < week + timedelta(days=7)]
        out += [len(in_week), sum(r[3] for r in in_week)]
        by_w = defaultdict(lambda: [0, 0, 0, 0.0])
        for (s_id, wk), (r, nr, d) in per.items():
            if week <= meta[s_id] < week + timedelta(days=7):
                b = by_w[wk]
                b[0], b[1], b[2], b[3] = b[0] + 1, b[1] + r, b[2] + nr, b[3] + d
        out += [v for b in by_w.values() for v in (*b, b[3] / 60)]
    by_workout = defaultdict(list)
    for (_s_id, wk), (r, _nr, d) in per.items():
        by_workout[wk].append((r, d))
    for items in by_workout.values():
        out += [len(items), max(r for r, _ in items)]
        out += [r * 60 / d for r, d in items if d >= 30 and r]
    out += [1, 2, 3]  # "your last 3 sessions"
    con.close()
    return out


def _true(x: str, values: list[float]) -> bool:
    decimals = len(x.split(".")[1]) if "." in x else 0
    tol = 0.5 * 10**-decimals + 1e-9
    v = float(x)
    return any(abs(v - t) <= tol or abs(v - round(t, 1)) <= tol for t in values)


def test_thirty_questions_over_a_seeded_history_have_no_wrong_number(tmp_path):
    db = tmp_path / "h.db"
    store = seed_history(db)
    con = sqlite3.connect(db)
    program = con.execute(
        "select id, player_id from sessions where program is not null order by id desc"
    ).fetchone()
    single = con.execute(
        "select id from sessions where program is null and player_id = ? and no_reps > 0 "
        "and started_at < ? order by started_at desc",
        (program[1], "2026-03-05 00:00:00"),
    ).fetchone()
    con.close()
    worker = _plain_worker()
    service = ChatService(store, worker, known_workouts=lambda: WORKOUTS, now=lambda: NOW)
    script = (
        [(Conversation.of_session(single[0]), q) for q in SCRIPT_SESSION]
        + [(Conversation.of_session(program[0]), q) for q in SCRIPT_PROGRAM]
        + [(Conversation.of_player(program[1]), q) for q in SCRIPT_PLAYER + SCRIPT_SCOPE]
    )
    assert len(script) == 30
    checked_numbers = 0
    answered: set[str] = set()
    try:
        for conv, (question, kind, fact) in script:
            _id, job = service.ask(conv, question)
            answer = job.wait(10)
            assert answer is not None and answer.kind == kind, (question, answer and answer.kind)
            if fact:
                assert any(k.startswith(fact) for k in answer.fact_keys), (question, answer.fact_keys)
                answered.update(k for k in answer.fact_keys)
            if kind == "plain":
                grounds = Grounds.union(f.grounds for f in answer.facts)
                res = check_text(answer.text, grounds)
                assert res.ok, (question, answer.text, res.problems)
            truth = truths(db, conv, store)
            for x in _NUMBER.findall(answer.text):
                assert _true(x, truth), f"{question!r}: {x} in {answer.text!r} is not a true number"
                checked_numbers += 1
        print(f"\n30 questions: {checked_numbers} numbers checked, 0 wrong")
        assert checked_numbers > 60, checked_numbers
        assert len(answered) >= 15, answered  # the script reaches many kinds of fact
        # the exchanges are kept: 30 questions, 30 answers
        total = sum(len(conversation_messages(store, c)) for c in {c for c, _ in script})
        assert total == 60
        ctx = chat_context(store, Conversation.of_session(program[0]), now=NOW)
        assert ctx.session.intervals and len(ctx.session.intervals) == 8
    finally:
        worker.stop()
        store.close()


# --- hiitpi ask ------------------------------------------------------------------------------------


def _hiitpi(*args: str, data) -> subprocess.CompletedProcess:
    from tests.test_coach_llm import _hiitpi as run

    # nothing listens there: no session is running
    return run(*args, data=data, env_extra={"HIITPI_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"})


def test_ask_command_streams_keeps_and_explains(tmp_path):
    db = tmp_path / "h.db"
    seed_history(db).close()
    res = _hiitpi("ask", "--database", str(db), "3", "Did", "I", "slow", "down?", data=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[plain]" in res.stderr and "[plain: model file missing" in res.stderr
    assert re.search(r"Your pace (dropped|held|picked)", res.stdout)
    js = _hiitpi(
        "ask", "--database", str(db), "--json", "--player", "ann", "What is my best squat?", data=tmp_path
    )
    assert js.returncode == 0, js.stderr
    out = json.loads(js.stdout)
    assert out["kind"] == "plain" and out["facts"] and out["facts"][0]["key"].startswith("history.")
    assert out["question"] == "What is my best squat?" and out["reason"].startswith("model file missing")
    from hiitpi.store import Store

    store = Store.open(db)
    try:
        msgs = conversation_messages(store, Conversation.of_session(3))
        assert [m.role for m in msgs] == ["user", "coach"] and msgs[1].kind == "plain"
    finally:
        store.close()
    for args, message in [
        (("999", "hi there"), "no session with id 999"),
        (("3",), "give a session id and a question"),
        (("x3", "hi"), "session id must be a number"),
        (("3", "   "), "the question is empty"),
        (("--player", "Nobody", "hi"), "no player named 'Nobody'"),
    ]:
        bad = _hiitpi("ask", "--database", str(db), *args, data=tmp_path)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    missing = _hiitpi("ask", "--database", str(tmp_path / "none.db"), "1", "hi", data=tmp_path)
    assert missing.returncode == 1 and "no history database" in missing.stderr


# --- the routes ------------------------------------------------------------------------------------


@pytest.fixture()
def chat_server(tmp_path, redis_url):
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    store = seed_history(tmp_path / "h.db")
    settings = site_settings(tmp_path, redis_url)
    worker = _plain_worker()
    app = create_app(settings, store=store, coach=worker, auth=False)
    web = WebServer(settings, app)
    web.start()  # serving when it returns
    base = f"http://127.0.0.1:{settings.web.port}"
    yield base, store
    web.stop()
    worker.stop()
    store.close()


def _sse(text: str) -> list[tuple[str, str, dict]]:
    out = []
    for block in text.split("\n\n"):
        fields = dict(
            line.split(": ", 1) for line in block.splitlines() if ": " in line and not line.startswith(":")
        )
        if "event" in fields:
            out.append((fields["id"], fields["event"], json.loads(fields["data"])))
    return out


def test_chat_routes_ask_stream_keep_and_clear(chat_server):
    base, _store = chat_server
    got = requests.get(base + "/api/chat/session/3", timeout=5).json()
    assert got["messages"] == [] and "How many reps did I do?" in got["suggestions"]
    r = requests.post(base + "/api/chat/session/3", json={"question": "How many reps did I do?"}, timeout=5)
    assert r.status_code == 202
    ev = requests.get(base + r.json()["events"], timeout=10)
    assert ev.headers["Content-Type"].startswith("text/event-stream")
    events = _sse(ev.text)
    assert [e[1] for e in events] == ["start", "token", "done"]
    done = events[-1][2]
    assert done["kind"] == "plain" and done["text"].startswith("You did ") and done["facts"]
    assert done["label"].startswith("Plain answer from your numbers")
    # a reconnect resumes after the last event it saw
    again = requests.get(base + r.json()["events"], headers={"Last-Event-ID": "1"}, timeout=10)
    assert [e[1] for e in _sse(again.text)] == ["done"]
    msgs = requests.get(base + "/api/chat/session/3", timeout=5).json()["messages"]
    assert [m["role"] for m in msgs] == ["user", "coach"] and msgs[1]["label"] == done["label"]
    assert requests.delete(base + "/api/chat/session/3", timeout=5).json() == {"cleared": 2}
    assert requests.get(base + "/api/chat/session/3", timeout=5).json()["messages"] == []
    player = requests.get(base + "/api/chat/player/1", timeout=5).json()
    assert player["messages"] == [] and "How many reps did I do this week?" in player["suggestions"]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "message"),
    [
        ("post", "/api/chat/session/3", {"question": ""}, 400, "the question is empty"),
        ("post", "/api/chat/session/3", {"question": 5}, 400, "must be text"),
        ("post", "/api/chat/session/3", {"q": "x"}, 400, '{"question": "..."}'),
        ("post", "/api/chat/session/3", {"question": "x" * 301}, 400, "at most 300"),
        ("post", "/api/chat/session/99999", {"question": "hi"}, 404, "no session with id 99999"),
        ("get", "/api/chat/player/99", None, 404, "no player with id 99"),
        ("get", "/api/chat/session/abc", None, 400, "must be a number"),
        ("get", "/api/chat/room/1", None, 404, "no chat about 'room'"),
        ("delete", "/api/chat/session/0", None, 400, "whole number from 1"),
        ("get", "/api/chat/jobs/nope/events", None, 404, "ask again"),
    ],
)
def test_chat_routes_refuse_bad_input_clearly(chat_server, method, path, body, status, message):
    base, _store = chat_server
    r = getattr(requests, method)(base + path, json=body, timeout=5)
    assert r.status_code == status and message in r.json()["error"], r.text
