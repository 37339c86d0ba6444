"""Labelled movement for training and scoring the recogniser, from the shared data sets.

Every source becomes `Sequence`s of the product's 17 COCO keypoints in pixels with timestamps,
labelled with a workout name from the rules (through its aliases) or ``none``:

- **clips** (a clips manifest): the product's own pose model on real video (cached per clip by
  `hiitpi.offline.poses.video_poses`), smoothed as live; the source is the clip's ``source_repo``.
- **RepCount-A** and **Countix-Fitness** pose sequences (33 BlazePose landmarks, min–max
  normalised per frame): mapped to COCO with their aspect restored
  (`hiitpi.referee.datasets.pose_sequence`); exercises the rules do not know are ``none``.
  Where an index gives every rep's frames, the stretches between reps are ``none`` too (rest).
- **salient poses** (single frames at the two extremes of a movement, PoseRAC's format, and the
  Kaggle up/down poses): a movement is rebuilt between a video's two extremes (a cosine between
  a pose of each), so a single-frame data set gives windows shaped like the sequences'.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.referee.datasets import BLAZEPOSE_TO_COCO, pose_sequence, read_manifest, read_pose_index

log = logging.getLogger(__name__)

NONE = "none"
#: frame rate the pose-sequence data sets are read at (they carry none of their own)
SEQUENCE_FPS = 30.0


@dataclass
class Sequence:
    """One labelled stretch of movement: keypoints in pixels, their times, its label and source."""

    name: str
    source: str  # data set (or the clip's source repository): the unit left out in LOSO
    dataset: str  # clips, repcount, countix, countix_train, kaggle
    exercise: str  # a workout name, or "none"
    px: np.ndarray  # (frames, 17, 3): x, y in pixels, score; rows of zeros where nobody was seen
    t: np.ndarray  # (frames,) seconds
    #: per frame, True inside a labelled rep (None: the source does not say)
    active: np.ndarray | None = None
    raw_label: str = ""  # the data set's own class name
    count: int | None = None  # the data set's rep count, where given


def label_of(name: str, resolve: Callable[[str], str | None]) -> str:
    """The workout a data set's class name means, or ``none`` when no rule knows it."""
    return resolve(name) or NONE


def rules_resolver(rules: Any) -> Callable[[str], str | None]:
    """A name → workout function from a `Catalog` (its workouts' names and aliases)."""

    def resolve(name: str) -> str | None:
        try:
            return rules.workout(name).name
        except KeyError:  # UnknownNameError
            return None

    return resolve


def poses_to_px(poses: Iterable[Pose | None], fps: float) -> tuple[np.ndarray, np.ndarray]:
    """(keypoints in pixels (frames, 17, 3), timestamps) of a pose list; zeros where None."""
    poses = list(poses)
    px = np.zeros((len(poses), 17, 3), dtype=np.float32)
    t = np.arange(len(poses), dtype=np.float64) / fps
    for i, p in enumerate(poses):
        if p is not None:
            px[i] = p.keypoints * np.array([p.width, p.height, 1.0], dtype=np.float32)
            t[i] = p.timestamp
    return px, t


def smoothed(poses: list[Pose | None], fps: float, smoothing: Any) -> list[Pose | None]:
    """The poses through the live pipeline's One Euro smoother (what the recogniser sees live)."""
    from hiitpi.pose.smoothing import PoseSmoother

    smoother = PoseSmoother.from_settings(smoothing)
    out = []
    for i, p in enumerate(poses):
        if p is not None and p.timestamp is None:
            p.timestamp = i / fps
        out.append(smoother.filter(p) if p is not None else None)
    return out


# --------------------------------------------------------------------------------------------


def clip_sequences(
    manifest: str | Path, settings: Any, resolve: Callable[[str], str | None], progress: bool = False
) -> list[tuple[Sequence, list[Pose | None]]]:
    """Every clip of a manifest with its smoothed poses (the pose model runs once per clip, cached)."""
    from hiitpi.offline.poses import video_poses

    sources = _manifest_sources(manifest)
    out = []
    for row in read_manifest(manifest):
        poses, info = video_poses(row.path, settings, progress=progress)
        poses = smoothed(poses, info.fps, settings.pose.smoothing)
        px, t = poses_to_px(poses, info.fps)
        seq = Sequence(
            row.file,
            sources.get(row.file) or row.file,
            "clips",
            label_of(row.exercise, resolve),
            px,
            t,
            raw_label=row.exercise,
            count=row.gt,
        )
        out.append((seq, poses))
    return out


def _manifest_sources(manifest: str | Path) -> dict[str, str]:
    with open(manifest, encoding="utf-8") as f:
        return {r["file"]: (r.get("source_repo") or "").strip() for r in csv.DictReader(f)}


def pose_index_sequences(
    index: str | Path,
    pose_dir: str | Path,
    dataset: str,
    resolve: Callable[[str], str | None],
    smoothing: Any = None,
    fps: float = SEQUENCE_FPS,
) -> list[tuple[Sequence, list[Pose | None]]]:
    """Every sequence of a RepCount-A or Countix-Fitness index (104- or 99-column arrays)."""
    out = []
    for row in read_pose_index(index):
        npy = Path(pose_dir) / (Path(row.video).stem + ".npy")
        poses = list(pose_sequence(np.load(npy), fps))
        if smoothing is not None:
            poses = smoothed(poses, fps, smoothing)
        px, t = poses_to_px(poses, fps)
        active = None
        if row.cycles:
            active = np.zeros(len(px), dtype=bool)
            for a, b in row.cycles:
                active[max(0, a) : b + 1] = True
        seq = Sequence(
            row.video,
            dataset,
            dataset,
            label_of(row.exercise, resolve),
            px,
            t,
            active,
            row.exercise,
            row.count,
        )
        out.append((seq, poses))
    return out


