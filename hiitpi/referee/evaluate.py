"""Rep-counting accuracy, reported the way rep-counting papers do, and hold-time accuracy.

MAE = mean(|pred − gt| / gt) and OBO = share of clips with |pred − gt| ≤ 1, over the clips of
rep workouts. Where a manifest gives an accepted range [gt_min, gt_max] (a clip that starts or
ends mid-rep), a prediction inside it counts as exact and the error is the distance to the range.
A timed hold is scored by the seconds held: its error is |pred_hold_s − gt_hold_s|, also as a
share of gt_hold_s. Sequences of exercises the product does not referee (bench press, pull-ups
in the pose data sets) are listed as not workouts and not scored.

`score_clips` and `score_pose_sequences` run the referee over labelled data; the counting
convention (`hiitpi.referee.machine.COUNTING`) is the caller's: data labelled by attempts
(RepCount-A, Countix) in ``attempts`` mode, complete reps (the clips manifest) in ``judge`` mode.
With ``max_fps`` only every k-th frame is analysed (`frame_stride`), at most that many a second:
the rate a Pi without a Coral analyses (about 10 a second: the live engine drops the others).

Where an index gives every labelled rep's frames (RepCount-A), the referee's reps are also matched
to them (`align_cycles`): how many labelled reps were counted once, missed or counted more than
once, and how many reps were counted outside any labelled one. A count can be right by luck (a
missed rep and an extra one); these say where it is wrong.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.referee.datasets import ManifestRow, PoseIndexRow, hidden, pose_sequence, turn_picture
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee

log = logging.getLogger(__name__)

#: a hold is measured right when within this share of the labelled time
HOLD_TOLERANCE = 0.10
#: a rep matches a labelled one when it ends between this long before the labelled start and ...
ALIGN_BEFORE_S = 0.1
#: ... this long after the labelled end (the referee calls a rep once the start position has held)
ALIGN_AFTER_S = 0.25
#: the keys of an alignment, in the order the tables print them
ALIGN_KEYS: tuple[str, ...] = ("labelled", "once", "missed", "extra", "outside")


#: a source this share faster than the limit still counts as at it (a 30.05 fps phone video at 10)
STRIDE_SLACK = 0.02


def frame_stride(source_fps: float, max_fps: float | None) -> int:
    """Every k-th frame of a ``source_fps`` video is analysed so that at most ``max_fps`` are a
    second (1 without a limit): 30 fps at 10 → 3, 25 fps at 10 → 3, 60 fps at 15 → 4."""
    if not max_fps or source_fps <= max_fps * (1 + STRIDE_SLACK):
        return 1
    return max(1, math.ceil(source_fps / max_fps - STRIDE_SLACK))


@dataclass
class ClipResult:
    name: str  # "file" (clips) or "video" (pose sequences)
    exercise: str
    gt: int
    pred: int | None
    gt_min: int | None = None
    gt_max: int | None = None
    no_reps: int = 0
    error: str | None = None  # why the clip could not be evaluated
    attempts: int = 0
    gt_hold_s: float | None = None
    pred_hold_s: float | None = None
    #: not one of the product's workouts: listed, not scored
    not_workout: bool = False
    source: str = ""
    #: the reps matched to the labelled ones (`align_cycles`), where the index gives them
    alignment: dict[str, int] | None = None

    @property
    def is_hold(self) -> bool:
        return self.gt_hold_s is not None

    @property
    def scored(self) -> bool:
        return (
            not self.not_workout
            and self.error is None
            and (self.pred_hold_s is not None if self.is_hold else self.pred is not None)
        )

    @property
    def abs_err(self) -> int | None:
        if self.pred is None or self.is_hold:
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

    @property
    def hold_err_s(self) -> float | None:
        if not self.is_hold or self.pred_hold_s is None:
            return None
        return abs(self.pred_hold_s - self.gt_hold_s)


def _metrics(results: list[ClipResult]) -> dict:
    scored = [r for r in results if r.scored and not r.is_hold]
    if not scored:
        return {"mae": None, "obo": None, "n": 0}
    return {
        "mae": round(float(np.mean([r.rel_err for r in scored])), 4),
        "obo": round(float(np.mean([r.abs_err <= 1 for r in scored])), 4),
        "n": len(scored),
    }


def _hold_metrics(results: list[ClipResult]) -> dict | None:
    holds = [r for r in results if r.is_hold and r.scored]
    if not holds:
        return None
    rel = [r.hold_err_s / max(r.gt_hold_s, 1e-9) for r in holds]
    return {
        "n": len(holds),
        "mean_err_s": round(float(np.mean([r.hold_err_s for r in holds])), 3),
        "mean_rel_err": round(float(np.mean(rel)), 4),
        "within_tolerance": round(float(np.mean([e <= HOLD_TOLERANCE for e in rel])), 4),
        "tolerance": HOLD_TOLERANCE,
    }


def summarize(results: list[ClipResult], key: str = "file") -> dict:
    """The JSON report: overall mae/obo, per_exercise, holds, and one entry per clip."""
    per: dict[str, list[ClipResult]] = defaultdict(list)
    for r in results:
        if not r.not_workout and not r.is_hold:
            per[r.exercise].append(r)
    overall = _metrics(results)
    clips = []
    for r in results:
        d: dict[str, Any] = {key: r.name, "exercise": r.exercise}
        if r.not_workout:
            d["not_workout"] = True
            d["gt"] = r.gt
        elif r.is_hold:
            d["gt_hold_s"] = r.gt_hold_s
            d["pred_hold_s"] = None if r.pred_hold_s is None else round(r.pred_hold_s, 2)
            d["hold_err_s"] = None if r.hold_err_s is None else round(r.hold_err_s, 2)
        else:
            d["gt"], d["pred"] = r.gt, r.pred
            if r.gt_min is not None and (r.gt_min != r.gt or r.gt_max != r.gt):
                d["gt_min"], d["gt_max"] = r.gt_min, r.gt_max
            d["abs_err"] = r.abs_err
            d["no_reps"] = r.no_reps
            d["attempts"] = r.attempts
        if r.source:
            d["source"] = r.source
        if r.alignment is not None:
            d["alignment"] = r.alignment
        if r.error:
            d["error"] = r.error
        clips.append(d)
    report = {
        "mae": overall["mae"],
        "obo": overall["obo"],
        "n": overall["n"],
        "failed": sum(r.error is not None for r in results),
        "per_exercise": {name: _metrics(rs) for name, rs in sorted(per.items())},
        "clips": clips,
    }
    holds = _hold_metrics(results)
    if holds is not None:
        report["holds"] = holds
    aligned = [r.alignment for r in results if r.alignment is not None and r.scored]
    if aligned:
        report["alignment"] = {k: sum(a[k] for a in aligned) for k in ALIGN_KEYS}
    not_workouts = sum(r.not_workout for r in results)
    if not_workouts:
        report["not_workouts"] = not_workouts
    return report


def format_table(report: dict, key: str = "file") -> str:
    """A plain-text per-clip table followed by per-exercise and overall MAE/OBO (and hold error)."""
    rows = report["clips"]
    width = max([len(key)] + [len(str(c[key])) for c in rows]) + 2
    lines = [f"{key:<{width}}{'exercise':<18}{'gt':>8}{'pred':>7}{'err':>6}{'no-reps':>9}"]
    for c in rows:
        if c.get("not_workout"):
            line = f"{c[key]:<{width}}{c['exercise']:<18}{c['gt']:>8}{'':>7}{'':>6}{'':>9}   not one of the workouts"
        elif "gt_hold_s" in c:
            pred = "-" if c["pred_hold_s"] is None else f"{c['pred_hold_s']:.1f}s"
            err = "-" if c["hold_err_s"] is None else f"{c['hold_err_s']:.1f}s"
            line = f"{c[key]:<{width}}{c['exercise']:<18}{c['gt_hold_s']:>7.1f}s{pred:>7}{err:>6}{'':>9}"
        else:
            gt = str(c["gt"]) if "gt_min" not in c else f"{c['gt_min']}-{c['gt_max']}"
            pred = "-" if c["pred"] is None else str(c["pred"])
            err = "-" if c["abs_err"] is None else str(c["abs_err"])
            line = f"{c[key]:<{width}}{c['exercise']:<18}{gt:>8}{pred:>7}{err:>6}{c['no_reps']:>9}"
        if c.get("error"):
            line += f"   ERROR: {c['error']}"
        lines.append(line)
    lines.append("")
    lines.append(f"{'exercise':<18}{'n':>4}{'MAE':>8}{'OBO':>8}")
    for name, m in report["per_exercise"].items():
        lines.append(f"{name:<18}{m['n']:>4}{_fmt(m['mae']):>8}{_fmt(m['obo']):>8}")
    lines.append(f"{'overall':<18}{report['n']:>4}{_fmt(report['mae']):>8}{_fmt(report['obo']):>8}")
    holds = report.get("holds")
    if holds:
        lines.append(
            f"holds: {holds['n']} clip(s), mean error {holds['mean_err_s']:.2f}s "
            f"({100 * holds['mean_rel_err']:.1f}%), {100 * holds['within_tolerance']:.0f}% within "
            f"{100 * holds['tolerance']:.0f}%"
        )
    al = report.get("alignment")
    if al:
        lines.append(
            f"labelled reps: {al['labelled']}, counted once {al['once']}, missed {al['missed']}, "
            f"counted again {al['extra']} time(s); {al['outside']} rep(s) outside any labelled one"
        )
    if report.get("not_workouts"):
        lines.append(
            f"{report['not_workouts']} sequence(s) of exercises that are not workouts here: not scored"
        )
    if report.get("failed"):
        lines.append(f"{report['failed']} clip(s) could not be evaluated (see ERROR above)")
    return "\n".join(lines)


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


# --------------------------------------------------------------------------------------------
# running the referee over labelled data


def _take(res: ClipResult, referee: Referee) -> None:
    if res.is_hold:
        res.pred_hold_s = referee.hold_s
    else:
        res.pred = referee.count
        res.no_reps = referee.no_reps
        res.attempts = referee.attempts


def score_clips(
    rows: list[ManifestRow],
    catalog: Any,
    settings: Any,
    counting: str = "judge",
    *,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    max_fps: float | None = None,
) -> list[ClipResult]:
    """The real pipeline (pose model, smoothing, referee) on every clip of a manifest; with
    ``max_fps``, at most that many of each clip's frames a second (`frame_stride`)."""
    results: list[ClipResult] = []
    for row in rows:
        res = ClipResult(
            row.file,
            row.exercise,
            row.gt,
            None,
            row.gt_min,
            row.gt_max,
            gt_hold_s=row.gt_hold_s,
            source=row.source,
        )
        results.append(res)
        rule = _workout(catalog, res)
        if rule is None:
            continue
        # a clip the referee reads as turned (a camera on its side) is measured once more with the
        # pose model seeing it upright, as the live stage does once the turn is read
        where = (cache_dir, progress, max_fps)
        referee = _count_clip(row, rule, settings, counting, 0, where, res)
        if referee is not None and referee.turn:
            referee = _count_clip(row, rule, settings, counting, referee.turn, where, res)
        if referee is None:
            continue
        _take(res, referee)
        log.info(
            "%s: gt %s pred %s",
            row.file,
            row.gt_hold_s if res.is_hold else row.gt,
            res.pred_hold_s or res.pred,
        )
    return results


