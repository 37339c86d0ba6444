"""`hiitpi bench recognition`: the recogniser's cost per frame on one core (CPU time)."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from typing import Any


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "recognition",
        help="the exercise recogniser's cost per frame (target: at most 0.5 ms on one core)",
        description="Feeds a pose stream through auto mode's recogniser (every recognisable workout's "
        "referee, the classifier's features every hop, the decision) and reports the mean cost per "
        "frame from the process's CPU time, median over rounds, with the classifier's part alone "
        "beside it. Poses come from RepCount-A sequences ($HIITPI_DATA/repcount_pose/poses or "
        "--poses-dir), else from the synthetic squatting figure.",
    )
    p.add_argument("--rounds", type=int, default=5, help="timed rounds (default 5)")
    p.add_argument("--poses-dir", help="folder of RepCount-A .npy pose arrays")
    p.add_argument("--recogniser", help="recogniser model file (default: the one shipped)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_cmd)


def run_bench(workouts: dict[str, Any], model: Any, poses: list, rounds: int) -> dict:
    from hiitpi.recognition.recogniser import Recogniser

    per_frame, classify = [], []
    for _ in range(rounds):
        rec = Recogniser(workouts, model)
        c0 = time.process_time()
        for p in poses:
            rec.update(p, p.timestamp)
        per_frame.append((time.process_time() - c0) / len(poses) * 1e6)
        # the same stream with no candidates: what the classifier and the decision cost alone
        bare = Recogniser({}, model)
        c0 = time.process_time()
        for p in poses:
            bare.update(p, p.timestamp)
        classify.append((time.process_time() - c0) / len(poses) * 1e6)
    return {
        "us_per_frame": round(statistics.median(per_frame), 1),
        "us_per_frame_max_round": round(max(per_frame), 1),
        "classifier_us_per_frame": round(statistics.median(classify), 1),
        "candidates": len(Recogniser(workouts, model).candidates),
    }


def bench_cmd(args: argparse.Namespace, settings: Any) -> int:
    from hiitpi.bench.referee import _poses
    from hiitpi.recognition.model import DEFAULT_MODEL, load_model
    from hiitpi.referee.catalog import load_catalog

    catalog = load_catalog(settings.referee.rules_dir)
    model = load_model(args.recogniser)
    poses, source = _poses(args.poses_dir)
    out = run_bench(catalog.workouts, model, poses, max(1, args.rounds))
    report = {
        **out,
        "ms_per_frame": round(out["us_per_frame"] / 1000, 3),
        "poses": len(poses),
        "rounds": args.rounds,
        "timing": "process CPU time, mean per frame, median of the rounds",
        "source": source,
        "model": str(args.recogniser or DEFAULT_MODEL),
    }
    if args.json:
        print(json.dumps(report, indent=1))
        return 0
    print(
        f"recogniser on {len(poses)} poses ({source}), {out['candidates']} candidate referees, "
        f"median of {args.rounds} rounds, one core (CPU time):"
    )
    print(
        f"  {out['us_per_frame']:.1f} us per frame ({report['ms_per_frame']} ms; slowest round {out['us_per_frame_max_round']:.1f} us)"
    )
    print(
        f"  of which the classifier (features, window summary, network, decision): {out['classifier_us_per_frame']:.1f} us"
    )
    return 0
