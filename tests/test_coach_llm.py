"""The coach's real code path on a tiny Llama GGUF the project makes itself (random weights, the
Llama-2 SentencePiece vocabulary TinyLlama uses, TinyLlama's chat template).

Its text is noise: these tests never expect words. They check loading, chat formatting, streaming,
the time limit, the fallbacks (missing, corrupt, time-out), the regenerate-then-template flow and
the background worker — with llama.cpp really running.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hiitpi.coach.derived import derive
from hiitpi.coach.factcheck import check_summary
from hiitpi.coach.facts import SessionFacts
from hiitpi.coach.prompt import build_messages

REPO = Path(__file__).resolve().parent.parent
SHARED_VOCAB = REPO.parent / "shared" / "llm" / "ggml-vocab-llama-spm.gguf"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _load_maker():
    spec = importlib.util.spec_from_file_location("make_tiny_gguf", REPO / "scripts" / "make_tiny_gguf.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def tiny_gguf(request, tmp_path_factory) -> Path:
    """The tiny model, built once into pytest's cache (from ../shared/llm's vocabulary when it is
    there, else from the llama-cpp-python sdist on PyPI). Tests that use it need llama-cpp-python."""
    if not IN_CI:
        pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    maker = _load_maker()
    cache_plugin = getattr(request.config, "cache", None)  # absent with -p no:cacheprovider
    cache = (
        Path(cache_plugin.mkdir("hiitpi-coach-tiny-gguf"))
        if cache_plugin is not None
        else tmp_path_factory.mktemp("tiny-gguf")
    )
    out = cache / "tiny-llama-spm-q8_0.gguf"
    if not out.is_file():
        if SHARED_VOCAB.is_file():
            vocab = SHARED_VOCAB
        else:
            vocab = maker.vocab_from_sdist(None, tmp_path_factory.mktemp("sdist"))
        maker.make_tiny_gguf(out, vocab, seed=0)
    return out


@pytest.fixture()
def facts() -> SessionFacts:
    from hiitpi.coach.facts import example_facts

    f = example_facts()
    f.session_id = 11
    return f


def _grammar(rule: str):
    """A llama.cpp grammar (sampled in C) that shapes the noise: digits only, or no digits."""
    from llama_cpp import LlamaGrammar

    return LlamaGrammar.from_string(f"root ::= {rule}", verbose=False)


DIGITS_ONLY = "[0-9] [0-9 ]*"
NO_DIGITS = "[a-zA-Z] [a-zA-Z ,.]*"


# --- the model file ---------------------------------------------------------------------------


def test_tiny_gguf_is_a_llama_with_tinyllamas_tokenizer_and_template(tiny_gguf):
    from gguf import GGUFReader

    maker = _load_maker()
    r = GGUFReader(str(tiny_gguf))
    assert r.fields["general.architecture"].contents() == "llama"
    assert r.fields["llama.block_count"].contents() == 2
    assert len(r.fields["tokenizer.ggml.tokens"].contents()) == 32000
    assert r.fields["tokenizer.chat_template"].contents() == maker.TINYLLAMA_CHAT_TEMPLATE
    assert len(r.tensors) == 2 + 2 * 9 + 1


# --- the runner -------------------------------------------------------------------------------


def test_runner_loads_lazily_formats_with_the_gguf_template_streams_and_releases(tiny_gguf, facts):
    from hiitpi.coach.llm import LlamaRunner

    runner = LlamaRunner(tiny_gguf, n_threads=1)
    assert not runner.loaded
    messages = build_messages(derive(facts))
    pieces: list[str] = []
    gen = runner.generate(messages, max_tokens=24, seed=3, on_token=pieces.append)
    assert runner.loaded and runner._llm.chat_format == "chat_template.default"
    rendered = runner._render(messages)
    assert rendered.startswith("<|system|>\n") and rendered.endswith("<|assistant|>\n")
    assert "</s>\n<|user|>\n" in rendered and '"reps": 24' in rendered
    assert pieces and "".join(pieces) == gen.text
    st = gen.stats
    assert abs(st.prompt_tokens - runner.count_tokens(messages)) <= 1  # + BOS
    assert 1 <= st.completion_tokens <= 24
    assert st.ttft_s is not None and 0 < st.ttft_s <= st.total_s
    assert st.prompt_tps and st.prompt_tps > 0 and st.gen_tps and st.gen_tps > 0
    again = runner.generate(messages, max_tokens=24, seed=3)
    assert again.text == gen.text  # same seed, same text
    runner.close()
    assert not runner.loaded
    assert runner.generate(messages, max_tokens=4, seed=1).stats.completion_tokens >= 1  # loads again
    runner.close()


def _runner_class(where: str):
    from hiitpi.coach.isolated import ProcessRunner
    from hiitpi.coach.llm import LlamaRunner

    return {"here": LlamaRunner, "child": ProcessRunner}[where]


@pytest.mark.parametrize("where", ["here", "child"])
def test_runner_time_limit_stops_generation_midway(tiny_gguf, facts, where):
    from hiitpi.coach.llm import GenerationTimeout

    with _runner_class(where)(tiny_gguf, n_threads=1) as runner:
        runner.load()
        messages = build_messages(derive(facts))
        full = runner.generate(messages, max_tokens=120, seed=5)
        limit = full.stats.total_s * 0.4
        pieces: list[str] = []
        t0 = time.monotonic()
        with pytest.raises(GenerationTimeout) as info:
            runner.generate(messages, max_tokens=120, seed=5, on_token=pieces.append, deadline=t0 + limit)
        elapsed = time.monotonic() - t0
        assert runner.generate(messages, max_tokens=4, seed=1).stats.completion_tokens >= 1  # goes on
    assert elapsed < limit + (0.5 if where == "here" else 1.0)  # a child: one more pipe
    assert info.value.partial == "".join(pieces)
    assert len(info.value.partial) < len(full.text)


def test_runner_time_limit_interrupts_prompt_evaluation(tiny_gguf, facts):
    """A deadline that passes while llama.cpp evaluates the prompt aborts llama_decode itself."""
    from hiitpi.coach.llm import GenerationTimeout, LlamaRunner

    long_facts = build_messages(derive(facts))
    long_facts[1]["content"] *= 4  # ~1,600 prompt tokens
    with LlamaRunner(tiny_gguf, n_threads=1, n_ctx=2048, n_batch=32) as runner:
        runner.load()
        t0 = time.monotonic()
        with pytest.raises(GenerationTimeout) as info:
            runner.generate(long_facts, max_tokens=8, deadline=t0 + 0.002)
        assert time.monotonic() - t0 < 1.0
    assert info.value.partial == ""


@pytest.mark.parametrize("where", ["here", "child"])
def test_runner_cancel(tiny_gguf, facts, where):
    from hiitpi.coach.llm import GenerationCancelled

    cancel = threading.Event()
    got: list[str] = []

    def on_token(piece: str) -> None:
        got.append(piece)
        if len(got) == 3:
            cancel.set()

    with _runner_class(where)(tiny_gguf, n_threads=1) as runner:
        with pytest.raises(GenerationCancelled):
            runner.generate(build_messages(derive(facts)), max_tokens=500, on_token=on_token, cancel=cancel)
        assert (
            runner.generate(build_messages(derive(facts)), max_tokens=4, seed=1).stats.completion_tokens >= 1
        )
    assert 3 <= len(got) < 500


# --- the model in a process of its own -----------------------------------------------------------


def test_the_model_runs_in_a_process_of_its_own_and_writes_the_same_text(tiny_gguf, facts):
    from hiitpi.coach.isolated import ProcessRunner
    from hiitpi.coach.llm import LlamaRunner

    messages = build_messages(derive(facts))
    with LlamaRunner(tiny_gguf, n_threads=1) as here:
        expected = here.generate(messages, max_tokens=24, seed=3)
    runner = ProcessRunner(tiny_gguf, n_threads=1)
    assert not runner.loaded and runner._proc is None  # no process until the first job
    pieces: list[str] = []
    gen = runner.generate(messages, max_tokens=24, seed=3, on_token=pieces.append)
    child = runner._proc
    assert runner.loaded and child.pid != os.getpid() and child.poll() is None
    assert gen.text == expected.text and "".join(pieces) == gen.text
    assert gen.stats.completion_tokens == expected.stats.completion_tokens and runner.load_s > 0
    assert runner.generate(messages, max_tokens=24, seed=3).text == gen.text  # same seed, same text
    assert runner._proc is child  # loaded once, kept between jobs
    runner.close()
    assert not runner.loaded and child.poll() is not None  # the process, and its memory, are gone


def test_a_crash_in_the_model_process_fails_that_job_only(tiny_gguf, facts):
    import signal

    from hiitpi.coach.isolated import ProcessRunner
    from hiitpi.coach.llm import CoachProcessDied

    runner = ProcessRunner(tiny_gguf, n_threads=1)
    messages = build_messages(derive(facts))

    def crash(piece: str) -> None:  # llama.cpp dying as it writes (what a segfault does)
        if runner._proc is not None:
            os.kill(runner._proc.pid, signal.SIGSEGV)

    with pytest.raises(CoachProcessDied, match="killed by SIGSEGV"):
        runner.generate(messages, max_tokens=400, on_token=crash)
    assert not runner.loaded and runner._proc is None
    assert runner.generate(messages, max_tokens=4, seed=1).stats.completion_tokens >= 1  # a fresh one
    runner.close()


def test_a_crash_while_writing_the_summary_gives_the_template_and_says_so(tiny_gguf, facts):
    import signal

    from hiitpi.coach.summary import Coach
    from hiitpi.coach.template import template_summary

    coach = Coach(tiny_gguf, threads=1, nice=0, max_tokens=200)

    def on_event(ev) -> None:
        runner = coach.model._runner
        if ev.kind == "token" and ev.source == "model" and runner is not None and runner._proc is not None:
            os.kill(runner._proc.pid, signal.SIGSEGV)

    s = coach.summarize(facts, on_event=on_event)
    assert s.kind == "template" and s.text == template_summary(derive(facts))
    assert "model process was killed by SIGSEGV" in s.reason
    assert coach.summarize(facts).attempts  # the next summary starts a new process


# --- the summary flow and its fallbacks --------------------------------------------------------


def test_missing_model_file_gives_the_template_with_the_reason(tmp_path, facts):
    from hiitpi.coach.summary import Coach
    from hiitpi.coach.template import template_summary

    events = []
    s = Coach(tmp_path / "nope.gguf").summarize(facts, on_event=events.append)
    assert s.kind == "template" and s.text == template_summary(derive(facts))
    assert "not found" in s.reason and "hiitpi models fetch" in s.reason
    assert [e.kind for e in events][-3:] == ["start", "token", "done"] and events[-1].source == "template"


def test_no_model_configured_names_the_manifest_entry(tmp_path, facts):
    from hiitpi.coach.summary import Coach
    from hiitpi.config import load_settings

    settings = load_settings(None, env={}, overrides={("general", "data_dir"): str(tmp_path)})
    s = Coach.from_settings(settings).summarize(facts)
    assert s.kind == "template" and s.reason.startswith("model file missing") and "tinyllama" in s.reason


@pytest.mark.parametrize("damage", ["truncated", "not-gguf", "empty"])
def test_corrupt_model_file_gives_the_template(tmp_path, tiny_gguf, facts, damage):
    from hiitpi.coach.summary import Coach

    bad = tmp_path / "bad.gguf"
    data = tiny_gguf.read_bytes()
    bad.write_bytes(
        {"truncated": data[: len(data) // 3], "not-gguf": b"<html>404</html>" + data[:4096], "empty": b""}[
            damage
        ]
    )
    s = Coach(bad, threads=1, nice=0).summarize(facts)
    assert s.kind == "template"
    assert ("failed to load" in s.reason) and (s.attempts[0].error is not None)


def test_time_limit_gives_the_template(tiny_gguf, facts):
    from hiitpi.coach.summary import Coach

    events = []
    s = Coach(tiny_gguf, threads=1, nice=0, timeout_s=0.05, max_tokens=600).summarize(
        facts, on_event=events.append
    )
    assert s.kind == "template" and "time limit of 0.05 s" in s.reason
    assert [e.kind for e in events if e.source == "model"][:1] == ["start"]
    assert any(e.kind == "discard" and e.text == "time limit reached" for e in events)


def test_prompt_longer_than_the_context_gives_the_template(tiny_gguf, facts):
    from hiitpi.coach.summary import Coach

    s = Coach(tiny_gguf, threads=1, nice=0, n_ctx=256).summarize(facts)
    assert s.kind == "template" and s.reason.startswith("model error") and "context" in s.reason


def test_text_with_wrong_numbers_is_regenerated_once_then_replaced(tiny_gguf, facts):
    """Noise made of digits: full of numbers the facts do not have."""
    from hiitpi.coach.summary import Coach

    events = []
    coach = Coach(tiny_gguf, threads=1, nice=0, max_tokens=12, sampling={"grammar": _grammar(DIGITS_ONLY)})
    s = coach.summarize(facts, on_event=events.append)
    assert s.kind == "template" and "failed the fact check 2 times" in s.reason
    assert len(s.attempts) == 2 and not any(a.accepted for a in s.attempts)
    assert all(a.problems and a.stats for a in s.attempts)
    assert [e.kind for e in events if e.kind in ("start", "discard", "done")] == [
        "start", "discard", "start", "discard", "start", "done",
    ]  # fmt: skip
    streamed = "".join(e.text for e in events if e.kind == "token" and e.attempt == 1 and e.source == "model")
    assert " ".join(streamed.split()) == s.attempts[0].text


def test_noise_without_numbers_fails_the_language_check_and_the_page_says_why(tiny_gguf, facts):
    """Noise without digits states no wrong number, but it is not an English summary: regenerated
    once (told why), then the template, with a reason a person can read."""
    from hiitpi.coach.explain import explain
    from hiitpi.coach.summary import Coach

    s = Coach(
        tiny_gguf, threads=1, nice=0, max_tokens=16, sampling={"grammar": _grammar(NO_DIGITS)}
    ).summarize(facts)
    assert check_summary(s.attempts[0].text, derive(facts)).ok  # the numbers alone let it through
    assert s.kind == "template" and len(s.attempts) == 2 and not any(a.accepted for a in s.attempts)
    assert "language: " in s.reason and "does not give the rep count (24)" in s.reason
    assert explain(s.reason).startswith(
        "The coach model twice wrote text that was not a plain English summary"
    )


#: A grammar that makes the noise model write one fixed English summary of `example_facts`.
ENGLISH = (
    '"Sam did 24 reps of squat, with 3 no-reps, mostly not low enough. Next time, keep each rep deep '
    'and steady."'
)


def test_an_english_summary_with_the_facts_numbers_is_the_model_summary(tiny_gguf, facts):
    from hiitpi.coach.language import check_language
    from hiitpi.coach.summary import Coach

    s = Coach(tiny_gguf, threads=1, nice=0, max_tokens=60, sampling={"grammar": _grammar(ENGLISH)}).summarize(
        facts
    )
    assert s.kind == "model" and s.reason is None and s.text.startswith("Sam did 24 reps of squat")
    assert len(s.attempts) == 1 and s.attempts[0].accepted
    assert check_language(s.text, derive(facts)) == []


# --- the background worker ---------------------------------------------------------------------


def test_worker_runs_off_the_callers_thread_and_streams(tiny_gguf, facts):
    from hiitpi.coach.job import CoachWorker
    from hiitpi.coach.summary import Coach

    coach = Coach(tiny_gguf, threads=1, max_tokens=200, sampling={"grammar": _grammar(NO_DIGITS)})
    worker = CoachWorker(coach)
    events, done, nice = [], [], []
    caller_nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())

    def on_event(ev) -> None:
        events.append(ev)
        runner = coach.model._runner
        if ev.kind == "token" and not nice and runner is not None and runner._proc is not None:
            # the model runs in its own process, niced as a whole (every llama.cpp thread)
            nice.append(os.getpriority(os.PRIO_PROCESS, runner._proc.pid))

    try:
        t0 = time.monotonic()
        job = worker.submit(facts, on_event=on_event, on_done=done.append)
        submit_s = time.monotonic() - t0
        # the caller keeps ticking while the summary is written
        ticks, last, worst = 0, time.monotonic(), 0.0
        while not job.done:
            time.sleep(0.01)
            now = time.monotonic()
            worst, last, ticks = max(worst, now - last), now, ticks + 1
        summary = job.wait(5)
    finally:
        worker.stop()
    total = time.monotonic() - t0
    # blocking would show as one gap as long as the job; a busy shared machine adds scheduling noise
    assert submit_s < 0.25 * total and worst < 0.5 * total, (submit_s, worst, total)
    assert ticks >= 10
    assert summary is not None and done == [summary]
    snap = job.snapshot()
    assert snap.status == "done" and snap.kind == summary.kind and snap.text == summary.text
    assert events[0].kind == "start" and events[-1].kind == "done"
    assert nice and nice[0] >= max(10, caller_nice)  # the model runs niced ([coach] nice, default 10)
    # the caller keeps its own priority (the suite itself may run under `nice`)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == caller_nice


def test_worker_stop_cancels_a_running_job(tiny_gguf, facts):
    from hiitpi.coach.job import CoachWorker
    from hiitpi.coach.summary import Coach

    started = threading.Event()
    worker = CoachWorker(Coach(tiny_gguf, threads=1, max_tokens=900, timeout_s=60))
    job = worker.submit(facts, on_event=lambda e: e.kind == "token" and started.set())
    assert started.wait(20)
    t0 = time.monotonic()
    worker.stop()
    assert time.monotonic() - t0 < 3.0
    assert job.done and job.summary is not None and job.summary.reason == "cancelled"


# --- the commands ------------------------------------------------------------------------------


def _record_session(db: Path) -> int:
    from hiitpi.referee.events import RefEvent
    from hiitpi.store import SessionRecorder, Store

    store = Store.open(db)
    rec = SessionRecorder(store, flush_interval_s=0.05)
    start = datetime(2026, 3, 1, 7, 30, tzinfo=UTC)
    sid = rec.start_session("Ana", "squat", started_at=start)
    t = 0.0
    for i in range(12):
        d = 2.0 + 0.1 * i
        rec.record(
            RefEvent("rep", "squat", t, t + d, count=i + 1, eccentric_s=d * 0.5, concentric_s=d * 0.5),
            at=start + timedelta(seconds=t + d),
        )
        t += d + 0.5
    rec.record(
        RefEvent("no_rep", "squat", t, t + 2, reason="not low enough"), at=start + timedelta(seconds=t + 2)
    )
    rec.end_session(ended_at=start + timedelta(seconds=t + 4))
    rec.close()
    store.close()
    return sid


def _hiitpi(*args: str, data: Path, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIITPI_")}
    env["HIITPI_DATA_DIR"] = str(data)
    env["HIITPI_COACH_THREADS"] = "1"  # two threads on a busy 2-core machine spin against each other
    env.update(env_extra or {})
    return subprocess.run(
        [sys.executable, "-m", "hiitpi", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        cwd=REPO,
    )


def test_summary_command_streams_and_stores(tmp_path, tiny_gguf):
    from hiitpi.store import Store
    from hiitpi.store.queries import session_detail

    db = tmp_path / "hiitpi.db"
    sid = _record_session(db)
    res = _hiitpi(
        "summary",
        str(sid),
        "--model",
        str(tiny_gguf),
        "--database",
        str(db),
        "--max-tokens",
        "24",
        data=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    assert "[model tiny-llama-spm-q8_0.gguf, try 1]" in res.stderr
    store = Store.open(db)
    try:
        d = session_detail(store, sid)
    finally:
        store.close()
    assert d.session.summary_kind in ("model", "template") and d.summary
    if d.session.summary_kind == "template":  # the noise held a wrong number twice
        assert "fact check" in d.summary_reason and d.summary in res.stdout
    else:
        assert d.summary_reason is None


def test_summary_command_without_model_stores_the_template_with_its_reason(tmp_path):
    from hiitpi.store import Store
    from hiitpi.store.queries import session_detail

    db = tmp_path / "hiitpi.db"
    sid = _record_session(db)
    res = _hiitpi("summary", str(sid), "--database", str(db), "--json", data=tmp_path)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["kind"] == "template" and out["reason"].startswith("model file missing")
    assert "12 reps of Squat" in out["text"]  # the workout's title
    store = Store.open(db)
    try:
        d = session_detail(store, sid)
    finally:
        store.close()
    assert (d.summary, d.session.summary_kind, d.summary_reason) == (out["text"], "template", out["reason"])
    missing = _hiitpi("summary", "999", "--database", str(db), data=tmp_path)
    assert missing.returncode == 2 and "999" in missing.stderr
    assert "Traceback" not in missing.stderr and "Background on this error" not in missing.stderr


def test_bench_coach_reports_load_first_token_and_speeds(tmp_path, tiny_gguf):
    res = _hiitpi(
        "bench",
        "coach",
        "--model",
        str(tiny_gguf),
        "--runs",
        "2",
        "--max-tokens",
        "16",
        "--json",
        data=tmp_path,
    )
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    for key in ("load_s", "ttft_s", "prompt_tok_s", "gen_tok_s"):
        assert out[key]["median"] > 0, key
    assert out["prompt_tokens"] > 100
    pi4 = out["expected_on_pi"]["Raspberry Pi 4"]
    assert pi4["expected_s"] == pytest.approx(out["prompt_tokens"] / 10.0 + 150 / 3.0)
    bad = _hiitpi("bench", "coach", "--model", str(tmp_path / "none.gguf"), data=tmp_path)
    assert bad.returncode == 1 and "not found" in bad.stderr


def test_maker_script_cli(tmp_path, tiny_gguf):
    """The script as a user runs it; any GGUF with the Llama-2 tokenizer serves as --vocab."""
    out = tmp_path / "m.gguf"
    res = subprocess.run(
        [
            sys.executable,
            str(REPO / "scripts" / "make_tiny_gguf.py"),
            str(out),
            "--vocab",
            str(tiny_gguf),
            "--seed",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert out.read_bytes()[:4] == b"GGUF" and out.stat().st_size == tiny_gguf.stat().st_size
    assert out.read_bytes() != tiny_gguf.read_bytes()  # another seed, other weights
