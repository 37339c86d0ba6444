"""`hiitpi bench referee`: poses per second through the referee's state machine on one core."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "referee",
        help="poses per second through the referee (target: 20,000+ on one core)",
        description="Feeds a pose stream through the referee of each workout and reports the median "
        "rate over several rounds, from the process's CPU time (the work of one core, not inflated "
        "when other programs share the machine; the wall-clock rate is reported beside it). Poses come from RepCount-A sequences when --poses-dir (or "
        "$HIITPI_DATA/repcount_pose/poses) is there, else from the synthetic squatting figure.",
    )
    p.add_argument("--workout", action="append", help="rules name (repeatable; default: every workout)")
    p.add_argument("--rounds", type=int, default=5, help="timed rounds per workout (default 5)")
    p.add_argument("--poses-dir", help="folder of RepCount-A .npy pose arrays")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_cmd)


def _poses(poses_dir: str | None) -> tuple[list, str]:
    import os

    import numpy as np

    from hiitpi.referee.datasets import pose_sequence
    from hiitpi.referee.synth import squat_sequence

    folder = Path(poses_dir) if poses_dir else None
    if folder is None and os.environ.get("HIITPI_DATA"):
        folder = Path(os.environ["HIITPI_DATA"]) / "repcount_pose" / "poses"
    if folder is not None and folder.is_dir():
        poses: list = []
        for f in sorted(folder.glob("*.npy"))[:6]:
            poses.extend(p for p in pose_sequence(np.load(f), 30.0) if p is not None)
        if poses:
            # keep timestamps increasing across files
            for i, p in enumerate(poses):
                p.timestamp = i / 30.0
            return poses, f"RepCount-A poses from {folder}"
    return squat_sequence(100, period_s=2.0), "synthetic squatting figure"


def run_bench(rules: dict[str, Any], poses: list, rounds: int, pace_window_s: float = 20.0) -> dict:
    from hiitpi.referee.machine import Referee

    out = {}
    for name, rule in rules.items():
        cpu_rates, wall_rates = [], []
        for _ in range(rounds):
            ref = Referee(rule, pace_window_s)
            update = ref.update
            c0, w0 = time.process_time(), time.perf_counter()
            for p in poses:
                update(p)
            cpu, wall = time.process_time() - c0, time.perf_counter() - w0
            cpu_rates.append(len(poses) / max(cpu, 1e-9))
            wall_rates.append(len(poses) / max(wall, 1e-9))
        med = statistics.median(cpu_rates)
        out[name] = {
            "median": round(med),
            "min": round(min(cpu_rates)),
            "us_per_pose_median": round(1e6 / med, 2),
            "wall_median": round(statistics.median(wall_rates)),
        }
    return out


def bench_cmd(args: argparse.Namespace, settings: Any) -> int:
    from hiitpi.referee.catalog import load_catalog

    catalog = load_catalog(settings.referee.rules_dir)
    found = [catalog.workout(n) for n in args.workout or sorted(catalog.workouts)]
    rules = {rule.name: rule for rule in found}
    poses, source = _poses(args.poses_dir)
    per = run_bench(rules, poses, max(1, args.rounds), settings.referee.pace_window_s)
    overall = min(v["median"] for v in per.values())
    report = {
        "poses_per_second": overall,
        "slowest_workout": min(per, key=lambda k: per[k]["median"]),
        "per_workout": per,
        "poses": len(poses),
        "rounds": args.rounds,
        "timing": "process CPU time (wall-clock rates in per_workout.*.wall_median)",
        "source": source,
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(f"referee on {len(poses)} poses ({source}), median of {args.rounds} rounds, one core (CPU time):")
    for name, v in per.items():
        print(
            f"  {name:18s} {v['median']:>9,} poses/s  ({v['us_per_pose_median']} us/pose, slowest round "
            f"{v['min']:,}; wall clock {v['wall_median']:,})"
        )
    print(f"poses_per_second (slowest workout): {overall:,}")
    return 0
