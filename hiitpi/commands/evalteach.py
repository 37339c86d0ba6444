"""`hiitpi eval teach MANIFEST`: rules taught by demonstration, counted on other clips (a sub-parser
of `hiitpi eval`)."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def register(esub: argparse._SubParsersAction) -> None:
    from hiitpi.teach import evaluate

    p = esub.add_parser(
        "teach",
        help="teach each clip's exercise from another clip (or its first reps) and count; similarity scores",
        description=evaluate.__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "manifest", help="CSV with columns file, exercise, gt_reps (gt_min, gt_max, gt_hold_s optional)"
    )
    p.add_argument("--model", help="pose model (default [pose] model)")
    p.add_argument(
        "--rules", dest="rules_dir", help="rules folder for the similarity part (default [referee] rules_dir)"
    )
    p.add_argument(
        "--no-reps", action="store_true", help="do not tell the teacher how many reps a clip shows"
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--cache-dir", help="pose cache folder (default <data_dir>/cache/poses)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(func=teach_eval_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {("pose", "model"): args.model, ("referee", "rules_dir"): args.rules_dir}


def teach_eval_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from tqdm import tqdm

    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.datasets import read_manifest
    from hiitpi.teach.evaluate import evaluate, format_report
    from hiitpi.teach.session import load_demo

    rows = read_manifest(args.manifest)
    progress = not args.no_progress
    demos, failed = {}, []
    for row in tqdm(rows, desc="poses", disable=not progress, leave=False):
        try:
            demos[row.file] = load_demo(row.path, settings, progress=progress, cache_dir=args.cache_dir)
        except Exception as exc:  # one bad clip must not stop the evaluation
            failed.append({"file": row.file, "error": f"{type(exc).__name__}: {exc}"})
            log.warning("%s: %s", row.file, exc)
    cat = load_catalog(settings.referee.rules_dir)
    report = evaluate(
        rows, demos, cat if cat.workouts else None, tell_reps=not args.no_reps, progress=progress
    )
    report["manifest"] = str(Path(args.manifest))
    report["model"] = settings.pose.model
    report["told_reps"] = not args.no_reps
    if failed:
        report["unreadable"] = failed
    print(json.dumps(report, indent=1) if args.json else format_report(report))
    return 0 if not failed else 1
