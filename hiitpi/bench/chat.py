"""`hiitpi bench chat [--model PATH] [--json]`: the chat's first-token and total time for five questions
about the coach's example session (`example_facts` with `example_history`), asked one after
another with the model kept loaded, as on the device.

Per question: the prompt's length in tokens (system, facts, question; exact for TinyLlama, whose
tokenizer the tiny test model shares), the tokens llama.cpp evaluated (fewer after the first
question: the system prompt is reused from its cache), time to first token and total, and the
plain answer's length in tokens (what a correct answer has to say). From those and the published
TinyLlama Q8_0 rates (`hiitpi.bench.coach.PUBLISHED_PI`) it prints the expected first-token and
total time on a Raspberry Pi 4 and 5.
"""

from __future__ import annotations

import argparse
import json
import logging

from hiitpi.bench.coach import PUBLISHED_PI
from hiitpi.stats import percentile

log = logging.getLogger(__name__)

QUESTIONS = (
    "How many reps did I do?",
    "Why did some attempts not count?",
    "Did I slow down in the second half?",
    "What should I work on next time?",
    "How does this compare with my last session?",
)


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "chat", help="the chat: first token and total time for five questions", description=__doc__
    )
    p.add_argument("--model", metavar="PATH", help="GGUF file (default: [coach] model_path, else tinyllama)")
    p.add_argument("--max-tokens", type=int, default=80, help="tokens an answer may take (default 80)")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default [coach] threads)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=bench_chat_cmd)


def run_chat_bench(model_path, *, max_tokens: int, threads: int) -> dict:
    """Ask `QUESTIONS` once each on one loaded model; the measured and the expected figures."""
    from hiitpi.coach.chat import plain_answer
    from hiitpi.coach.chatfacts import ChatContext, all_facts
    from hiitpi.coach.facts import example_facts, example_history
    from hiitpi.coach.llm import LlamaRunner
    from hiitpi.coach.prompt import build_chat_messages
    from hiitpi.coach.retrieve import select_facts

    ctx = ChatContext(example_history(), example_facts())
    facts = all_facts(ctx)
    rows = []
    with LlamaRunner(model_path, n_threads=threads, nice=0) as runner:
        load_s = runner.load()
        for i, q in enumerate(QUESTIONS):
            sel = select_facts(q, facts, ctx)
            messages = build_chat_messages(q, [f.text for f in sel.facts])
            prompt = runner.count_tokens(messages) + 1  # + BOS
            answer = len(runner._llm.tokenize(plain_answer(sel.plain).encode(), add_bos=False))
            gen = runner.generate(messages, max_tokens=max_tokens, temperature=0.3, seed=i)
            st = gen.stats
            rows.append(
                {
                    "question": q,
                    "facts": [f.key for f in sel.facts],
                    "prompt_tokens": prompt,
                    "evaluated_prompt_tokens": st.prompt_tokens,
                    "plain_answer_tokens": answer,
                    "completion_tokens": st.completion_tokens,
                    "ttft_s": st.ttft_s,
                    "total_s": st.total_s,
                    "prompt_tok_s": st.prompt_tps,
                    "gen_tok_s": st.gen_tps,
                }
            )
            log.info("question %d: %s", i + 1, st)
    expected = {}
    for name, (pp, tg) in PUBLISHED_PI.items():
        per = []
        for r in rows:
            first = r["prompt_tokens"] / pp + 1 / tg  # the whole prompt: a cold cache, the worst case
            warm = r["evaluated_prompt_tokens"] / pp + 1 / tg
            per.append(
                {
                    "question": r["question"],
                    "first_token_s": first,
                    "first_token_warm_s": warm,
                    "total_s": first + (r["plain_answer_tokens"] - 1) / tg,
                }
            )
        expected[name] = {"prompt_tok_s": pp, "gen_tok_s": tg, "questions": per}
    return {
        "model": str(model_path),
        "threads": threads,
        "load_s": load_s,
        "questions": rows,
        "expected_on_pi": expected,
    }


def bench_chat_cmd(args: argparse.Namespace, settings) -> int:
    from hiitpi.coach.summary import resolve_model_path
    from hiitpi.errors import HiitpiError

    path, missing = resolve_model_path(settings, args.model)
    if path is None:
        raise HiitpiError(missing or "no model file", "pass --model PATH")
    res = run_chat_bench(path, max_tokens=args.max_tokens, threads=args.threads or settings.coach.threads)
    if args.json:
        print(json.dumps(res, indent=2))
        return 0
    print(f"model: {res['model']}   threads: {res['threads']}   load: {res['load_s']:.2f} s")
    print(f"{'question':45s} {'prompt':>6s} {'evald':>5s} {'answer':>6s} {'first (s)':>9s} {'total (s)':>9s}")
    for r in res["questions"]:
        print(
            f"{r['question'][:45]:45s} {r['prompt_tokens']:6d} {r['evaluated_prompt_tokens']:5d} "
            f"{r['plain_answer_tokens']:6d} {r['ttft_s'] or 0:9.3f} {r['total_s']:9.3f}"
        )
    print("(prompt: tokens in the prompt; evald: tokens llama.cpp evaluated, the rest came from its cache;")
    print(" answer: tokens of the plain answer, the length a correct answer needs)")
    print("expected with TinyLlama Q8_0 at the published rates (cold cache; warm in brackets):")
    for name, e in res["expected_on_pi"].items():
        firsts = [q["first_token_s"] for q in e["questions"]]
        warms = [q["first_token_warm_s"] for q in e["questions"]]
        totals = [q["total_s"] for q in e["questions"]]
        print(
            f"  {name} ({e['prompt_tok_s']:.0f} tok/s prompt, {e['gen_tok_s']:.0f} tok/s generation): first token "
            f"median {percentile(firsts, 50):.0f} s (warm {percentile(warms, 50):.0f} s), "
            f"total median {percentile(totals, 50):.0f} s, max {max(totals):.0f} s"
        )
        for q in e["questions"]:
            print(
                f"    {q['question'][:45]:45s} first {q['first_token_s']:5.1f} s ({q['first_token_warm_s']:4.1f})   total {q['total_s']:5.1f} s"
            )
    return 0
