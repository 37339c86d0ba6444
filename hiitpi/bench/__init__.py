"""Benchmarks, one module per part: `hiitpi bench pose|referee|pipeline|coach`.

Each module exposes ``register_bench(bench_subparsers)`` and a ``run_*`` function the tests and
scripts call. Timings are reported as medians and percentiles (`hiitpi.stats`), CPU time beside
wall time: on a shared machine wall time includes waiting for a core.
"""
