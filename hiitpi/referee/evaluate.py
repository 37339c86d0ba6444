"""Rep-counting accuracy, reported the way rep-counting papers do.

MAE = mean(|pred − gt| / gt) and OBO = share of clips with |pred − gt| ≤ 1. Where a manifest
gives an accepted range [gt_min, gt_max] (a clip that starts or ends mid-rep), a prediction
inside it counts as exact and the error is the distance to the range.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hiitpi.errors import InputError
from hiitpi.pose.types import Pose

log = logging.getLogger(__name__)


@dataclass
class ClipResult:
    name: str  # "file" (clips) or "video" (repcount)
    exercise: str
    gt: int
    pred: int | None
    gt_min: int | None = None
    gt_max: int | None = None
    no_reps: int = 0
    error: str | None = None  # why the clip could not be evaluated

    @property
    def abs_err(self) -> int | None:
        if self.pred is None:
            return None
        lo = self.gt if self.gt_min is None else self.gt_min
        hi = self.gt if self.gt_max is None else self.gt_max
        if lo <= self.pred <= hi:
            return 0
        return min(abs(self.pred - lo), abs(self.pred - hi))

    @property
    def rel_err(self) -> float | None:
        e = self.abs_err
        return None if e is None else e / max(self.gt, 1)


def _metrics(results: list[ClipResult]) -> dict:
    scored = [r for r in results if r.pred is not None]
    if not scored:
        return {"mae": None, "obo": None, "n": 0}
    return {
        "mae": round(float(np.mean([r.rel_err for r in scored])), 4),
        "obo": round(float(np.mean([r.abs_err <= 1 for r in scored])), 4),
        "n": len(scored),
    }


def summarize(results: list[ClipResult], key: str = "file") -> dict:
    """The JSON report: overall mae/obo, per_exercise, and one entry per clip."""
    per: dict[str, list[ClipResult]] = defaultdict(list)
    for r in results:
        per[r.exercise].append(r)
    overall = _metrics(results)
    clips = []
    for r in results:
        d = {key: r.name, "exercise": r.exercise, "gt": r.gt, "pred": r.pred}
        if r.gt_min is not None and (r.gt_min != r.gt or r.gt_max != r.gt):
            d["gt_min"], d["gt_max"] = r.gt_min, r.gt_max
        d["abs_err"] = r.abs_err
        d["no_reps"] = r.no_reps
        if r.error:
            d["error"] = r.error
        clips.append(d)
    return {
        "mae": overall["mae"],
        "obo": overall["obo"],
        "n": overall["n"],
        "failed": sum(r.pred is None for r in results),
        "per_exercise": {name: _metrics(rs) for name, rs in sorted(per.items())},
        "clips": clips,
    }


def format_table(report: dict, key: str = "file") -> str:
    """A plain-text per-clip table followed by per-exercise and overall MAE/OBO."""
    rows = report["clips"]
    width = max([len(key)] + [len(str(c[key])) for c in rows]) + 2
    lines = [f"{key:<{width}}{'exercise':<14}{'gt':>8}{'pred':>6}{'err':>5}{'no-reps':>9}"]
    for c in rows:
        gt = str(c["gt"]) if "gt_min" not in c else f"{c['gt_min']}-{c['gt_max']}"
        pred = "-" if c["pred"] is None else str(c["pred"])
        err = "-" if c["abs_err"] is None else str(c["abs_err"])
        line = f"{c[key]:<{width}}{c['exercise']:<14}{gt:>8}{pred:>6}{err:>5}{c['no_reps']:>9}"
        if c.get("error"):
            line += f"   ERROR: {c['error']}"
        lines.append(line)
    lines.append("")
    lines.append(f"{'exercise':<14}{'n':>4}{'MAE':>8}{'OBO':>8}")
    for name, m in report["per_exercise"].items():
        lines.append(f"{name:<14}{m['n']:>4}{_fmt(m['mae']):>8}{_fmt(m['obo']):>8}")
    lines.append(f"{'overall':<14}{report['n']:>4}{_fmt(report['mae']):>8}{_fmt(report['obo']):>8}")
    if report.get("failed"):
        lines.append(f"{report['failed']} clip(s) could not be evaluated (see ERROR above)")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


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


class ManifestError(InputError, ValueError):
    """A clips manifest or pose index that cannot be read; the message names file and line."""


def read_manifest(path: str | Path) -> list[ManifestRow]:
    """Rows of a clips manifest (file, exercise, gt_reps[, gt_min, gt_max]); paths relative to it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the manifest: {exc.strerror or exc}") from exc
    reader = csv.DictReader(text.splitlines())
    need = {"file", "exercise", "gt_reps"}
    missing = need - set(reader.fieldnames or [])
    if missing:
        raise ManifestError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; need file, exercise, gt_reps"
        )
    rows = []
    for lineno, r in enumerate(reader, start=2):
        try:
            gt = int(r["gt_reps"])
            lo = int(r["gt_min"]) if r.get("gt_min") not in (None, "") else gt
            hi = int(r["gt_max"]) if r.get("gt_max") not in (None, "") else gt
        except ValueError as exc:
            raise ManifestError(
                f"{path}:{lineno}: gt_reps/gt_min/gt_max must be whole numbers ({exc})"
            ) from exc
        rows.append(ManifestRow(r["file"], path.parent / r["file"], r["exercise"].strip(), gt, lo, hi))
    return rows


