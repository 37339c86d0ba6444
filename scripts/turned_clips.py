#!/usr/bin/env python3
"""Write turned copies of a clips manifest's videos, as a camera stood on its side would film them.

    scripts/turned_clips.py MANIFEST OUT_DIR [--turn 90|180|270] [--rules DIR] [--max-side 640]

Only the clips of workouts whose rules read which way is up (`up_cue`) are turned; OUT_DIR gets
the videos and a manifest.csv with the same columns, for `hiitpi eval clips OUT_DIR/manifest.csv`.
``--turn`` is where the body's up ends up pointing in the picture (90: right, a quarter clockwise).
The longer side is scaled to ``--max-side`` first (the pose model sees 192 px anyway).
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import cv2

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiitpi.referee.catalog import load_catalog  # noqa: E402

TURNED_BY = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def turn_video(src: Path, dst: Path, turn: int, max_side: int) -> int:
    """Frames written."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    out, n = None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            s = max_side / max(h, w)
            if s < 1:
                frame = cv2.resize(
                    frame, (int(w * s) // 2 * 2, int(h * s) // 2 * 2), interpolation=cv2.INTER_AREA
                )
            frame = cv2.rotate(frame, TURNED_BY[turn])
            if out is None:
                size = (frame.shape[1], frame.shape[0])
                out = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
            out.write(frame)
            n += 1
    finally:
        cap.release()
        if out is not None:
            out.release()
    return n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--turn", type=int, choices=sorted(TURNED_BY), default=90)
    ap.add_argument("--rules", type=Path, default=REPO / "rules")
    ap.add_argument("--max-side", type=int, default=640)
    args = ap.parse_args(argv)
    catalog = load_catalog(args.rules)
    with args.manifest.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames or [], list(reader)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    kept = []
    for row in rows:
        try:
            rule = catalog.workout(row["exercise"])
        except KeyError:
            continue
        if rule.up_cue == "none":
            continue
        src = args.manifest.parent / row["file"]
        name = f"{Path(row['file']).stem}_turned{args.turn}.mp4"
        n = turn_video(src, args.out_dir / name, args.turn, args.max_side)
        print(f"{name}: {n} frames", file=sys.stderr)
        kept.append({**row, "file": name})
    with (args.out_dir / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(kept)
    print(f"{len(kept)} clips turned {args.turn}° in {args.out_dir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
