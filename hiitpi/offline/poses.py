"""A clip's raw poses, cached on disk by file content, model and the settings that change them."""

from __future__ import annotations

import functools
import hashlib
import itertools
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.capture.video import VideoFileSource, VideoInfo
from hiitpi.engine.pipeline import PoseStage
from hiitpi.pose.types import Pose
from hiitpi.pose.upright import estimate_upright
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee

log = logging.getLogger(__name__)

#: Bump when the cached pose format or the way poses are produced changes.
CACHE_VERSION = 2  # 2: a dim picture is brightened before the model ([pose] exposure)


def progress_bar(total: int, desc: str, enabled: bool):
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


def pose_cache_key(path: str | Path, settings: Any, turn: int = 0) -> str:
    """Identifies a clip's raw poses: file content, model, the settings that change them, the
    turn the picture was seen upright by (`video_poses`), and the libraries that made them."""
    key = {
        "sha": file_sha256(path),
        "model": settings.pose.model,
        "min_score": settings.pose.min_score,
        "v": CACHE_VERSION,
        "libs": pose_libraries(),
    }
    if turn:
        key["turn"] = turn
    if settings.pose.exposure != "auto":
        key["exposure"] = settings.pose.exposure
    options = settings.pose.options.get(settings.pose.model)
    if options:  # [pose.options.<model>] (crop tracking on/off) changes the poses
        key["options"] = options
    desc = json.dumps(key, sort_keys=True)
    return hashlib.sha256(desc.encode()).hexdigest()[:24]


@functools.cache
def pose_libraries() -> dict[str, str]:
    """The versions of what decodes the frames, samples the model's input and runs the model: a new
    one can move a keypoint (OpenCV 5.1's bilinear warp differs from 4.14's by a grey level in 2 %
    of the pixels), so poses cached with another are not reused."""
    import importlib.metadata as md

    import cv2

    out = {"opencv": cv2.__version__}
    for dist in ("ai-edge-litert", "tflite-runtime"):
        try:
            out[dist] = md.version(dist)
        except md.PackageNotFoundError:
            pass
    return out


def default_cache_dir(settings: Any) -> Path:
    return Path(settings.general.data_dir) / "cache" / "poses"


def video_poses(
    path: str | Path,
    settings: Any,
    *,
    estimator: Any = None,
    cache_dir: str | Path | None = None,
    progress: bool = False,
    turn: int = 0,
) -> tuple[list[Pose | None], VideoInfo]:
    """Raw (unsmoothed) poses of every frame of a video, from the cache when it has them.

    ``cache_dir=None`` uses <data_dir>/cache/poses; pass ``False``-y ``""`` to skip the cache.
    ``turn``: the picture is turned so (where the body's up points): the model sees it upright
    (`hiitpi.pose.upright`), the poses are where the picture shows them.
    """
    cache_file = None
    if cache_dir != "":
        cache_dir = Path(cache_dir) if cache_dir else default_cache_dir(settings)
        cache_file = cache_dir / f"{pose_cache_key(path, settings, turn)}.npz"
        if cache_file.is_file():
            try:
                return _load_cached(cache_file, path)
            except (OSError, ValueError, KeyError) as exc:
                log.warning("pose cache %s unreadable (%s): recomputing", cache_file, exc)
    own = estimator is None
    if own:
        from hiitpi.pose.registry import create_estimator

        estimator = create_estimator(settings)
    source = VideoFileSource(path, paced=False)
    frames = source.frames()
    poses: list[Pose | None] = []
    try:
        first = next(frames, None)  # opens the file: its header gives the progress bar's total
        info = source.info
        estimator.reset()
        with progress_bar(info.frames, Path(path).name, progress) as bar:
            for frame in itertools.chain([first] if first is not None else [], frames):
                poses.append(estimate_upright(estimator, frame.image, frame.timestamp, turn))
                bar.update(1)
    finally:
        frames.close()
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
    poses: list[Pose | None], info: VideoInfo, referee: Referee, smoother: Any = None, every: int = 1
) -> list[RefEvent]:
    """Run smoother + referee over a clip's poses (with ``every`` = k, every k-th frame only, as a
    slower analysis sees the clip); returns every event."""
    stage = PoseStage(None, smoother)
    events: list[RefEvent] = []
    for i in range(0, len(poses), every):
        pose = poses[i]
        t = pose.timestamp if pose is not None else i / info.fps
        events.extend(stage.referee((referee,), stage.smooth(pose), t))
    return events