# --------------------------------------------------------------------------------------------
# RepCount-A pose sequences

#: BlazePose landmark index of each COCO keypoint, in COCO order.
BLAZEPOSE_TO_COCO: tuple[int, ...] = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


@dataclass
class RepCountRow:
    video: str
    exercise: str
    count: int


def read_repcount_index(path: str | Path) -> list[RepCountRow]:
    path = Path(path)
    try:
        reader = csv.DictReader(path.read_text(encoding="utf-8").splitlines())
    except OSError as exc:
        raise ManifestError(f"{path}: cannot read the index: {exc.strerror or exc}") from exc
    missing = {"video", "exercise", "count"} - set(reader.fieldnames or [])
    if missing:
        raise ManifestError(
            f"{path}: missing column(s) {', '.join(sorted(missing))}; need video, exercise, count"
        )
    return [RepCountRow(r["video"], r["exercise"].strip(), int(r["count"])) for r in reader]


#: BlazePose landmark pairs whose length does not change as the body moves: shoulders, hips,
#: torso sides, upper arms, forearms, thighs, shins.
RIGID_SEGMENTS: tuple[tuple[int, int], ...] = (
    (11, 12), (23, 24), (11, 23), (12, 24), (11, 13), (12, 14),
    (13, 15), (14, 16), (23, 25), (24, 26), (25, 27), (26, 28),
)  # fmt: skip


def restore_aspect(xy: np.ndarray, valid: np.ndarray, iterations: int = 6) -> np.ndarray:
    """Undo per-frame, per-axis min–max normalisation by bone-length constancy.

    Each frame f was scaled by unknown factors (1/w_f, 1/h_f), so angles measured on it are
    distorted. The body's bones keep their length from frame to frame, so for every frame we
    find the axis scales (a_f, b_f) that make the rigid segments' squared lengths
    a²·dx² + b²·dy² closest to the sequence's typical lengths — a linear least-squares problem
    in (a², b²) — and re-estimate the typical lengths from the result, a few times over.
    Foreshortened bones violate the assumption, so residuals are down-weighted (Cauchy).
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
    out[idx, :, 0] *= np.sqrt(ab[:, :1])
    out[idx, :, 1] *= np.sqrt(ab[:, 1:])
    return out


def repcount_poses(
    array: np.ndarray, fps: float, size: int = 1000, restore: bool = True
) -> Iterable[Pose | None]:
    """Poses from one RepCount pose array (frames × 104, see the data README).

    Columns 0..98 are 33 BlazePose landmarks × (x, y, z), min–max normalised per frame and per
    axis; an all-zero row is a frame without a person. With ``restore`` the frames' aspect is
    recovered first (`restore_aspect`) so angles are not distorted. The landmarks carry no
    visibility, so every keypoint gets score 1. Coordinates map onto a square ``size`` frame.
    """
    if array.ndim != 2 or array.shape[1] < 99:
        raise ValueError(f"expected a (frames, >=99) array, got shape {array.shape}")
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
