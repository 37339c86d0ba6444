"""The per-frame pipeline shared by offline analysis and the live engine, and video analysis.

`FramePipeline` runs one frame through pose estimation, smoothing and the referee and keeps
per-stage timings. `analyze_video` runs a whole file as fast as the machine allows, with a
progress bar, and can write an annotated copy (skeleton, state and count). `video_poses`
returns a clip's raw poses, cached on disk by file hash and model so evaluations that only
change rules do not pay for the pose model again.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.errors import InputError
from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee

log = logging.getLogger(__name__)

#: Bump when the cached pose format or the way poses are produced changes.
CACHE_VERSION = 1


class VideoOpenError(InputError, RuntimeError):
    """A video file OpenCV cannot read."""


@dataclass
class StageTimes:
    """Per-stage wall times in milliseconds, one entry per processed frame."""

    pose_ms: list[float] = field(default_factory=list)
    smooth_ms: list[float] = field(default_factory=list)
    referee_ms: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for name in ("pose_ms", "smooth_ms", "referee_ms"):
            vals = getattr(self, name)
            if vals:
                arr = np.asarray(vals)
                out[name] = {
                    "median": round(float(np.median(arr)), 3),
                    "p90": round(float(np.percentile(arr, 90)), 3),
                    "n": len(vals),
                }
        return out


class FramePipeline:
    """estimator → smoother → referee for one stream of frames.

    ``process(frame_bgr, timestamp)`` returns (smoothed pose or None, referee events).
    ``process_pose(pose, timestamp)`` does the same from an already estimated pose (cached
    poses, tests). Any of the three parts may be None (no smoothing, no referee).
    """

    def __init__(self, estimator: Any, smoother: Any = None, referee: Referee | None = None):
        self.estimator = estimator
        self.smoother = smoother
        self.referee = referee
        self.times = StageTimes()
        self.last_pose: Pose | None = None
        self.frames = 0

    def reset(self) -> None:
        for part in (self.estimator, self.smoother, self.referee):
            if part is not None and hasattr(part, "reset"):
                part.reset()
        self.last_pose = None

    def process(self, frame_bgr: np.ndarray, timestamp: float) -> tuple[Pose | None, list[RefEvent]]:
        t0 = time.perf_counter()
        pose = self.estimator.estimate(frame_bgr, timestamp)
        self.times.pose_ms.append((time.perf_counter() - t0) * 1000.0)
        return self.process_pose(pose, timestamp)

    def process_pose(self, pose: Pose | None, timestamp: float) -> tuple[Pose | None, list[RefEvent]]:
        self.frames += 1
        if pose is not None and self.smoother is not None:
            t0 = time.perf_counter()
            pose = self.smoother.filter(pose)
            self.times.smooth_ms.append((time.perf_counter() - t0) * 1000.0)
        events: list[RefEvent] = []
        if self.referee is not None:
            t0 = time.perf_counter()
            events = self.referee.update(pose, timestamp)
            self.times.referee_ms.append((time.perf_counter() - t0) * 1000.0)
        self.last_pose = pose
        return pose, events


# --------------------------------------------------------------------------------------------
# video files


@dataclass
class VideoInfo:
    path: Path
    fps: float
    width: int
    height: int
    frames: int


def open_video(path: str | Path) -> tuple[Any, VideoInfo]:
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoOpenError(f"{path}: no such video file")
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        raise VideoOpenError(
            f"{path}: OpenCV cannot open this video (is it a video file? is ffmpeg support built in?)"
        )
    fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    if not (1.0 <= fps <= 240.0):
        log.warning("%s: frame rate %.2f is not believable, assuming 30", path, fps)
        fps = 30.0
    info = VideoInfo(
        path,
        float(fps),
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        int(cap.get(cv2.CAP_PROP_FRAME_COUNT)),
    )
    return cap, info


def iter_frames(cap: Any, fps: float) -> Iterator[tuple[int, float, np.ndarray]]:
    """(index, timestamp in seconds, BGR frame) for every frame; timestamps from the frame rate."""
    i = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            return
        yield i, i / fps, frame
        i += 1


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total or None, desc=desc, unit="frame", disable=not enabled, leave=False, dynamic_ncols=True
    )


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def pose_cache_key(path: str | Path, settings: Any) -> str:
    """Identifies a clip's raw poses: file content, model, and the settings that change them."""
    key = {
        "sha": file_sha256(path),
        "model": settings.pose.model,
        "min_score": settings.pose.min_score,
        "v": CACHE_VERSION,
    }
    options = settings.pose.options.get(settings.pose.model)
    if options:  # [pose.options.<model>] (crop tracking on/off) changes the poses
        key["options"] = options
    desc = json.dumps(key, sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:24]