def _count_clip(
    row: ManifestRow,
    rule: Any,
    settings: Any,
    counting: str,
    turn: int,
    where: tuple[Any, bool, float | None],
    res: ClipResult,
) -> Referee | None:
    """The referee over a clip's poses (the model seeing the picture turned upright by ``turn``);
    None, and ``res.error`` set, when the clip cannot be read. ``where``: the pose cache folder,
    whether to show progress, and the most frames a second to analyse."""
    from hiitpi.offline.poses import count_poses, video_poses
    from hiitpi.pose.smoothing import PoseSmoother

    cache_dir, progress, max_fps = where
    try:
        poses, info = video_poses(row.path, settings, cache_dir=cache_dir, progress=progress, turn=turn)
    except Exception as exc:  # one bad clip must not stop the evaluation
        res.error = f"{type(exc).__name__}: {exc}"
        log.warning("%s: %s", row.file, res.error)
        return None
    referee = Referee(rule, settings.referee.pace_window_s, counting)
    smoother = PoseSmoother.from_settings(settings.pose.smoothing)
    count_poses(poses, info, referee, smoother, every=frame_stride(info.fps, max_fps))
    referee.finish()
    return referee


def score_pose_sequences(
    rows: list[PoseIndexRow],
    pose_dir: str | Path,
    catalog: Any,
    settings: Any,
    fps: float = 30.0,
    counting: str = "attempts",
    source: str = "",
    turn: int = 0,
    hide: str = "",
    max_fps: float | None = None,
) -> list[ClipResult]:
    """The referee (after the same One Euro smoothing as live) on every sequence of a pose index;
    with ``turn``, each sequence's picture turned clockwise by that many degrees first; with
    ``hide``, that part of the body (`datasets.OUT_OF_FRAME`) unseen in every pose, as a tight crop;
    with ``max_fps``, at most that many poses a second (`frame_stride`)."""
    pose_dir = Path(pose_dir)
    every = frame_stride(fps, max_fps)
    results: list[ClipResult] = []
    for row in rows:
        res = ClipResult(row.video, row.exercise, row.count, None, source=source)
        results.append(res)
        rule = _workout(catalog, res)
        if rule is None:
            continue
        npy = pose_dir / (Path(row.video).stem + ".npy")
        try:
            array = turn_picture(np.load(npy), turn)
            poses = [hidden(p, hide) for p in pose_sequence(array, fps)]
        except (OSError, ValueError) as exc:
            res.error = f"{npy}: {exc}"
            continue
        events: list[RefEvent] = []
        _take(res, count_sequence(rule, poses, fps, settings, counting, events, every=every))
        if row.cycles:
            res.alignment = align_cycles(events, row.cycles, fps)
    return results


