"""Labelled data the referee is measured on: a clips manifest, and pose-sequence indexes.

- A **clips manifest** (CSV) lists videos relative to itself with their rep counts (``gt_reps``,
  an accepted range ``gt_min``/``gt_max`` where a clip starts or ends mid-rep) or, for a timed
  hold, the seconds held (``gt_hold_s``); ``source_repo`` says where a clip came from.
- A **pose index** (RepCount-A, Countix-Fitness) lists pose sequences by video name with their
  counts and, where given, every rep's start and end frame. The arrays are 33 BlazePose landmarks
  × (x, y, z), min–max normalised per frame and per axis (99 columns; RepCount-A's have five angle
  columns after them, 104), all zeros where no person was found; `pose_sequence` turns one into
  `Pose` objects.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hiitpi.errors import InputError
from hiitpi.pose.types import Pose


class ManifestError(InputError, ValueError):
    """A clips manifest or pose index that cannot be read; the message names file and line."""


def _read_csv(path: Path, what: str, need: set[str]) -> list[tuple[int, dict]]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    missing = need - set(reader.fieldnames or [])
    if missing:
        raise ManifestError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; need {', '.join(sorted(need))}"
        )
    return list(enumerate(reader, start=2))


# --------------------------------------------------------------------------------------------
# manifests of video clips


@dataclass
class ManifestRow:
    file: str
    path: Path
    exercise: str
    gt: int
    gt_min: int
    gt_max: int
    #: seconds the position was held (timed holds only; their gt is 0)
    gt_hold_s: float | None = None
    source: str = ""

    @property
    def is_hold(self) -> bool:
        return self.gt_hold_s is not None


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Rows of a clips manifest (file, exercise, gt_reps[, gt_min, gt_max, gt_hold_s, source_repo])."""
    path = Path(path)
    rows = []
    for lineno, r in _read_csv(path, "manifest", {"file", "exercise", "gt_reps"}):
        try:
            gt = int(r["gt_reps"])
            lo = int(r["gt_min"]) if r.get("gt_min") not in (None, "") else gt
            hi = int(r["gt_max"]) if r.get("gt_max") not in (None, "") else gt
            hold = float(r["gt_hold_s"]) if r.get("gt_hold_s") not in (None, "") else None
        except ValueError as exc:
            raise ManifestError(
                f"{path}:{lineno}: gt_reps/gt_min/gt_max must be whole numbers, gt_hold_s a number ({exc})"
            ) from exc
        rows.append(
            ManifestRow(
                r["file"],
                path.parent / r["file"],
                r["exercise"].strip(),
                gt,
                lo,
                hi,
                hold,
                (r.get("source_repo") or "").strip(),
            )
        )
    return rows


# --------------------------------------------------------------------------------------------
# pose sequences (RepCount-A, Countix-Fitness)


@dataclass
class PoseIndexRow:
    video: str
    exercise: str
    count: int
    #: (start frame, end frame) of every labelled rep, where the index gives them
    cycles: list[tuple[int, int]] = field(default_factory=list)


def read_pose_index(path: str | Path) -> list[PoseIndexRow]:
    """Rows of a pose-sequence index (video, exercise, count[, cycle_frames_start_end_pairs])."""
    path = Path(path)
    rows = []
    for lineno, r in _read_csv(path, "index", {"video", "exercise", "count"}):
        try:
            count = int(r["count"])
            frames = [int(x) for x in (r.get("cycle_frames_start_end_pairs") or "").split()]
        except ValueError as exc:
            raise ManifestError(
                f"{path}:{lineno}: count and cycle frames must be whole numbers ({exc})"
            ) from exc
        if len(frames) % 2:
            raise ManifestError(f"{path}:{lineno}: cycle_frames_start_end_pairs: an odd number of frames")
        cycles = list(zip(frames[0::2], frames[1::2], strict=True))
        rows.append(PoseIndexRow(r["video"], r["exercise"].strip(), count, cycles))
    return rows


#: BlazePose landmark index of each COCO keypoint, in COCO order.
BLAZEPOSE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)

#: BlazePose landmark pairs whose length does not change as the body moves: shoulders, hips,
#: torso sides, upper arms, forearms, thighs, shins.
RIGID_SEGMENTS: tuple[tuple[int, int], ...] = (
    (11, 12), (23, 24), (11, 23), (12, 24), (11, 13), (12, 14),
    (13, 15), (14, 16), (23, 25), (24, 26), (25, 27), (26, 28),
)  # fmt: skip


