"""`hiitpi eval clips|repcount|countix`: rep-counting accuracy (MAE, OBO) and hold-time error on labelled data."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)

#: the pose-sequence data sets: name -> (what they are, default counting convention)
POSE_SETS = {
    "repcount": "RepCount-A pose sequences (an index CSV and a folder of <video stem>.npy arrays, 104 columns)",
    "countix": "Countix-Fitness pose sequences (an index CSV and a folder of <video stem>.npy arrays, 99 columns)",
}


def register(sub: argparse._SubParsersAction) -> None:
    from hiitpi.referee.machine import COUNTING

    p = sub.add_parser(
        "eval",
        help="measure rep-counting accuracy (MAE, OBO) on labelled clips or pose sequences",
        description=__doc__,
    )
    esub = p.add_subparsers(dest="eval_command", metavar="DATA", required=True)
    clips = esub.add_parser(
        "clips",
        help="every video in a manifest CSV (file, exercise, gt_reps[, gt_min, gt_max, gt_hold_s])",
        description="Runs the real pipeline (pose model, smoothing, referee) on every clip of a manifest. "
        "Paths in the manifest are relative to its folder. Raw poses are cached per file and model "
        "(<data_dir>/cache/poses) so a second run only re-runs the referee. Timed holds (a gt_hold_s "
        "column) are scored by the seconds held. Complete reps are the labels: judge mode by default.",
    )
    clips.add_argument(
        "manifest", help="CSV with columns file, exercise, gt_reps (gt_min, gt_max, gt_hold_s optional)"
    )
    clips.add_argument("--model", help="pose model (default [pose] model)")
    clips.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    clips.add_argument(
        "--counting", choices=COUNTING, default="judge", help="counting convention (default judge)"
    )
    clips.add_argument("--json", action="store_true", help="print one JSON object")
    clips.add_argument("--cache-dir", help="pose cache folder (default <data_dir>/cache/poses)")
    clips.add_argument("--no-cache", action="store_true", help="always run the pose model")
    clips.add_argument("--no-progress", action="store_true", help="no progress bars")
    _max_fps_option(clips)
    clips.set_defaults(func=clips_cmd, settings_overrides=_overrides)
    for name, what in POSE_SETS.items():
        rc = esub.add_parser(
            name,
            help=what,
            description=f"Counts reps on {what.split(' (')[0]} (33 BlazePose landmarks per frame, min-max "
            "normalised per frame) with the same rules as the live referee. Their labels count every "
            "attempted repetition: attempts mode by default. Sequences of exercises that are not "
            "workouts here are listed, not scored.",
        )
        rc.add_argument("index", help="index.csv with columns video, exercise, count")
        rc.add_argument("pose_dir", help="folder with <video stem>.npy files")
        rc.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences (default 30)")
        rc.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
        rc.add_argument(
            "--counting", choices=COUNTING, default="attempts", help="counting convention (default attempts)"
        )
        rc.add_argument(
            "--turn",
            type=int,
            choices=(0, 90, 180, 270),
            default=0,
            help="turn every sequence's picture clockwise by this many degrees first (a camera on its side)",
        )
        rc.add_argument(
            "--hide",
            choices=("feet", "head"),
            default="",
            help="leave that part of the body unseen in every pose first (a tight crop)",
        )
        _max_fps_option(rc)
        rc.add_argument("--json", action="store_true", help="print one JSON object")
        rc.set_defaults(func=poses_cmd, settings_overrides=_overrides, data_set=name)
    from hiitpi.commands import eval_recognition, evalteach

    eval_recognition.register(esub)
    evalteach.register(esub)


def _frames_a_second(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1000:
        raise argparse.ArgumentTypeError(f"{text!r} is not a frame rate (frames a second, above 0)")
    return value


def _max_fps_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-fps",
        type=_frames_a_second,
        help="analyse at most this many frames a second (every k-th frame), as a slower pose model "
        "does: a Pi without a Coral analyses about 10",
    )


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): getattr(args, "model", None),
        ("referee", "rules_dir"): getattr(args, "rules_dir", None),
    }


def _catalog(settings: Settings):
    from hiitpi.errors import InputError
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(settings.referee.rules_dir)
    for line in cat.errors:
        print(f"hiitpi: rules error: {line}", file=sys.stderr)
    if not cat.workouts:
        raise InputError(f"no usable rules in {settings.referee.rules_dir}", "run `hiitpi rules check`")
    return cat


def clips_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.datasets import read_manifest
    from hiitpi.referee.evaluate import score_clips, summarize

    rows = read_manifest(args.manifest)
    catalog = _catalog(settings)
    cache_dir = "" if args.no_cache else args.cache_dir
    results = score_clips(
        rows,
        catalog,
        settings,
        args.counting,
        cache_dir=cache_dir,
        progress=not args.no_progress,
        max_fps=args.max_fps,
    )
    report = summarize(results, key="file")
    report["model"] = settings.pose.model
    report["max_fps"] = args.max_fps
    report["manifest"] = str(args.manifest)
    report["counting"] = args.counting
    _print(report, args.json, "file")
    return 0 if report["failed"] == 0 else 1


def poses_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.errors import InputError
    from hiitpi.referee.datasets import read_pose_index
    from hiitpi.referee.evaluate import score_pose_sequences, summarize

    rows = read_pose_index(args.index)
    pose_dir = Path(args.pose_dir)
    if not pose_dir.is_dir():
        raise InputError(f"{pose_dir}: pose folder not found", "give the folder of <video stem>.npy files")
    catalog = _catalog(settings)
    results = score_pose_sequences(
        rows,
        pose_dir,
        catalog,
        settings,
        args.fps,
        args.counting,
        source=args.data_set,
        turn=args.turn,
        hide=args.hide,
        max_fps=args.max_fps,
    )
    report = summarize(results, key="video")
    report["index"] = str(args.index)
    report["fps"] = args.fps
    report["max_fps"] = args.max_fps
    report["turn"] = args.turn
    report["hidden"] = args.hide or None
    report["counting"] = args.counting
    _print(report, args.json, "video")
    return 0 if report["failed"] == 0 else 1


def _print(report: dict, as_json: bool, key: str) -> None:
    from hiitpi.referee.evaluate import format_table

    if as_json:
        print(json.dumps(report, indent=1))
    else:
        print(format_table(report, key))