def count_sequence(
    rule: Any,
    poses: list,
    fps: float,
    settings: Any,
    counting: str = "attempts",
    events: list[RefEvent] | None = None,
    every: int = 1,
) -> Referee:
    """The referee of ``rule`` run over a pose sequence (frame i at i / fps) after the live One Euro
    smoothing, and finished; its events are appended to ``events`` if given. With ``every`` = k
    only every k-th frame is seen (a slower analysis of the same movement)."""
    from hiitpi.pose.smoothing import PoseSmoother

    referee = Referee(rule, settings.referee.pace_window_s, counting)
    smoother = PoseSmoother.from_settings(settings.pose.smoothing)
    out = events if events is not None else []
    for i in range(0, len(poses), every):
        pose = poses[i]
        out += referee.update(smoother.filter(pose) if pose is not None else None, i / fps)
    out += referee.finish()
    return referee


def align_cycles(events: list[RefEvent], cycles: list[tuple[int, int]], fps: float) -> dict[str, int]:
    """The referee's reps matched to labelled reps (start and end frames at ``fps``).

    A rep belongs to the first labelled rep it ends in (from `ALIGN_BEFORE_S` before its start to
    `ALIGN_AFTER_S` after its end). Returns the labelled reps (``labelled``), those counted exactly
    once (``once``) and not at all (``missed``), the reps beyond the first in a labelled one
    (``extra``), and the reps that end in none (``outside``).
    """
    hits = [0] * len(cycles)
    outside = 0
    for ev in events:
        if ev.kind != "rep":
            continue
        for i, (a, b) in enumerate(cycles):
            if a / fps - ALIGN_BEFORE_S <= ev.t_end <= b / fps + ALIGN_AFTER_S:
                hits[i] += 1
                break
        else:
            outside += 1
    return {
        "labelled": len(cycles),
        "once": sum(h == 1 for h in hits),
        "missed": sum(h == 0 for h in hits),
        "extra": sum(h - 1 for h in hits if h > 1),
        "outside": outside,
    }


def _workout(catalog: Any, res: ClipResult) -> Any:
    """The rule for the clip's exercise; None (and the clip marked) if it is not one of ours."""
    try:
        return catalog.workout(res.exercise)
    except KeyError:
        res.not_workout = True
        return None
