#!/usr/bin/env python3
"""Write copies of a clips manifest's videos as another camera, or the same camera elsewhere, films them.

    scripts/camera_clips.py MANIFEST OUT_DIR [--turn 90|180|270] [--mirror] [--far F] [--dim F]
                            [--max-side N] [--rules DIR]

Each change is one way a camera the referee has never seen differs from the ones that filmed the
clips; they combine, in this order:

- ``--max-side N``: the longer side scaled down to N pixels (default 640; a cheap webcam: 320);
- ``--far F``: the person F times as large, the picture shrunk into the middle of a frame of the
  same size (a phone put further away; 0.5: half the size, a quarter of the area), the rest grey;
- ``--dim F``: a dim room, the light times F (0.3) and a dim sensor's noise (σ 6 of 255, seeded);
- ``--mirror``: left and right swapped (a front camera's selfie picture);
- ``--turn T``: a camera stood on its side, where the body's up ends up pointing (90: right, a
  quarter clockwise); only the clips of workouts whose rules read which way is up (`up_cue`).

OUT_DIR gets the videos and a manifest.csv with the same columns, for
`hiitpi eval clips OUT_DIR/manifest.csv`.
"""

from __future__ import annotations

import argparse
import csv
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import cv2
import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiitpi.referee.catalog import load_catalog  # noqa: E402

TURNED_BY = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
DIM_NOISE = 6.0  # a dim sensor's noise, of 255
GREY = 96  # the frame around a shrunk picture


@dataclass(frozen=True)
class Camera:
    """How the copy differs from the clip (the defaults change nothing but the size)."""

    max_side: int = 640
    far: float = 1.0
    dim: float = 1.0
    mirror: bool = False
    turn: int = 0

    def suffix(self) -> str:
        """The copy's file name ends in this."""
        parts = [f"side{self.max_side}"] if self.max_side != 640 else []
        parts += [f"far{self.far:g}"] if self.far < 1 else []
        parts += [f"dim{self.dim:g}"] if self.dim < 1 else []
        parts += ["mirrored"] if self.mirror else []
        parts += [f"turned{self.turn}"] if self.turn else []
        return "_" + "_".join(parts) if parts else "_copy"


def changed_frame(frame: np.ndarray, camera: Camera, rng: np.random.Generator) -> np.ndarray:
    """One frame as ``camera`` films it."""
    h, w = frame.shape[:2]
    s = camera.max_side / max(h, w)
    if s < 1:
        frame = cv2.resize(frame, (int(w * s) // 2 * 2, int(h * s) // 2 * 2), interpolation=cv2.INTER_AREA)
    if camera.far < 1:
        h, w = frame.shape[:2]
        small = cv2.resize(
            frame, (max(2, int(w * camera.far)), max(2, int(h * camera.far))), interpolation=cv2.INTER_AREA
        )
        frame = np.full_like(frame, GREY)
        y, x = (h - small.shape[0]) // 2, (w - small.shape[1]) // 2
        frame[y : y + small.shape[0], x : x + small.shape[1]] = small
    if camera.dim < 1:
        lit = frame.astype(np.float32) * camera.dim + rng.normal(0.0, DIM_NOISE, frame.shape)
        frame = np.clip(lit, 0, 255).astype(np.uint8)
    if camera.mirror:
        frame = cv2.flip(frame, 1)
    if camera.turn:
        frame = cv2.rotate(frame, TURNED_BY[camera.turn])
    return frame


def change_video(src: Path, dst: Path, camera: Camera) -> int:
    """Frames written."""
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    rng = np.random.default_rng(0)
    out, n = None, 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            frame = changed_frame(frame, camera, rng)
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


def fraction(text: str) -> float:
    v = float(text)
    if not 0 < v <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction (above 0, at most 1)")
    return v


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("manifest", type=Path)
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--turn", type=int, choices=sorted(TURNED_BY), default=0)
    ap.add_argument("--mirror", action="store_true")
    ap.add_argument("--far", type=fraction, default=1.0, metavar="F")
    ap.add_argument("--dim", type=fraction, default=1.0, metavar="F")
    ap.add_argument("--max-side", type=int, default=640)
    ap.add_argument("--rules", type=Path, default=REPO / "rules")
    return ap


def refuse(message: str) -> NoReturn:
    """One line on what is wrong, and exit code 2."""
    print(f"camera_clips: {message}", file=sys.stderr)
    raise SystemExit(2)


def read_rows(manifest: Path) -> tuple[list[str], list[dict[str, str]]]:
    """The manifest's columns and rows; `refuse` when it cannot be used."""
    try:
        with manifest.open(newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields, rows = reader.fieldnames or [], list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        refuse(f"cannot read the manifest {manifest}: {e}")
    missing = [c for c in ("file", "exercise") if c not in fields]
    if missing:
        refuse(
            f"{manifest}:1: no column {', '.join(missing)} (a clips manifest: file, exercise, gt_reps, ...)"
        )
    return fields, rows


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    camera = Camera(args.max_side, args.far, args.dim, args.mirror, args.turn)
    catalog = load_catalog(args.rules)
    fields, rows = read_rows(args.manifest)
    args.out_dir.mkdir(parents=True, exist_ok=True)
    kept, failed = [], 0
    for line, row in enumerate(rows, start=2):
        try:
            rule = catalog.workout(row["exercise"])
        except KeyError:
            continue
        if args.turn and rule.up_cue == "none":
            continue
        name = f"{Path(row['file']).stem}{camera.suffix()}.mp4"
        n = change_video(args.manifest.parent / row["file"], args.out_dir / name, camera)
        if n == 0:  # not there, or not a video OpenCV can read: left out, said, and the run fails
            (args.out_dir / name).unlink(missing_ok=True)
            print(f"{args.manifest}:{line}: cannot read the video {row['file']}: left out", file=sys.stderr)
            failed += 1
            continue
        print(f"{name}: {n} frames", file=sys.stderr)
        kept.append({**row, "file": name})
    with (args.out_dir / "manifest.csv").open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(kept)
    print(f"{len(kept)} clips{camera.suffix().replace('_', ' ')} in {args.out_dir}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
