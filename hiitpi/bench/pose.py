"""`hiitpi bench pose`: the pose model's latency — inference and the full per-frame cost."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

from hiitpi.config import Settings
from hiitpi.errors import InputError
from hiitpi.stats import summary

#: Default bench frames when --source is not given: a clip (then an image) under the shared data.
_BENCH_DEFAULT_CLIP = Path("clips") / "squat" / "yuyoujiang_squat.mp4"
_BENCH_DEFAULT_IMAGE = Path("images") / "squat.bmp"


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "pose",
        help="pose model latency: inference and full per-frame cost (median, p90)",
        description="Time the pose model on real frames: inference (the model invocations) and the "
        "full per-frame cost (crop/resize + inference + decode), over --runs frames after a warm-up.",
    )
    p.add_argument("--model", help="pose model (default: [pose] model)")
    p.add_argument("--threads", type=int, help="TFLite CPU threads (default: [pose] threads)")
    p.add_argument("--device", choices=["auto", "cpu", "edgetpu"], help="where to run the model")
    p.add_argument(
        "--source",
        help="video or image to take frames from (default: $HIITPI_DATA or ../shared/data: "
        f"{_BENCH_DEFAULT_CLIP}, else {_BENCH_DEFAULT_IMAGE})",
    )
    p.add_argument("--runs", type=int, default=200, help="timed frames (default 200)")
    p.add_argument("--warmup", type=int, default=20, help="untimed frames first (default 20)")
    p.add_argument("--max-frames", type=int, default=120, help="distinct frames read from a video")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): args.model,
        ("pose", "threads"): args.threads,
        ("pose", "device"): args.device,
    }


def default_bench_source() -> Path | None:
    """A real clip (else image) under $HIITPI_DATA, else the checkout's ../shared/data."""
    roots = [os.environ.get("HIITPI_DATA"), Path(__file__).resolve().parents[2].parent / "shared" / "data"]
    for root in roots:
        if not root:
            continue
        for rel in (_BENCH_DEFAULT_CLIP, _BENCH_DEFAULT_IMAGE):
            if (Path(root) / rel).is_file():
                return Path(root) / rel
    return None


def read_frames(source: Path, max_frames: int) -> list:
    """Up to ``max_frames`` consecutive frames of a video, or the one image."""
    import cv2

    img = (
        cv2.imread(str(source), cv2.IMREAD_COLOR)
        if source.suffix.lower() in (".png", ".jpg", ".jpeg", ".bmp")
        else None
    )
    if img is not None:
        return [img]
    from hiitpi.capture.video import VideoFileSource

    frames = []
    stream = VideoFileSource(source, paced=False).frames()
    try:
        for frame in stream:
            frames.append(frame.image)
            if len(frames) >= max_frames:
                break
    finally:
        stream.close()
    if not frames:
        raise InputError(f"no frames could be read from {source}: not a video or image OpenCV can decode")
    return frames


def bench_pose(estimator: Any, frames: list, runs: int, warmup: int) -> dict[str, Any]:
    """Time ``estimator.estimate`` over ``frames`` (cycled, in order, as a stream).

    Inference is the time spent in the backend's TFLite model runs for that frame (all of its
    models: BlazePose's detector counts on the frames where it ran); the frame cost is the
    whole ``estimate`` call.
    """
    models = list(estimator.models.values())
    infer_ms: list[float] = []
    frame_ms: list[float] = []
    infer_cpu_ms: list[float] = []
    frame_cpu_ms: list[float] = []
    found = 0
    estimator.reset()
    for i in range(warmup + runs):
        frame = frames[i % len(frames)]
        before = sum(m.run_seconds for m in models)
        before_cpu = sum(m.run_cpu_seconds for m in models)
        t0 = time.perf_counter()
        c0 = time.process_time()
        pose = estimator.estimate(frame, i / 30.0)
        elapsed = time.perf_counter() - t0
        elapsed_cpu = time.process_time() - c0
        if i < warmup:
            continue
        infer_ms.append((sum(m.run_seconds for m in models) - before) * 1e3)
        frame_ms.append(elapsed * 1e3)
        infer_cpu_ms.append((sum(m.run_cpu_seconds for m in models) - before_cpu) * 1e3)
        frame_cpu_ms.append(elapsed_cpu * 1e3)
        found += pose is not None
    result: dict[str, Any] = {}
    for prefix, values in (
        ("", infer_ms),
        ("frame_", frame_ms),
        ("cpu_", infer_cpu_ms),
        ("frame_cpu_", frame_cpu_ms),
    ):
        # cpu_*: CPU time (all threads of this process): what the work costs without waiting for a
        # core; on a busy machine the wall-clock figures also include that waiting.
        figures = summary(values)
        for stat in ("median", "p90", "p95"):
            result[f"{prefix}{stat}_ms"] = figures[stat]
    result.update(runs=runs, warmup=warmup, person_found=found)
    return result


