"""`hiitpi teach VIDEO --name NAME`: teach a new workout by showing it; `--reference-for WORKOUT`
records a reference for one that exists, so its reps get a similarity score."""

from __future__ import annotations

import argparse
import logging
import sys
import time

from hiitpi.config import Settings
from hiitpi.errors import InputError

log = logging.getLogger(__name__)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "teach",
        help="teach a new workout from a video of a few reps (or a held pose); record a reference",
        description="Finds the body features that move back and forth in the video, cuts it into reps, "
        "and writes an ordinary rules file rules/NAME.toml (checked by the rules schema) with the reps' "
        "reference trajectory rules/NAME.reference.json, after showing the reps found (a PNG plot) "
        "and asking. --hold teaches a held position instead. --reference-for WORKOUT records a "
        "reference for an existing workout from a clip of it: its reps are then scored 0-100.",
    )
    p.add_argument("video", help="a video file of the demonstration (mp4, mov, avi...)")
    p.add_argument("--name", help="the new workout's name (lower_snake_case; spaces become _)")
    p.add_argument("--title", default="", help="what the page shows (default: from the name)")
    p.add_argument(
        "--reps", type=int, help="how many reps the video shows: the segmentation is checked against it"
    )
    p.add_argument(
        "--hold", action="store_true", help="the video shows a held position (a plank, a yoga pose)"
    )
    p.add_argument("--reference-for", metavar="WORKOUT", help="record a reference for an existing workout")
    p.add_argument(
        "--plot", metavar="FILE.png", help="where the plot of the reps goes (default teach-NAME.png)"
    )
    p.add_argument("--yes", "-y", action="store_true", help="save without asking")
    p.add_argument("--model", help="pose model (default [pose] model)")
    p.add_argument("--rules", dest="rules_dir", help="rules folder (default [referee] rules_dir)")
    p.add_argument("--no-cache", action="store_true", help="always run the pose model (no pose cache)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=teach_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {("pose", "model"): args.model, ("referee", "rules_dir"): args.rules_dir}


def _confirm(question: str, yes: bool) -> bool:
    if yes:
        return True
    if not sys.stdin.isatty():
        raise InputError(
            "not saved: nobody to confirm (no terminal)", "look at the plot, then run again with --yes"
        )
    answer = input(f"{question} [y/N] ").strip().lower()
    return answer in ("y", "yes")


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def teach_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.teach.plot import write_png
    from hiitpi.teach.session import check_name, save_lesson, teach_demo

    if args.reference_for:
        return _reference_cmd(args, settings)
    if not args.name:
        raise InputError(
            "teach needs --name NAME for the new workout", "e.g. hiitpi teach clip.mp4 --name wall_push"
        )
    if args.reps is not None and args.reps < 2:
        raise InputError(f"--reps {args.reps}: a demonstration needs at least 2 reps", "do three or more")
    if args.hold and args.reps is not None:
        raise InputError("--hold and --reps do not go together: a hold has no reps", "leave one out")
    rules_dir = settings.referee.rules_dir
    name = check_name(args.name, rules_dir)
    t0 = time.perf_counter()
    _say(f"teach {name}: finding the body in {args.video}")
    demo = _demo(args, settings)
    _say(f"teach {name}: looking for {'a held position' if args.hold else 'the movement that repeats'}")
    lesson = teach_demo(demo, name, reps=args.reps, hold=args.hold, title=args.title)
    taught = lesson.taught
    plot = write_png(taught, args.plot or f"teach-{name}.png")
    wall = time.perf_counter() - t0
    print(
        f"{args.video}: {demo.duration_s:.1f} s, seen {taught.view or '(view unknown)'}; learnt in {wall:.1f} s"
    )
    if taught.kind == "hold":
        print(
            f"a held position ({', '.join(taught.members)}): the clock ran {taught.held_s:.1f} s on the demo"
        )
    else:
        print(f"{taught.count} reps found, decided on {', '.join(taught.members)}:")
        for i, e in enumerate(taught.reps, 1):
            print(
                f"  rep {i:3d}  {e.t_start - demo.times[0]:6.2f}s - {e.t_end - demo.times[0]:6.2f}s  ({e.duration_s:.2f}s)"
            )
        for e in taught.events:
            if e.kind == "no_rep":
                print(
                    f"  no-rep   {e.t_start - demo.times[0]:6.2f}s - {e.t_end - demo.times[0]:6.2f}s  {e.reason}"
                )
    for note in taught.notes:
        print(f"note: {note}")
    print(f"plot of the reps: {plot}")
    if not _confirm(f"save {name} to {rules_dir}/{name}.toml?", args.yes):
        print("not saved")
        return 1
    path, ref_path = save_lesson(lesson, rules_dir)
    print(f"saved {path}" + (f" and {ref_path}" if ref_path else ""))
    print(
        f"start it with: hiitpi analyze VIDEO --workout {name}   (or pick '{taught.doc['title']}' on the page)"
    )
    return 0


def _demo(args: argparse.Namespace, settings: Settings):
    from hiitpi.teach.session import load_demo

    return load_demo(
        args.video, settings, progress=not args.no_progress, cache_dir="" if args.no_cache else None
    )


def _reference_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.referee.reference import save_reference
    from hiitpi.teach.session import record_for

    if args.name or args.hold:
        raise InputError(
            "--reference-for records a reference; it takes no --name or --hold", "leave them out"
        )
    _say(f"reference for {args.reference_for}: counting the reps in {args.video}")
    ref, path, counted = record_for(
        args.reference_for,
        args.video,
        settings,
        progress=not args.no_progress,
        cache_dir="" if args.no_cache else None,
    )
    views = ", ".join(f"{len(v)} seen {k}" for k, v in ref.views.items())
    print(f"{args.video}: {counted} reps counted, {ref.reps} clean ones kept as the reference ({views})")
    if path.exists():
        print(f"{path} exists: it will be replaced")
    if not _confirm(f"save the reference to {path}?", args.yes):
        print("not saved")
        return 1
    save_reference(ref, path)
    print(f"saved {path}: every {ref.workout} rep is now scored against it")
    return 0
