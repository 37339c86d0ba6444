#!/usr/bin/env python3
"""How well the pose-set loader's aspect restoration recovers true angles, on poses whose true
geometry is known: the clips' own poses (the pose model's keypoints in pixels).

    .venv/bin/python scripts/aspect_check.py [MANIFEST]

Each clip's confident poses are put in the pose sets' layout (BlazePose's 33 points, the 13 the
pose model shares), min-max normalised per frame and per axis as RepCount-A and Countix are, and
restored by `restore_aspect` with and without the repair of collapsed fits. Printed: the error of
eight joint angles (hips, knees, elbows, shoulders) against the pixels' own, in degrees — median,
90th and 99th percentile — per clip and over all. Poses come from the pose cache (`hiitpi eval
clips` fills it) or the pose model ($HIITPI_MODEL_MIRROR).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from hiitpi.referee.datasets import BLAZEPOSE_TO_COCO  # noqa: E402

#: COCO keypoint → BlazePose landmark for the points compared: the nose and the body (the pose
#: sets' own mapping, without the eyes and ears)
COCO_TO_BLAZEPOSE = {c: b for c, b in enumerate(BLAZEPOSE_TO_COCO) if c == 0 or c >= 5}
#: joint angles compared (BlazePose indices: end, vertex, end)
ANGLES = ((11, 23, 25), (12, 24, 26), (23, 25, 27), (24, 26, 28), (11, 13, 15), (12, 14, 16), (13, 11, 23), (14, 12, 24))  # fmt: skip
MIN_SCORE = 0.3


def angles(xy: np.ndarray) -> np.ndarray:
    out = []
    for a, b, c in ANGLES:
        v1, v2 = xy[:, a] - xy[:, b], xy[:, c] - xy[:, b]
        cos = np.sum(v1 * v2, -1) / (np.linalg.norm(v1, axis=-1) * np.linalg.norm(v2, axis=-1) + 1e-12)
        out.append(np.degrees(np.arccos(np.clip(cos, -1, 1))))
    return np.stack(out, axis=1)


def as_pose_set(poses: list, width: int, height: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(true pixels, min-max normalised) of the poses with every shared point confident."""
    kps = np.array([p.keypoints for p in poses if p is not None])
    if len(kps) == 0:
        return None
    kps = kps[np.all(kps[:, list(COCO_TO_BLAZEPOSE), 2] >= MIN_SCORE, axis=1)]
    if len(kps) < 30:
        return None
    px = np.zeros((len(kps), 33, 2))
    px[:] = (kps[:, 0, :2] * (width, height))[:, None, :]  # points the model lacks: at the nose
    for c, b in COCO_TO_BLAZEPOSE.items():
        px[:, b] = kps[:, c, :2] * (width, height)
    lo, hi = px.min(axis=1, keepdims=True), px.max(axis=1, keepdims=True)
    return px, (px - lo) / np.maximum(hi - lo, 1e-9)


def main(argv: list[str] | None = None) -> int:
    from hiitpi.config import load_settings
    from hiitpi.offline.poses import video_poses
    from hiitpi.referee.datasets import read_manifest, restore_aspect

    data = os.environ.get("HIITPI_DATA") or str(REPO.parent / "shared" / "data")
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("manifest", nargs="?", default=str(Path(data) / "clips" / "manifest.csv"))
    args = p.parse_args(argv)
    if not Path(args.manifest).is_file():
        print(
            f"aspect_check: {args.manifest}: manifest not found (set HIITPI_DATA or give its path)",
            file=sys.stderr,
        )
        return 2
    overrides = {}
    if os.environ.get("HIITPI_MODEL_MIRROR"):
        overrides[("models", "mirror")] = os.environ["HIITPI_MODEL_MIRROR"]
    settings = load_settings(None, overrides=overrides)
    errs: dict[str, list[np.ndarray]] = {"raw": [], "no repair": [], "repair": []}
    print(f"{'clip':32} {'poses':>5}  " + "  ".join(f"{k:>16}" for k in errs))
    for row in read_manifest(args.manifest):
        poses, info = video_poses(row.path, settings)
        got = as_pose_set(poses, info.width, info.height)
        if got is None:
            continue
        px, norm = got
        true = angles(px)
        valid = np.ones(len(px), bool)
        for name, xy in (
            ("raw", norm),
            ("no repair", restore_aspect(norm, valid, repair=False)),
            ("repair", restore_aspect(norm, valid)),
        ):
            errs[name].append(np.abs(angles(xy) - true).ravel())
        cells = "  ".join(f"{np.median(e[-1]):7.1f} / {np.percentile(e[-1], 90):5.1f}" for e in errs.values())
        print(f"{row.path.name[:32]:32} {len(px):5}  {cells}")
    print("over all clips: median / p90 / p99 angle error (degrees)")
    for name, e in errs.items():
        a = np.concatenate(e) if e else np.zeros(1)
        print(f"  {name:10} {np.median(a):5.2f} / {np.percentile(a, 90):5.2f} / {np.percentile(a, 99):5.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