def mark_reps_by_referee(seq: Sequence, poses: list[Pose | None], rule: Any, tolerance: int = 1) -> bool:
    """Where the labels give no rep times, take them from the workout's own referee — but only
    when its count agrees with the label (within ``tolerance``), so its times can be trusted.

    Sets ``seq.active`` (True inside every rep and no-rep the referee saw); returns whether it did.
    """
    from hiitpi.referee.machine import Referee

    if seq.active is not None or seq.count is None or rule.kind != "reps":
        return False
    ref = Referee(rule)
    spans = []
    for pose, t in zip(poses, seq.t, strict=True):
        spans += [(e.t_start, e.t_end) for e in ref.update(pose, float(t)) if e.kind in ("rep", "no_rep")]
    if abs(ref.count - seq.count) > tolerance:
        return False
    active = np.zeros(len(seq.t), dtype=bool)
    for a, b in spans:
        active |= (seq.t >= a) & (seq.t <= b)
    seq.active = active
    return True


# --------------------------------------------------------------------------------------------
# single-frame data sets: a movement rebuilt between the two extremes


def countix_salient(path: str | Path) -> dict[tuple[str, str], tuple[list[np.ndarray], list[np.ndarray]]]:
    """countix_fitness_train.csv: {(class, video): (salient1 poses, salient2 poses)}, COCO (17, 2)."""
    groups: dict[tuple[str, str], tuple[list, list]] = defaultdict(lambda: ([], []))
    with open(path, encoding="utf-8") as f:
        for row in csv.reader(f):
            if len(row) < 101:
                continue
            parts = row[0].split("/")  # train/<class>/<salient1|2>/<video>/<frame>.jpg
            if len(parts) < 5:
                continue
            xyz = np.asarray(row[2:101], dtype=np.float64).reshape(33, 3)
            which = 0 if parts[2] == "salient1" else 1
            groups[(row[1], parts[3])][which].append(xyz[BLAZEPOSE_TO_COCO, :2])
    return {k: v for k, v in groups.items() if v[0] and v[1]}


def kaggle_updown(path: str | Path) -> dict[str, tuple[list[np.ndarray], list[np.ndarray]]]:
    """kaggle_exercise_updown.csv: {exercise: (up poses, down poses)}, COCO (17, 2)."""
    groups: dict[str, tuple[list, list]] = defaultdict(lambda: ([], []))
    with open(path, encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader, None)
        for row in reader:
            if len(row) < 101 or "_" not in row[1]:
                continue
            exercise, _, pos = row[1].rpartition("_")
            xyz = np.asarray(row[2:101], dtype=np.float64).reshape(33, 3)
            groups[exercise][0 if pos == "up" else 1].append(xyz[BLAZEPOSE_TO_COCO, :2])
    return {k: v for k, v in groups.items() if v[0] and v[1]}


def rebuilt_movement(
    a: np.ndarray, b: np.ndarray, rng: np.random.Generator, duration_s: float = 4.0, fps: float = 30.0
) -> tuple[np.ndarray, np.ndarray]:
    """Pixel keypoints moving between poses ``a`` and ``b`` (17, 2) with a random period and phase."""
    n = int(duration_s * fps)
    t = np.arange(n) / fps
    period = rng.uniform(1.2, 3.0)
    phase = rng.uniform(0, 2 * np.pi)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * t / period + phase)
    xy = a[None] * (1 - w[:, None, None]) + b[None] * w[:, None, None]
    scale = np.ptp(np.concatenate([a, b]), axis=0).max() or 1.0
    xy = xy + rng.normal(0, 0.01 * scale, xy.shape)
    px = np.concatenate([xy, np.ones((n, 17, 1))], axis=2).astype(np.float32)
    return px, t


def salient_sequences(
    countix_train: str | Path | None,
    kaggle: str | Path | None,
    resolve: Callable[[str], str | None],
    per_group: int = 2,
    seed: int = 0,
) -> list[Sequence]:
    """Movements rebuilt from the two single-frame data sets (``per_group`` per video or pair)."""
    rng = np.random.default_rng(seed)
    out: list[Sequence] = []
    if countix_train is not None and Path(countix_train).is_file():
        for (cls, video), (s1, s2) in sorted(countix_salient(countix_train).items()):
            for k in range(per_group):
                a, b = s1[rng.integers(len(s1))], s2[rng.integers(len(s2))]
                px, t = rebuilt_movement(a, b, rng)
                out.append(
                    Sequence(
                        f"{video}#{k}",
                        "countix_train",
                        "countix_train",
                        label_of(cls, resolve),
                        px,
                        t,
                        raw_label=cls,
                    )
                )
    if kaggle is not None and Path(kaggle).is_file():
        for ex, (ups, downs) in sorted(kaggle_updown(kaggle).items()):
            n = max(len(ups), len(downs)) // 2 * per_group // 2
            for k in range(n):
                a, b = ups[rng.integers(len(ups))], downs[rng.integers(len(downs))]
                px, t = rebuilt_movement(a, b, rng)
                out.append(
                    Sequence(f"{ex}#{k}", "kaggle", "kaggle", label_of(ex, resolve), px, t, raw_label=ex)
                )
    return out