#: the axis-scale ratios a frame's repair tries (log of a² / b²): from 1:8 to 8:1 in the picture's
#: width to height, in steps of 1.7 % (refined between grid points by a parabola)
ASPECT_GRID = np.linspace(np.log(1 / 64), np.log(64), 241)
#: a bone's squared length this far (in log) from the frame's common scale weighs as an outlier
#: (a Cauchy loss): 0.3 is a length 16 % off, as a foreshortened or misplaced bone is
ASPECT_LOSS_SCALE = 0.3
#: a frame is fitted again when its fit's loss is above the best the search finds by more than
#: two bones grossly off would add (each a squared length e times too long or short): a fit that
#: explains the frame worse than that is not a near-tie but a collapse
ASPECT_REPAIR_MARGIN = 2 * float(np.log1p((1 / ASPECT_LOSS_SCALE) ** 2))
#: frames searched at once (the grid × segments array of one chunk stays a few MB)
_ASPECT_CHUNK = 256


def _aspect_loss(log_k: np.ndarray, dx2: np.ndarray, dy2: np.ndarray, log_ref: np.ndarray) -> np.ndarray:
    """The loss of axis-scale ratios ``log_k`` (log a²/b², shape (frames, n)) for each frame: the
    robust spread of its rigid segments' log squared lengths around their median, the scale that
    does not depend on b²."""
    e = np.log(np.exp(log_k)[..., None] * dx2[:, None, :] + dy2[:, None, :] + 1e-12) - log_ref
    e -= np.median(e, axis=2, keepdims=True)
    return np.sum(np.log1p((e / ASPECT_LOSS_SCALE) ** 2), axis=2)