def default_cache_dir(settings: Any) -> Path:
    return Path(settings.general.data_dir) / "cache" / "poses"


def video_poses(
    path: str | Path,
    settings: Any,
    *,
    estimator: Any = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
) -> tuple[list[Pose | None], VideoInfo]:
    """Raw (unsmoothed) poses of every frame of a video, from the cache when it has them.

    ``cache_dir=None`` uses <data_dir>/cache/poses; pass ``False``-y ``""`` to skip the cache.
    """
    cache_file = None
    if cache_dir != "":
        cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(settings)
        cache_file = cache_dir / f"{pose_cache_key(path, settings)}.npz"
        if cache_file.is_file():
            try:
                return _load_cached(cache_file, path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("pose cache %s unreadable (%s): recomputing", cache_file, exc)
    own = estimator is None
    if own:
        from hiitpi.pose.registry import create_estimator

        estimator = create_estimator(settings)
    cap, info = open_video(path)
    poses: list[Pose | None] = []
    try:
        estimator.reset()
        with _progress(info.frames, Path(path).name, progress) as bar:
            for _i, t, frame in iter_frames(cap, info.fps):
                poses.append(estimator.estimate(frame, t))
                bar.update(1)
    finally:
        cap.release()
        if own:
            estimator.close()
    info.frames = len(poses)
    if cache_file is not None:
        _save_cached(cache_file, poses, info)
    return poses, info


def _save_cached(cache_file: Path, poses: list[Pose | None], info: VideoInfo) -> None:
    n = len(poses)
    kps = np.zeros((n, 17, 3), dtype=np.float32)
    present = np.zeros(n, dtype=bool)
    ts = np.zeros(n, dtype=np.float64)
    for i, p in enumerate(poses):
        ts[i] = i / info.fps
        if p is not None:
            kps[i] = p.keypoints
            present[i] = True
            ts[i] = p.timestamp
    cache_file.parent.mkdir(parents=True, exist_ok=True)
    tmp = cache_file.with_suffix(".tmp.npz")
    np.savez_compressed(
        tmp, kps=kps, present=present, ts=ts, meta=np.array([info.fps, info.width, info.height])
    )
    tmp.replace(cache_file)


def _load_cached(cache_file: Path, path: str | Path) -> tuple[list[Pose | None], VideoInfo]:
    with np.load(cache_file) as d:
        kps, present, ts, meta = d["kps"], d["present"], d["ts"], d["meta"]
    fps, w, h = float(meta[0]), int(meta[1]), int(meta[2])
    poses: list[Pose | None] = [
        Pose(kps[i].copy(), float(kps[i, :, 2].mean()), float(ts[i]), w, h) if present[i] else None
        for i in range(len(present))
    ]
    return poses, VideoInfo(Path(path), fps, w, h, len(poses))


def count_poses(
    poses: list[Pose | None], info: VideoInfo, referee: Referee, smoother: Any = None
) -> list[RefEvent]:
    """Run smoother + referee over a clip's poses; returns every event."""
    pipe = FramePipeline(None, smoother, referee)
    events: list[RefEvent] = []
    for i, pose in enumerate(poses):
        _, evs = pipe.process_pose(pose, pose.timestamp if pose is not None else i / info.fps)
        events.extend(evs)
    return events


# --------------------------------------------------------------------------------------------
# analyze one video


@dataclass
class AnalysisResult:
    video: str
    workout: str
    model: str
    frames: int
    fps: float
    duration_s: float
    reps: int
    no_reps: int
    hold_s: float
    events: list[RefEvent]
    timings: dict
    wall_s: float

    def to_dict(self) -> dict:
        reps = [e for e in self.events if e.kind == "rep"]
        return {
            "video": self.video,
            "workout": self.workout,
            "model": self.model,
            "frames": self.frames,
            "fps": round(self.fps, 3),
            "duration_s": round(self.duration_s, 3),
            "reps": self.reps,
            "no_reps": self.no_reps,
            "hold_s": round(self.hold_s, 3),
            "rep_events": [_rep_dict(e) for e in reps],
            "no_rep_events": [_rep_dict(e) for e in self.events if e.kind == "no_rep"],
            "faults": [_rep_dict(e) for e in self.events if e.kind == "fault"],
            "timings_ms": self.timings,
            "wall_s": round(self.wall_s, 3),
            "frames_per_second": round(self.frames / self.wall_s, 2) if self.wall_s > 0 else None,
        }


def _rep_dict(e: RefEvent) -> dict:
    d = {
        "count": e.count,
        "start": round(e.t_start, 3),
        "end": round(e.t_end, 3),
        "duration_s": round(e.duration_s, 3),
    }
    for key in ("eccentric_s", "concentric_s", "rom", "reason", "side"):
        v = getattr(e, key)
        if v is not None:
            d[key] = round(v, 3) if isinstance(v, float) else v
    return d


def analyze_video(
    path: str | Path,
    settings: Any,
    workout: str,
    *,
    out: str | Path | None = None,
    progress: bool = True,
    estimator: Any = None,
) -> AnalysisResult:
    """Run the real pipeline over a video file; optionally write an annotated copy to ``out``."""
    import cv2

    from hiitpi.pose.smoothing import PoseSmoother
    from hiitpi.referee.rules import load_rule_set

    rule = load_rule_set(settings.referee.rules_dir).resolve(workout)
    referee = Referee(rule, settings.referee.pace_window_s)
    own = estimator is None
    if own:
        from hiitpi.pose.registry import create_estimator

        estimator = create_estimator(settings)
    smoother = PoseSmoother.from_settings(settings.pose.smoothing)
    pipe = FramePipeline(estimator, smoother, referee)
    cap, info = open_video(path)
    writer = None
    if out is not None:
        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        writer = cv2.VideoWriter(
            str(out), cv2.VideoWriter_fourcc(*"mp4v"), info.fps, (info.width, info.height)
        )
        if not writer.isOpened():
            cap.release()
            raise VideoOpenError(f"{out}: cannot write a video here (try a .mp4 name in a writable folder)")
    events: list[RefEvent] = []
    frames = 0
    t_wall = time.perf_counter()
    try:
        estimator.reset()
        with _progress(info.frames, Path(path).name, progress) as bar:
            for _i, t, frame in iter_frames(cap, info.fps):
                pose, evs = pipe.process(frame, t)
                events.extend(evs)
                frames += 1
                if writer is not None:
                    writer.write(annotate(frame, pose, referee, evs))
                bar.update(1)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
        if own:
            estimator.close()
    wall = time.perf_counter() - t_wall
    return AnalysisResult(
        video=str(path),
        workout=rule.name,
        model=getattr(estimator, "name", settings.pose.model),
        frames=frames,
        fps=info.fps,
        duration_s=frames / info.fps if info.fps else 0.0,
        reps=referee.count,
        no_reps=referee.no_reps,
        hold_s=referee.hold_s,
        events=events,
        timings=pipe.times.summary(),
        wall_s=wall,
    )


def annotate(frame: np.ndarray, pose: Pose | None, referee: Referee, events: list[RefEvent]) -> np.ndarray:
    """The frame with the skeleton, the referee's state, count and last call drawn on it."""
    import cv2

    from hiitpi.pose.draw import draw_pose

    img = draw_pose(frame, pose, copy=True)
    h, w = img.shape[:2]
    scale = max(0.5, min(w, h) / 480)
    if referee.rule.kind == "hold":
        lines = [f"{referee.rule.title}: {referee.hold_s:.1f}s", f"state: {referee.phase}"]
    else:
        lines = [
            f"{referee.rule.title}: {referee.count}",
            f"state: {referee.phase}  no-reps: {referee.no_reps}  pace: {referee.pace:.0f}/min",
        ]
    for e in events:
        if e.kind in ("no_rep", "fault") and e.reason:
            lines.append(f"{e.kind.replace('_', '-')}: {e.reason}")
    font, fs, thick = cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale, max(1, int(2 * scale))
    line_h = int(34 * scale)
    width = max(cv2.getTextSize(line, font, fs, thick)[0][0] for line in lines) + int(20 * scale)
    box = img[0 : line_h * len(lines) + int(12 * scale), 0 : min(w, width)]
    box[:] = (box * 0.35).astype(img.dtype)  # darken behind the text so it reads on any video
    y = int(28 * scale)
    for line in lines:
        cv2.putText(img, line, (int(10 * scale), y), font, fs, (255, 255, 255), thick, cv2.LINE_AA)
        y += line_h
    return img
