"""`hiitpi bench ...`: benchmarks, one per part of the pipeline.

Each benchmark lives in `hiitpi.bench` and exposes ``register_bench(bench_subparsers)``.
"""

from __future__ import annotations

import argparse
import importlib

#: Modules that add a `hiitpi bench NAME` subcommand.
BENCH_MODULES: tuple[str, ...] = (
    "hiitpi.bench.pose",
    "hiitpi.bench.referee",
    "hiitpi.bench.pipeline",
    "hiitpi.bench.coach",
    "hiitpi.bench.chat",
    "hiitpi.bench.recognition",
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "bench",
        help="measure speed (pose model, referee, pipeline, coach, chat, recognition)",
        description="Benchmarks on real data. Report medians: timings on shared machines are noisy.",
    )
    bsub = p.add_subparsers(dest="bench_command", metavar="BENCH", required=True)
    for name in BENCH_MODULES:
        importlib.import_module(name).register_bench(bsub)
