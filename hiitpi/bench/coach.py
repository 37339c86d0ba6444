"""`hiitpi bench coach [--model PATH] [--json]`: load time, time to first token, prompt and generation
tokens per second, with the coach's real prompt (an example 24-rep squat session).

Each run loads the model, streams one summary and releases it — what a summary costs on the
device. Medians and p90 over ``--runs``. The prompt's token count is exact for TinyLlama (the
tiny test model has the same tokenizer), so the expected time on a Raspberry Pi is also printed
from the published llama.cpp figures for TinyLlama Q8_0 (see docs/coach.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from hiitpi.coach.facts import example_facts
from hiitpi.stats import percentile

log = logging.getLogger(__name__)

#: Published llama.cpp figures for TinyLlama-1.1B Q8_0 (prompt tok/s, generation tok/s).
PUBLISHED_PI = {"Raspberry Pi 5": (40.0, 9.0), "Raspberry Pi 4": (10.0, 3.0)}
#: A typical summary length in tokens (3–6 sentences) for the expected-time estimate.
TYPICAL_SUMMARY_TOKENS = 150


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "coach", help="the summary model: load time, first token, tokens/s", description=__doc__
    )
    p.add_argument("--model", metavar="PATH", help="GGUF file (default: [coach] model_path, else tinyllama)")
    p.add_argument("--runs", type=int, default=3, help="load+generate runs (default 3)")
    p.add_argument("--max-tokens", type=int, default=128, help="tokens to generate per run (default 128)")
    p.add_argument("--threads", type=int, help="llama.cpp threads (default [coach] threads)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=bench_coach_cmd)


def run_bench(model_path, *, runs: int, max_tokens: int, threads: int) -> dict:
    """Measure ``runs`` cold load + streamed generation cycles; returns the figures as a dict."""
    from hiitpi.coach.derived import derive
    from hiitpi.coach.llm import LlamaRunner
    from hiitpi.coach.prompt import build_messages

    messages = build_messages(derive(example_facts()))
    rows = []
    for i in range(runs):
        with LlamaRunner(model_path, n_threads=threads) as runner:
            runner.load()
            gen = runner.generate(messages, max_tokens=max_tokens, temperature=0.4, seed=i)
        rows.append(gen.stats)
        log.info("run %d: %s", i + 1, gen.stats)

    def summary(values: list[float | None]) -> dict | None:
        vals = [v for v in values if v is not None]
        if not vals:
            return None
        return {
            "median": percentile(vals, 50),
            "p90": percentile(vals, 90),
            "min": min(vals),
            "max": max(vals),
        }

    prompt_tokens = rows[0].prompt_tokens
    out = {
        "model": str(model_path),
        "runs": runs,
        "threads": threads,
        "prompt_tokens": prompt_tokens,
        "completion_tokens": summary([r.completion_tokens for r in rows]),
        "load_s": summary([r.load_s for r in rows]),
        "ttft_s": summary([r.ttft_s for r in rows]),
        "prompt_tok_s": summary([r.prompt_tps for r in rows]),
        "gen_tok_s": summary([r.gen_tps for r in rows]),
        "expected_on_pi": {
            name: {
                "prompt_tok_s": pp,
                "gen_tok_s": tg,
                "summary_tokens": TYPICAL_SUMMARY_TOKENS,
                "expected_s": prompt_tokens / pp + TYPICAL_SUMMARY_TOKENS / tg,
            }
            for name, (pp, tg) in PUBLISHED_PI.items()
        },
    }
    return out


def bench_coach_cmd(args: argparse.Namespace, settings) -> int:
    from hiitpi.coach.llm import CoachModelError
    from hiitpi.coach.summary import resolve_model_path

    path, missing = resolve_model_path(settings, args.model)
    if path is None:
        print(f"hiitpi: {missing}; or pass --model PATH", file=sys.stderr)
        return 1
    try:
        res = run_bench(
            path,
            runs=max(1, args.runs),
            max_tokens=args.max_tokens,
            threads=args.threads or settings.coach.threads,
        )
    except CoachModelError as exc:
        print(f"hiitpi: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(res, indent=2))
        return 0

    def line(label: str, d: dict | None, fmt: str) -> str:
        if d is None:
            return f"{label:24s} n/a"
        return f"{label:24s} median {d['median']:{fmt}}   p90 {d['p90']:{fmt}}   (min {d['min']:{fmt}}, max {d['max']:{fmt}})"

    print(f"model: {res['model']}   runs: {res['runs']}   threads: {res['threads']}")
    print(
        f"prompt: {res['prompt_tokens']} tokens   generated: median {res['completion_tokens']['median']:.0f} tokens"
    )
    print(line("load (s)", res["load_s"], ".3f"))
    print(line("first token (s)", res["ttft_s"], ".3f"))
    print(line("prompt (tok/s)", res["prompt_tok_s"], ".1f"))
    print(line("generation (tok/s)", res["gen_tok_s"], ".1f"))
    print(
        f"expected summary time for this prompt + {TYPICAL_SUMMARY_TOKENS} tokens, from published TinyLlama Q8_0 figures:"
    )
    for name, e in res["expected_on_pi"].items():
        print(
            f"  {name}: {e['prompt_tok_s']:.0f} tok/s prompt, {e['gen_tok_s']:.0f} tok/s generation -> ~{e['expected_s']:.0f} s"
        )
    return 0