def _repair_collapsed(ab: np.ndarray, dx2: np.ndarray, dy2: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """``ab`` (each frame's a², b²) with the frames whose fit fell into a degenerate minimum fitted
    again: the ratio a²/b² searched on `ASPECT_GRID` (a global search, which such a minimum cannot
    trap), the scale from the median segment. A frame is refitted only when its loss is
    `ASPECT_REPAIR_MARGIN` above the search's best, so sound fits are kept as they are."""
    grid = ASPECT_GRID
    step = grid[1] - grid[0]
    log_ref = np.log(ref)[None, None, :]
    out = ab.copy()
    for lo in range(0, len(ab), _ASPECT_CHUNK):
        sl = slice(lo, lo + _ASPECT_CHUNK)
        x2, y2 = dx2[sl], dy2[sl]
        now = _aspect_loss(np.log(ab[sl, :1] / ab[sl, 1:]), x2, y2, log_ref)[:, 0]
        cost = _aspect_loss(np.broadcast_to(grid, (len(x2), len(grid))), x2, y2, log_ref)
        j = np.clip(np.argmin(cost, axis=1), 1, len(grid) - 2)
        rows = np.arange(len(j))
        c0, c1, c2 = cost[rows, j - 1], cost[rows, j], cost[rows, j + 1]
        bad = now > c1 + ASPECT_REPAIR_MARGIN
        if not bad.any():
            continue
        curv = c0 - 2 * c1 + c2
        shift = np.where(curv > 1e-12, 0.5 * (c0 - c2) / np.where(curv > 1e-12, curv, 1), 0.0)
        log_k = grid[j] + np.clip(shift, -1, 1) * step
        q = np.exp(log_k)[:, None] * x2 + y2
        log_b2 = -np.median(np.log(q + 1e-12) - np.log(ref)[None, :], axis=1)
        fixed = np.stack([np.exp(log_k + log_b2), np.exp(log_b2)], axis=1)
        out[lo : lo + len(j)][bad] = fixed[bad]
    return out


def restore_aspect(xy: np.ndarray, valid: np.ndarray, iterations: int = 6, repair: bool = True) -> np.ndarray:
    """Undo per-frame, per-axis min–max normalisation by bone-length constancy.

    Each frame f was scaled by unknown factors (1/w_f, 1/h_f), so angles measured on it are
    distorted. The body's bones keep their length from frame to frame, so for every frame we
    find the axis scales (a_f, b_f) that make the rigid segments' squared lengths
    a²·dx² + b²·dy² closest to the sequence's typical lengths — a linear least-squares problem
    in (a², b²) — and re-estimate the typical lengths from the result, a few times over.
    Foreshortened bones violate the assumption, so residuals are down-weighted (Cauchy).
    That fit can fall into a degenerate minimum on a frame (one axis shrunk to almost nothing, its
    bones taken for outliers: a body lying along the picture folded to a line for a few frames);
    such frames are found and fitted again by a global search (`_repair_collapsed`; ``repair=False``
    leaves them, for comparison: `scripts/aspect_check.py`).
    Returns the rescaled (frames, points, 2) coordinates; invalid frames are left as they are.
    """
    out = xy.astype(np.float64).copy()
    idx = np.flatnonzero(valid)
    if len(idx) == 0:
        return out
    seg_a = np.array([a for a, _ in RIGID_SEGMENTS])
    seg_b = np.array([b for _, b in RIGID_SEGMENTS])
    d = xy[idx][:, seg_a] - xy[idx][:, seg_b]  # (n, S, 2)
    dx2, dy2 = d[..., 0] ** 2, d[..., 1] ** 2
    ab = np.ones((len(idx), 2))
    ref = np.median(dx2 + dy2, axis=0) + 1e-9
    for _ in range(iterations):
        w = np.ones_like(dx2)
        for _ in range(2):
            # weighted least squares per frame: minimise sum w * ((A dx2 + B dy2) / ref - 1)^2
            px_ = dx2 / ref
            py_ = dy2 / ref
            m11 = np.sum(w * px_ * px_, axis=1)
            m12 = np.sum(w * px_ * py_, axis=1)
            m22 = np.sum(w * py_ * py_, axis=1)
            r1 = np.sum(w * px_, axis=1)
            r2 = np.sum(w * py_, axis=1)
            det = m11 * m22 - m12 * m12
            ok = np.abs(det) > 1e-12
            a2 = np.where(ok, (r1 * m22 - r2 * m12) / np.where(ok, det, 1), ab[:, 0])
            b2 = np.where(ok, (r2 * m11 - r1 * m12) / np.where(ok, det, 1), ab[:, 1])
            ab = np.stack([np.clip(a2, 1e-3, 1e3), np.clip(b2, 1e-3, 1e3)], axis=1)
            resid = (ab[:, :1] * dx2 + ab[:, 1:] * dy2) / ref - 1.0
            w = 1.0 / (1.0 + (resid / 0.3) ** 2)
        lengths = ab[:, :1] * dx2 + ab[:, 1:] * dy2
        ref = np.median(lengths, axis=0) + 1e-9
        # fix the overall scale: the median torso side is 1
        s = float(np.median(ref[2:4]))
        ref /= s
        ab /= s
    if repair:
        ab = _repair_collapsed(ab, dx2, dy2, ref)
    out[idx, :, 0] *= np.sqrt(ab[:, :1])
    out[idx, :, 1] *= np.sqrt(ab[:, 1:])
    return out


def turn_picture(array: np.ndarray, degrees: int) -> np.ndarray:
    """A pose array (see the module doc) as a picture turned clockwise by ``degrees`` (0, 90, 180,
    270) would give it: a camera on its side. Each axis stays min–max normalised; empty frames stay
    empty; z is kept."""
    if degrees % 360 == 0:
        return array
    if degrees % 90:
        raise ValueError(f"a picture turns by a multiple of 90 degrees, not {degrees}")
    xyz = array[:, :99].reshape(len(array), 33, 3).copy()
    seen = np.any(array[:, :99], axis=1)
    x, y = xyz[seen, :, 0].copy(), xyz[seen, :, 1].copy()
    for _ in range(degrees % 360 // 90):  # a quarter clockwise: the top goes to the right
        x, y = 1.0 - y, x
    xyz[seen, :, 0], xyz[seen, :, 1] = x, y
    out = array.copy()
    out[:, :99] = xyz.reshape(len(array), 99)
    return out


#: parts of the body a tight crop leaves out of the frame (`hidden`), by name
OUT_OF_FRAME: dict[str, tuple[str, ...]] = {
    "feet": ("left_ankle", "right_ankle"),
    "head": ("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
}


def hidden(pose: Pose | None, part: str) -> Pose | None:
    """``pose`` with the keypoints of ``part`` (`OUT_OF_FRAME`) unseen (score 0), as a crop would."""
    if pose is None or not part:
        return pose
    from hiitpi.pose.types import KEYPOINT_INDEX

    kps = pose.keypoints.copy()
    kps[[KEYPOINT_INDEX[n] for n in OUT_OF_FRAME[part]], 2] = 0.0
    return Pose(kps, pose.score, pose.timestamp, pose.width, pose.height, pose.extras)


def pose_sequence(
    array: np.ndarray, fps: float, size: int = 1000, restore: bool = True
) -> Iterable[Pose | None]:
    """Poses from one pose array (frames × 99 or 104, see the module doc).

    With ``restore`` each frame's aspect is recovered first (`restore_aspect`) so angles are not
    distorted. The landmarks carry no visibility, so every keypoint gets score 1. Coordinates map
    onto a square ``size`` frame; frame i is at i / fps seconds.
    """
    if array.ndim != 2 or array.shape[1] < 99:
        raise ValueError(f"expected a (frames, 99) or (frames, 104) array, got shape {array.shape}")
    xyz = array[:, :99].reshape(len(array), 33, 3)
    empty = ~np.any(array[:, :99], axis=1)
    xy = xyz[:, :, :2].astype(np.float64)
    if restore:
        xy = restore_aspect(xy, ~empty)
        # back into a 0..1 frame, one scale for the whole sequence so sizes stay comparable
        if (~empty).any():
            span = float(np.max(np.abs(xy[~empty]))) or 1.0
            xy = xy / (span * 1.05)
    coco = xy[:, BLAZEPOSE_TO_COCO, :]
    ones = np.ones((17, 1), dtype=np.float32)
    for i in range(len(array)):
        t = i / fps
        if empty[i]:
            yield None
            continue
        kps = np.concatenate([coco[i].astype(np.float32), ones], axis=1)
        yield Pose(kps, 1.0, t, size, size)
