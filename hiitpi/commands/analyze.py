"""`hiitpi analyze VIDEO --workout NAME`: run the real pipeline on a video file."""

from __future__ import annotations

import argparse
import json
import logging

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "analyze",
        help="count reps in a video file (pose model → smoothing → referee), as fast as the machine allows",
        description="Runs the live pipeline on a video file with a progress bar and prints reps, no-reps "
        "and per-rep timings. --out writes the video with skeleton, state and count drawn on it.",
    )
    p.add_argument("video", help="a video file OpenCV can read (mp4, avi, mov...)")
    p.add_argument(
        "--workout",
        help="rules name or alias, or 'auto' to recognise it (default [referee] workout; see `hiitpi rules list`)",
    )
    p.add_argument("--model", help="pose model (default [pose] model)")
    p.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    p.add_argument(
        "--counting",
        choices=["judge", "attempts"],
        help="judge: only full-range reps count (no-reps called with a reason); attempts: every "
        "attempted rep counts, short ones marked (default [referee] counting)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", metavar="FILE.mp4", help="write an annotated copy of the video")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=analyze_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): args.model,
        ("referee", "workout"): args.workout,
        ("referee", "rules_dir"): args.rules_dir,
        ("referee", "counting"): args.counting,
    }


def analyze_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.offline.analyze import analyze_video

    result = analyze_video(
        args.video, settings, settings.referee.workout, out=args.out, progress=not args.no_progress
    )
    d = result.to_dict()
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    print(f"{d['video']}: {d['workout']} with {d['model']}")
    print(
        f"frames {d['frames']} at {d['fps']} fps ({d['duration_s']:.1f}s) processed in {d['wall_s']:.1f}s "
        f"({d['frames_per_second']} frames/s)"
    )
    if result.hold_s:
        print(f"held {d['hold_s']:.1f}s")
    print(
        f"reps {d['reps']}   no-reps {d['no_reps']}   attempts {d['attempts']}   ({d['counting']} counting)"
    )
    for iv in d.get("intervals", []):
        what = f"held {iv['hold_s']:.1f}s" if iv["hold_s"] else f"{iv['reps']} reps, {iv['no_reps']} no-reps"
        print(f"  recognised {iv['workout']:<16} {iv['start']:7.2f}s - {iv['end']:7.2f}s  {what}")
    for r in d["rep_events"]:
        extra = ""
        if "eccentric_s" in r:
            extra = f"  down {r['eccentric_s']:.2f}s up {r['concentric_s']:.2f}s"
        if "rom" in r:
            extra += f"  rom {r['rom']:.2f}"
        if "side" in r:
            extra += f"  {r['side']}"
        if "similarity" in r:
            extra += f"  form {r['similarity']:.0f}/100" + (
                f" ({r['deviation']} off most)" if r.get("deviation") else ""
            )
        print(
            f"  rep {r['count']:3d}  {r['start']:7.2f}s - {r['end']:7.2f}s  ({r['duration_s']:.2f}s){extra}"
        )
    for r in d["no_rep_events"]:
        print(f"  no-rep    {r['start']:7.2f}s - {r['end']:7.2f}s  {r.get('reason', '')}")
    for r in d["faults"]:
        print(f"  fault     {r['start']:7.2f}s  {r.get('reason', '')}")
    if args.out:
        print(f"annotated video: {args.out}")
    return 0
