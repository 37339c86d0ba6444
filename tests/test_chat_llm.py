"""The chat with llama.cpp for real, on the small test GGUF in ../shared/llm (random weights,
TinyLlama's tokenizer and chat template: its text is noise, so no test expects words).

Noise shaped by a llama.cpp grammar shows the checker and the fallback at work: digits the facts
do not hold are rejected, regenerated once, then replaced by the plain answer; noise without
digits, or with only a true number, is kept as the model's answer. Also: one model shared by the
summary and the chat, a session starting mid-answer, the time limit, broken files, prompt sizes
against TinyLlama's context, `hiitpi ask --model` and `hiitpi bench chat`.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from hiitpi.coach.chat import CANCELLED_FOR_SESSION, ChatCoach
from hiitpi.coach.chatfacts import all_facts
from hiitpi.coach.factcheck import Grounds, check_text
from hiitpi.coach.job import CoachWorker
from hiitpi.coach.llm import DEFAULT_CTX
from hiitpi.coach.model import SharedModel
from hiitpi.coach.prompt import build_chat_messages
from hiitpi.coach.retrieve import FACT_BUDGET_TOKENS, estimate_tokens, select_facts
from hiitpi.coach.summary import Coach
from tests.chat_history import NOW, WORKOUTS, seed_history
from tests.test_chat import SCRIPT_PLAYER, SCRIPT_PROGRAM, SCRIPT_SESSION, _context, _hiitpi
from tests.test_coach_llm import DIGITS_ONLY, NO_DIGITS, _grammar

pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")


@pytest.fixture(scope="session")
def tiny(shared_llm):
    path = shared_llm / "tiny-llama-spm-q8_0.gguf"
    assert path.is_file(), f"{path} missing (see ../shared/llm/README.md)"
    return path


def _coach(path, **kw) -> ChatCoach:
    model = SharedModel(path, threads=1, nice=0, keep_s=kw.pop("keep_s", 0.0))
    return ChatCoach(model, **kw)


def _answer(chat: ChatCoach, question: str, **kw):
    ctx = _context()
    events = []
    answer = chat.answer(question, ctx, all_facts(ctx), on_event=events.append, **kw)
    return answer, events


def test_noise_with_a_number_is_rejected_regenerated_then_replaced_by_the_plain_answer(tiny):
    chat = _coach(tiny, max_tokens=12, sampling={"grammar": _grammar(DIGITS_ONLY)})
    answer, events = _answer(chat, "Did I slow down?")
    assert answer.kind == "plain" and answer.reason.startswith(
        "the model's text failed the fact check 2 times"
    )
    assert answer.text.startswith("Your pace dropped from 22 reps per minute in the first half")
    assert len(answer.attempts) == 2 and not any(a.accepted for a in answer.attempts)
    assert all(a.problems and a.stats["completion_tokens"] >= 1 for a in answer.attempts)
    assert [(e.kind, e.source) for e in events if e.kind != "token"] == [
        ("start", "model"), ("discard", "model"), ("start", "model"), ("discard", "model"),
        ("start", "plain"), ("done", "plain"),
    ]  # fmt: skip
    streamed = "".join(e.text for e in events if e.kind == "token" and e.attempt == 1)
    assert " ".join(streamed.split()) == answer.attempts[0].text and any(c.isdigit() for c in streamed)
    # the plain answer passes the same check against the facts it says
    assert check_text(answer.text, Grounds.union(f.grounds for f in answer.facts)).ok


def test_noise_without_numbers_is_kept_as_the_models_answer(tiny):
    chat = _coach(tiny, max_tokens=16, sampling={"grammar": _grammar(NO_DIGITS)})
    answer, events = _answer(chat, "What should I work on next time?")
    assert answer.kind == "model" and answer.reason is None and answer.text
    assert len(answer.attempts) == 1 and answer.attempts[0].accepted
    assert sum(e.kind == "token" for e in events) >= 2  # streamed piece by piece
    assert answer.fact_keys[0] == "session.suggestion"


def test_a_true_number_is_accepted_and_a_false_one_is_not(tiny):
    """The same noise, led by a number: 24 is the session's rep count, 25 is no fact's."""
    true = _coach(tiny, max_tokens=24, sampling={"grammar": _grammar('"You did 24 reps" [a-z ]*')})
    answer, _ = _answer(true, "How many reps did I do?")
    assert answer.kind == "model" and answer.text.startswith("You did 24 reps")
    false = _coach(tiny, max_tokens=24, sampling={"grammar": _grammar('"You did 25 reps" [a-z ]*')})
    answer, _ = _answer(false, "How many reps did I do?")
    assert answer.kind == "plain" and "'25'" in answer.reason
    assert answer.text.startswith("You did 24 reps of squat")


def test_time_limit_and_broken_files_give_the_plain_answer(tiny, tmp_path):
    chat = _coach(tiny, max_tokens=600, timeout_s=0.05)
    t0 = time.monotonic()
    answer, _ = _answer(chat, "Did I slow down?")
    assert time.monotonic() - t0 < 2.0
    assert answer.kind == "plain" and answer.reason.startswith("time limit of 0.05 s")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"<html>404</html>")
    answer, _ = _answer(_coach(bad), "Did I slow down?")
    assert answer.kind == "plain" and answer.reason.startswith("model failed to load")


def test_a_session_starting_mid_answer_stops_the_chat(tiny):
    chat = _coach(tiny, max_tokens=1500, sampling={"grammar": _grammar(NO_DIGITS)})
    session = threading.Event()
    ctx = _context()
    seen: list[float] = []

    def on_event(ev):
        if ev.kind == "token":
            seen.append(time.monotonic())
            if len(seen) == 3:
                session.set()  # someone starts training

    answer = chat.answer("Did I slow down?", ctx, all_facts(ctx), on_event=on_event, busy=session.is_set)
    assert answer.kind == "busy" and answer.reason == CANCELLED_FOR_SESSION
    assert "after your session" in answer.text
    assert seen[-1] - seen[2] < 1.5  # stopped within the watcher's poll, not after 1,500 tokens


def test_one_model_serves_the_summary_and_the_chat(tiny):
    from hiitpi.coach.facts import example_facts

    model = SharedModel(tiny, threads=1, nice=0, keep_s=0.8)
    worker = CoachWorker(
        Coach(None, model=model, max_tokens=12),
        chat=ChatCoach(model, max_tokens=12, sampling={"grammar": _grammar(NO_DIGITS)}),
    )
    ctx = _context()
    try:
        summary = worker.submit(example_facts()).wait(60)
        assert summary is not None and summary.attempts
        runner, child = model._runner, model._runner._proc
        assert model.loaded and runner.load_s is not None
        first_load = runner.load_s
        answer = worker.ask("What should I work on next time?", ctx, all_facts(ctx)).wait(60)
        assert answer.kind == "model"
        assert (
            model._runner is runner and runner._proc is child and runner.load_s == first_load
        )  # not reloaded
        deadline = time.monotonic() + 10
        while model.loaded and time.monotonic() < deadline:  # idle for keep_s: the worker frees it
            time.sleep(0.1)
        assert not model.loaded
    finally:
        worker.stop()


def test_an_idle_worker_frees_the_model_when_a_session_starts(tiny):
    model = SharedModel(tiny, threads=1, nice=0, keep_s=600)
    session = threading.Event()
    worker = CoachWorker(
        Coach(None, model=model),
        chat=ChatCoach(model, max_tokens=8, sampling={"grammar": _grammar(NO_DIGITS)}),
        busy=session.is_set,
    )
    ctx = _context()
    try:
        assert worker.ask("What should I work on next time?", ctx, all_facts(ctx)).wait(60).kind == "model"
        time.sleep(1.5)
        assert model.loaded  # kept for follow-up questions
        session.set()
        deadline = time.monotonic() + 5
        while model.loaded and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not model.loaded  # the memory goes back to the engine
        assert worker.ask("Did I slow down?", ctx, all_facts(ctx)).answer.kind == "busy"
    finally:
        worker.stop()


def test_prompts_fit_the_context_and_the_estimate_is_an_upper_bound(tiny, tmp_path):
    """Every scripted question's prompt, in TinyLlama's own tokens (the tiny model has its tokenizer)."""
    from hiitpi.coach.llm import LlamaRunner
    from hiitpi.store.chat import Conversation
    from hiitpi.store.coaching import chat_context

    store = seed_history(tmp_path / "h.db")
    con = sqlite3.connect(tmp_path / "h.db")
    program, player = con.execute("select id, player_id from sessions where program is not null").fetchone()
    con.close()
    plan = [(Conversation.of_session(3), q) for q, *_ in SCRIPT_SESSION]
    plan += [(Conversation.of_session(program), q) for q, *_ in SCRIPT_PROGRAM]
    plan += [(Conversation.of_player(player), q) for q, *_ in SCRIPT_PLAYER]
    sizes = []
    with LlamaRunner(tiny, n_threads=1) as runner:
        runner.load()
        for conv, q in plan:
            ctx = chat_context(store, conv, now=NOW, known_workouts=WORKOUTS)
            sel = select_facts(q, all_facts(ctx), ctx)
            for f in sel.facts:
                real = len(runner._llm.tokenize(f.text.encode(), add_bos=False))
                assert estimate_tokens(f.text) >= real, (f.text, real)
            facts_tokens = sum(len(runner._llm.tokenize(f.text.encode(), add_bos=False)) for f in sel.facts)
            assert facts_tokens <= FACT_BUDGET_TOKENS + 200  # the first fact is always taken
            turns = [("How many reps did I do this week and last week?", sel.facts[0].text)] * 2
            sizes.append(
                runner.count_tokens(build_chat_messages(q, [f.text for f in sel.facts], turns=turns))
            )
    store.close()
    # the longest prompt, with two earlier turns, leaves room for the answer and a regeneration note
    assert max(sizes) + 160 + 100 <= DEFAULT_CTX, max(sizes)


def test_ask_command_with_the_model(tmp_path, tiny):
    db = tmp_path / "h.db"
    seed_history(db).close()
    res = _hiitpi("ask", "--database", str(db), "--model", str(tiny), "3", "Did I slow down?", data=tmp_path)
    assert res.returncode == 0, res.stderr
    assert "[model tiny-llama-spm-q8_0.gguf, try 1]" in res.stderr
    kind = next(line for line in reversed(res.stderr.splitlines()) if line.startswith(("[model", "[plain")))
    assert kind.startswith(("[model;", "[plain: the model's text failed the fact check")), kind


def test_bench_chat_reports_five_questions_and_the_pi_estimate(tmp_path, tiny):
    res = _hiitpi("bench", "chat", "--model", str(tiny), "--max-tokens", "16", "--json", data=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert len(out["questions"]) == 5
    for q in out["questions"]:
        assert 100 < q["prompt_tokens"] < 700 and q["ttft_s"] > 0 and q["total_s"] >= q["ttft_s"]
        assert 0 < q["evaluated_prompt_tokens"] <= q["prompt_tokens"] and q["plain_answer_tokens"] > 5
    later = [q["evaluated_prompt_tokens"] < q["prompt_tokens"] for q in out["questions"][1:]]
    assert all(later)  # the system prompt comes from llama.cpp's cache after the first question
    pi4 = out["expected_on_pi"]["Raspberry Pi 4"]["questions"][0]
    q0 = out["questions"][0]
    assert pi4["first_token_s"] == pytest.approx(q0["prompt_tokens"] / 10.0 + 1 / 3.0)
