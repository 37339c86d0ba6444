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
        "and per-rep timings. --out writes the video with skeleton, state and count drawn on it (H.264 "
        "MP4 that browsers play). --save stores the result as a session in the history, the way a video "
        "sent from the dashboard is stored.",
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
    p.add_argument("--out", metavar="FILE.mp4", help="write an annotated copy of the video (H.264 MP4)")
    p.add_argument(
        "--save",
        action="store_true",
        help="store the result as a session of --player in the history (dated from when the video was "
        "filmed), as an upload from the dashboard is",
    )
    p.add_argument("--player", help="with --save: whose session it is (created if new)")
    keep = p.add_mutually_exclusive_group()
    keep.add_argument(
        "--keep-video",
        dest="keep_video",
        action="store_true",
        default=None,
        help="with --save: keep the annotated video with the session (default [upload] keep_video)",
    )
    keep.add_argument(
        "--no-keep-video",
        dest="keep_video",
        action="store_false",
        default=None,
        help="with --save: do not keep the annotated video",
    )
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
    from hiitpi.errors import InputError
    from hiitpi.offline.analyze import analyze_video

    if args.save:
        if not args.player:
            raise InputError("--save needs --player NAME: whose session is it?", "e.g. --save --player Ana")
        return _save(args, settings)
    if args.player or args.keep_video is not None:
        raise InputError("--player and --keep-video go with --save", "add --save to store the session")
    result = analyze_video(
        args.video,
        settings,
        settings.referee.workout,
        out=args.out,
        progress=not args.no_progress,
        out_max_side=settings.upload.video_max_side,
    )
    d = {**result.to_dict(), "notes": result.notes()}
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    _print(result, d)
    for note in result.notes():
        print(f"note: {note}")
    if args.out:
        print(f"annotated video: {args.out}")
    return 0


def _save(args: argparse.Namespace, settings: Settings) -> int:
    """`--save`: the upload worker's path (`ingest_video`), from the shell."""
    import shutil
    from pathlib import Path

    from hiitpi.offline.ingest import ingest_video
    from hiitpi.store.db import Store

    keep = settings.upload.keep_video if args.keep_video is None else args.keep_video
    store = Store.from_settings(settings)
    try:
        got = ingest_video(
            Path(args.video),
            settings,
            store,
            player=args.player,
            workout=settings.referee.workout,
            keep_video=keep or bool(args.out),
            progress=not args.no_progress,
        )
        if args.out and got.video_file is not None:
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(got.video_file, args.out)
            if not keep:
                from hiitpi.store.videosessions import forget_video

                forget_video(store, got.session_id)
                got.video_file.unlink(missing_ok=True)
    finally:
        store.close()
    d = {**got.result.to_dict(), "session_id": got.session_id, "notes": got.notes}
    d["started_at"] = got.started_at.isoformat() if got.started_at else None
    d["annotated_video"] = str(got.video_file) if got.video_file and keep else None
    if args.json:
        print(json.dumps(d, indent=1))
        return 0
    _print(got.result, d)
    for note in got.notes:
        print(f"note: {note}")
    print(f"stored as session {got.session_id} of {args.player} ({d['started_at']})")
    if d["annotated_video"]:
        print(f"annotated video kept: {d['annotated_video']}")
    if args.out:
        print(f"annotated video: {args.out}")
    return 0


def _print(result, d: dict) -> None:
    print(f"{d['video']}: {d['workout']} with {d['model']}")
    print(
        f"frames {d['frames']} at {d['fps']} fps ({d['duration_s']:.1f}s) processed in {d['wall_s']:.1f}s "
        f"({d['frames_per_second']} frames/s)"
    )
    if d.get("picture_turn"):
        print(f"the picture reads as turned {d['picture_turn']}° (a camera on its side): analysed upright")
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
