"""`hiitpi eval recognition clips|poses|switch`: how well auto mode recognises the workout."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def register(esub: argparse._SubParsersAction) -> None:
    p = esub.add_parser(
        "recognition",
        help="exercise recognition (auto mode): right workout, time to recognise, reps in auto mode",
        description="Runs auto mode (the recogniser and the referee it picks) on labelled data: per clip "
        "the true and the recognised workout, the time to the first right decision, the reps auto mode "
        "counted against the hand-picked workout's count; accuracy overall and per exercise.",
    )
    rsub = p.add_subparsers(dest="recognition_data", metavar="DATA", required=True)
    clips = rsub.add_parser("clips", help="every video of a clips manifest (file, exercise, gt_reps)")
    clips.add_argument("manifest", help="CSV with columns file, exercise, gt_reps")
    _common(clips, model=True)
    clips.set_defaults(func=clips_cmd, settings_overrides=_overrides)
    poses = rsub.add_parser(
        "poses",
        help="RepCount-A (104 columns) or Countix-Fitness (99 columns) pose sequences",
        description="Exercises no rule knows (bench press, pull-up...) are scored as 'none': right when "
        "no workout is credited with a rep.",
    )
    poses.add_argument("index", help="index CSV with columns video, exercise, count")
    poses.add_argument("pose_dir", help="folder with <video stem>.npy files")
    poses.add_argument("--fps", type=float, default=30.0, help="frame rate of the sequences (default 30)")
    _common(poses, model=False)
    poses.set_defaults(func=poses_cmd, settings_overrides=_overrides)
    sw = rsub.add_parser(
        "switch",
        help="clips joined two by two (different workouts, a rest between): time to follow the switch",
        description="Each clip of the manifest is followed, after REST seconds of its last pose held still, "
        "by the next clip of another workout; scored on the time from the second clip's start to its "
        "workout being recognised and the reps of the second stretch credited to another workout.",
    )
    sw.add_argument("manifest", help="CSV with columns file, exercise, gt_reps")
    sw.add_argument("--rest", type=float, default=5.0, help="seconds of rest between the two (default 5)")
    _common(sw, model=True)
    sw.set_defaults(func=switch_cmd, settings_overrides=_overrides)


def _common(p: argparse.ArgumentParser, model: bool) -> None:
    if model:
        p.add_argument("--model", help="pose model (default [pose] model)")
        p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    p.add_argument("--recogniser", help="recogniser model file (default: the one shipped)")
    p.add_argument("--json", action="store_true", help="print one JSON object")


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): getattr(args, "model", None),
        ("referee", "rules_dir"): getattr(args, "rules_dir", None),
    }


def _setup(args: argparse.Namespace, settings: Settings):
    from hiitpi.commands.eval import _catalog
    from hiitpi.recognition.auto import AutoMode
    from hiitpi.recognition.data import rules_resolver
    from hiitpi.recognition.model import load_model

    rs = _catalog(settings)
    model = load_model(args.recogniser)

    def make_auto() -> AutoMode:
        return AutoMode(rs.workouts, model, pace_window_s=settings.referee.pace_window_s)

    return rs, rules_resolver(rs), make_auto


def clips_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.recognition import data
    from hiitpi.recognition.evaluate import score_sequence, summarise

    _rs, resolve, make_auto = _setup(args, settings)
    scores = []
    for seq, poses in data.clip_sequences(args.manifest, settings, resolve, progress=not args.no_progress):
        scores.append(score_sequence(seq.name, seq.exercise, poses, list(seq.t), make_auto, key="file"))
    report = summarise(scores, key="file")
    report["manifest"] = str(args.manifest)
    report["model"] = settings.pose.model
    return _print(report, args.json, "file")


def poses_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.recognition import data
    from hiitpi.recognition.evaluate import score_sequence, summarise
    from hiitpi.referee.datasets import ManifestError

    if not Path(args.pose_dir).is_dir():
        raise ManifestError(f"{args.pose_dir}: pose folder not found")
    _rs, resolve, make_auto = _setup(args, settings)
    name = Path(args.index).parent.name or "poses"
    seqs = data.pose_index_sequences(
        args.index, args.pose_dir, name, resolve, settings.pose.smoothing, args.fps
    )
    scores = [score_sequence(s.name, s.exercise, p, list(s.t), make_auto, key="video") for s, p in seqs]
    report = summarise(scores, key="video")
    report["index"] = str(args.index)
    report["fps"] = args.fps
    return _print(report, args.json, "video")


def switch_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.recognition import data
    from hiitpi.recognition.evaluate import Segment, format_switches, score_switch, summarise_switches

    _rs, resolve, make_auto = _setup(args, settings)
    segs = [
        Segment(s.name, s.exercise, p, list(s.t))
        for s, p in data.clip_sequences(args.manifest, settings, resolve, progress=not args.no_progress)
    ]
    scores = []
    for i, a in enumerate(segs):
        b = next(
            (
                segs[(i + k) % len(segs)]
                for k in range(1, len(segs))
                if segs[(i + k) % len(segs)].exercise != a.exercise
            ),
            None,
        )
        if b is not None:
            scores.append(score_switch(a, b, args.rest, make_auto))
    report = summarise_switches(scores)
    report["rest_s"] = args.rest
    report["manifest"] = str(args.manifest)
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        print(format_switches(report))
    return 0


def _print(report: dict, as_json: bool, key: str) -> int:
    from hiitpi.recognition.evaluate import format_report

    if as_json:
        print(json.dumps(report, indent=1))
    else:
        print(format_report(report, key))
    return 0
