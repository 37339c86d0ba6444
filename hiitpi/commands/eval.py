"""`hiitpi eval clips|repcount`: rep-counting accuracy (MAE, OBO) on labelled data."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval",
        help="measure rep-counting accuracy (MAE, OBO) on labelled clips or pose sequences",
        description=__doc__,
    )
    esub = p.add_subparsers(dest="eval_command", metavar="DATA", required=True)
    clips = esub.add_parser(
        "clips",
        help="every video in a manifest CSV (file, exercise, gt_reps[, gt_min, gt_max])",
        description="Runs the real pipeline (pose model, smoothing, referee) on every clip of a manifest. "
        "Paths in the manifest are relative to its folder. Raw poses are cached per file and model "
        "(<data_dir>/cache/poses) so a second run only re-runs the referee.",
    )
    clips.add_argument("manifest", help="CSV with columns file, exercise, gt_reps (gt_min, gt_max optional)")
    clips.add_argument("--model", help="pose model (default [pose] model)")
    clips.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    clips.add_argument("--json", action="store_true", help="print one JSON object")
    clips.add_argument("--cache-dir", help="pose cache folder (default <data_dir>/cache/poses)")
    clips.add_argument("--no-cache", action="store_true", help="always run the pose model")
    clips.add_argument("--no-progress", action="store_true", help="no progress bars")
    clips.set_defaults(func=clips_cmd, settings_overrides=_overrides)
    rc = esub.add_parser(
        "repcount",
        help="RepCount-A pose sequences (an index CSV and a folder of <video stem>.npy arrays)",
        description="Counts reps on RepCount-A pose sequences (33 BlazePose landmarks per frame, "
        "min-max normalised per frame) with the same rules as the live referee.",
    )
    rc.add_argument("index", help="index.csv with columns video, exercise, count")
    rc.add_argument("pose_dir", help="folder with <video stem>.npy files")
    rc.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences (default 30)")
    rc.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    rc.add_argument("--json", action="store_true", help="print one JSON object")
    rc.set_defaults(func=repcount_cmd, settings_overrides=_overrides)
    from hiitpi.commands import eval_recognition

    eval_recognition.register(esub)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): getattr(args, "model", None),
        ("referee", "rules_dir"): getattr(args, "rules_dir", None),
    }


def _catalog(settings: Settings):
    from hiitpi.cli import UsageError
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(settings.referee.rules_dir)
    for line in cat.errors:
        print(f"hiitpi: rules error: {line}", file=sys.stderr)
    if not cat.workouts:
        raise UsageError(f"no usable rules in {settings.referee.rules_dir} (run `hiitpi rules check`)")
    return cat


def clips_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.cli import UsageError
    from hiitpi.offline.poses import count_poses, video_poses
    from hiitpi.pose.smoothing import PoseSmoother
    from hiitpi.referee.evaluate import ClipResult, ManifestError, read_manifest, summarize
    from hiitpi.referee.machine import Referee

    try:
        rows = read_manifest(args.manifest)
    except ManifestError as exc:
        raise UsageError(str(exc)) from exc
    catalog = _catalog(settings)
    results: list[ClipResult] = []
    for row in rows:
        res = ClipResult(row.file, row.exercise, row.gt, None, row.gt_min, row.gt_max)
        results.append(res)
        try:
            rule = catalog.workout(row.exercise)
        except KeyError as exc:
            res.error = str(exc)
            continue
        try:
            cache_dir = "" if args.no_cache else args.cache_dir
            poses, info = video_poses(row.path, settings, cache_dir=cache_dir, progress=not args.no_progress)
        except Exception as exc:  # one bad clip must not stop the evaluation
            res.error = f"{type(exc).__name__}: {exc}"
            log.warning("%s: %s", row.file, res.error)
            continue
        referee = Referee(rule, settings.referee.pace_window_s)
        count_poses(poses, info, referee, PoseSmoother.from_settings(settings.pose.smoothing))
        res.pred = referee.count
        res.no_reps = referee.no_reps
        log.info("%s: gt %d pred %d", row.file, row.gt, res.pred)
    report = summarize(results, key="file")
    report["model"] = settings.pose.model
    report["manifest"] = str(args.manifest)
    _print(report, args.json, "file")
    return 0 if report["failed"] == 0 else 1


def repcount_cmd(args: argparse.Namespace, settings: Settings) -> int:
    import numpy as np

    from hiitpi.cli import UsageError
    from hiitpi.pose.smoothing import PoseSmoother
    from hiitpi.referee.evaluate import (
        ClipResult,
        ManifestError,
        read_repcount_index,
        repcount_poses,
        summarize,
    )
    from hiitpi.referee.machine import Referee

    try:
        rows = read_repcount_index(args.index)
    except ManifestError as exc:
        raise UsageError(str(exc)) from exc
    pose_dir = Path(args.pose_dir)
    if not pose_dir.is_dir():
        raise UsageError(f"{pose_dir}: pose folder not found")
    catalog = _catalog(settings)
    results = []
    for row in rows:
        res = ClipResult(row.video, row.exercise, row.count, None)
        results.append(res)
        npy = pose_dir / (Path(row.video).stem + ".npy")
        try:
            rule = catalog.workout(row.exercise)
            array = np.load(npy)
        except KeyError as exc:
            res.error = str(exc)
            continue
        except (OSError, ValueError) as exc:
            res.error = f"{npy}: {exc}"
            continue
        referee = Referee(rule, settings.referee.pace_window_s)
        # the live pipeline minus the pose model: the same One Euro smoothing, then the referee
        smoother = PoseSmoother.from_settings(settings.pose.smoothing)
        for i, pose in enumerate(repcount_poses(array, args.fps)):
            referee.update(smoother.filter(pose) if pose is not None else None, i / args.fps)
        res.pred = referee.count
        res.no_reps = referee.no_reps
    report = summarize(results, key="video")
    report["index"] = str(args.index)
    report["fps"] = args.fps
    _print(report, args.json, "video")
    return 0 if report["failed"] == 0 else 1


def _print(report: dict, as_json: bool, key: str) -> None:
    from hiitpi.referee.evaluate import format_table

    if as_json:
        print(json.dumps(report, indent=1))
    else:
        print(format_table(report, key))