def bare_invoke(
    estimator: Any, frame: Any, runs: int = 300, warmup: int = 20, period_s: float | None = None
) -> dict[str, float]:
    """The model alone: ``interpreter.invoke()`` in a loop on one real input (``frame`` letterboxed
    and prepared as the backend does), nothing else. What every other cost is compared with.

    ``cpu_ms`` is this process's CPU time per invoke (all threads: XNNPACK's pool included); run
    it while nothing else in the process works. With ``period_s`` the invokes are spaced like
    camera frames (the thread sleeps in between, as the analysis thread does), which shows what
    the same invoke costs when the caches have gone cold between frames.
    """
    from hiitpi.pose.geometry import Region, RegionWarp

    model = estimator.input_model
    h, w = frame.shape[:2]
    tensor = estimator.prepare(
        frame, RegionWarp(Region.letterbox(w, h), estimator.input_w, estimator.input_h)
    )
    interpreter = model.interpreter
    interpreter.set_tensor(model.input["index"], tensor)
    for _ in range(warmup):
        interpreter.invoke()
    if period_s:
        cpu = wall = 0.0
        due = time.monotonic()
        for _ in range(runs):
            due += period_s
            c0, t0 = time.process_time(), time.perf_counter()
            interpreter.invoke()
            cpu += time.process_time() - c0
            wall += time.perf_counter() - t0
            time.sleep(max(0.0, due - time.monotonic()))
    else:
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(runs):
            interpreter.invoke()
        cpu, wall = time.process_time() - c0, time.perf_counter() - t0
    return {"cpu_ms": round(1000 * cpu / runs, 3), "wall_ms": round(1000 * wall / runs, 3), "runs": runs}


def bench_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.pose.registry import create_estimator
    from hiitpi.pose.runtime import load_runtime

    if args.runs < 1 or args.warmup < 0:
        raise InputError("--runs must be >= 1 and --warmup >= 0")
    source = Path(args.source) if args.source else default_bench_source()
    if source is None:
        raise InputError(
            "no frames to time: pass --source VIDEO_OR_IMAGE (or set HIITPI_DATA to the shared data)"
        )
    if not source.is_file():
        raise InputError(f"--source {source} not found")
    frames = read_frames(source, args.max_frames)
    estimator = create_estimator(settings)
    result = {
        "model": estimator.name,
        "threads": settings.pose.threads,
        "device": estimator.device,
        "runtime": load_runtime().module_name,
        "source": str(source),
        "frame_size": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
        "frames": len(frames),
    }
    result.update(bench_pose(estimator, frames, args.runs, args.warmup))
    if hasattr(estimator, "detector_runs"):
        result["detector_runs"] = estimator.detector_runs
    estimator.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{result['model']} ({result['device']}, {result['threads']} thread(s), {result['runtime']}) "
            f"on {result['frames']} frame(s) {result['frame_size']} of {source.name}, {args.runs} runs:\n"
            f"  inference  median {result['median_ms']:.2f} ms  p90 {result['p90_ms']:.2f} ms  "
            f"p95 {result['p95_ms']:.2f} ms\n"
            f"  per frame  median {result['frame_median_ms']:.2f} ms  p90 {result['frame_p90_ms']:.2f} ms  "
            f"p95 {result['frame_p95_ms']:.2f} ms  (crop/resize + inference + decode)\n"
            f"  CPU time   inference median {result['cpu_median_ms']:.2f} ms, per frame median "
            f"{result['frame_cpu_median_ms']:.2f} ms (all threads; excludes waiting for a core)\n"
            f"  person found in {result['person_found']}/{args.runs} frames",
            file=sys.stdout,
        )
    return 0
