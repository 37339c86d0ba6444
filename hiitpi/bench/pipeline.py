"""`hiitpi bench pipeline`: the whole live engine on a real clip, into a real Redis.

Reports frames per second, dropped frames, how many cores the process kept busy (process CPU
time / wall time), per-stage medians and frame-captured → state-in-Redis latency without the
pose model's own time (the model's time is reported beside it).

``--upload CLIP`` measures what a video sent from a phone costs the live session: the runs
alternate, without and with the appliance's upload worker analysing CLIP at the same time (at
``[upload] nice``, its annotated video written; ``--upload-mode pause`` waits while the session
runs, as ``[upload] during_session = "pause"`` does), ``--rounds`` times each, in one process.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

from hiitpi.config import Settings
from hiitpi.stats import percentile

log = logging.getLogger(__name__)


def register_bench(bsub: argparse._SubParsersAction) -> None:
    p = bsub.add_parser(
        "pipeline",
        help="the live engine on a clip: fps, dropped frames, CPU, stage times, frame→Redis latency",
        description=__doc__,
    )
    p.add_argument("--source", required=True, metavar="CLIP", help="a video file")
    p.add_argument("--paced", action="store_true", help="play the clip at its own frame rate (as a camera)")
    p.add_argument("--model", help="pose model (default: [pose] model)")
    p.add_argument("--workout", help="rules name (default: [referee] workout)")
    p.add_argument("--redis-url", help="Redis URL (default: [redis] url; a private one is started if absent)")
    p.add_argument("--seconds", type=float, help="stop after this many seconds (default: the whole clip)")
    p.add_argument(
        "--upload",
        metavar="CLIP",
        help="alternate runs without and with CLIP being analysed as a sent video at the same time",
    )
    p.add_argument("--upload-workout", default="squat", help="the sent video's workout (default squat)")
    p.add_argument(
        "--upload-mode",
        choices=["nice", "pause"],
        default="nice",
        help="nice: the upload is analysed during the session at [upload] nice (default); pause: it "
        "waits while the session runs",
    )
    p.add_argument("--rounds", type=int, default=2, help="with --upload: runs of each kind (default 2)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_pipeline_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): args.model,
        ("referee", "workout"): args.workout,
        ("redis", "url"): args.redis_url,
        ("capture", "source"): args.source,
    }


def run_pipeline_bench(
    settings: Settings, source: Path, *, paced: bool, seconds: float | None = None
) -> dict:
    """Run the engine over ``source`` once and measure it. Redis must be reachable at settings.redis.url."""
    from hiitpi.capture.video import VideoFileSource
    from hiitpi.engine import Engine

    settings = settings.model_copy(deep=True)
    settings.redis.prefix = settings.redis.prefix + ":bench"
    engine = Engine(
        settings,
        source_factory=lambda: VideoFileSource(source, paced=paced, loop=False),
        stats_window=1_000_000,  # every frame's cost, for the medians
    )
    engine.start()
    # Measure from here: model loading is start-up, not pipeline cost.
    cpu0, wall0 = time.process_time(), time.monotonic()
    try:
        engine.wait(timeout=seconds)
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        status = engine.capture.status()
        reps = engine.live_state().total_reps
        client = engine.publisher.client
        state = {k.decode(): v.decode() for k, v in client.hgetall(engine.keys.state).items()}
        xlen = client.xlen(engine.keys.stream)
        client.delete(engine.keys.stream, engine.keys.state, engine.keys.commands)
    finally:
        engine.stop()
    records = list(engine.stats.records)
    stages: dict[str, list[float]] = {}
    for r in records:
        for k, v in r.stages_ms.items():
            stages.setdefault(k, []).append(v)
    lat = [r.latency_ms for r in records if r.latency_ms is not None]
    acpu = [r.cpu_ms for r in records]
    pose = stages.get("pose", [])
    return {
        "source": str(source),
        "model": settings.pose.model,
        "paced": paced,
        "source_fps": VideoFileSource(source).fps_probe(),
        "frames": len(records),
        "captured": status.frames,
        "dropped": status.dropped,
        "seconds": round(wall, 3),
        "fps": round(len(records) / wall, 2) if wall > 0 else 0.0,
        "cpu_cores_busy": round(cpu / wall, 3) if wall > 0 else 0.0,
        # CPU time the process spent per analysed frame (capture, pose, referee, publishing):
        # on a machine shared with other work, what the pipeline would cost on a core of its own.
        "cpu_ms_per_frame": round(1000 * cpu / len(records), 3) if records else None,
        # CPU time of the analysis thread per frame, pose model included: unlike wall times it
        # does not grow while the thread waits for a core on a busy machine.
        "analysis_cpu_ms": {
            "median": round(statistics.median(acpu), 3) if acpu else None,
            "p95": round(percentile(acpu, 95), 3) if acpu else None,
        },
        "stage_median_ms": {k: round(statistics.median(v), 3) for k, v in stages.items()},
        "stage_p95_ms": {k: round(percentile(v, 95), 3) for k, v in stages.items()},
        "frame_to_redis_ms": {
            "median": round(statistics.median(lat), 3) if lat else None,
            "p95": round(percentile(lat, 95), 3) if lat else None,
            "excludes": "pose model time",
        },
        "pose_model_ms": {
            "median": round(statistics.median(pose), 3) if pose else None,
            "p95": round(percentile(pose, 95), 3) if pose else None,
        },
        "reps": reps if reps is not None else int(state.get("reps") or 0),
        "redis_state_reps": int(state["reps"]) if state.get("reps") else None,
        "redis_stream_len": xlen,
    }


def run_with_upload(
    settings: Settings,
    source: Path,
    upload: Path,
    *,
    paced: bool,
    seconds: float | None,
    rounds: int,
    workout: str,
    mode: str,
) -> dict:
    """Alternate `run_pipeline_bench` without and with `UploadLoad` on; each run's figures."""
    from hiitpi.bench.uploadload import UploadLoad

    running = {"on": False}
    load = UploadLoad(settings, upload, workout=workout, mode=mode, session_running=lambda: running["on"])
    load.start()
    runs = []
    try:
        for i in range(rounds):
            for with_upload in (False, True):
                if with_upload:
                    load.on()
                    while load.frames == 0 and mode == "nice":  # the analysis is under way
                        time.sleep(0.05)
                f0, c0, t0 = load.frames, load.upload_cpu_s(), time.monotonic()
                running["on"] = True
                try:
                    r = run_pipeline_bench(settings, source, paced=paced, seconds=seconds)
                finally:
                    running["on"] = False
                wall = time.monotonic() - t0
                frames, cpu = load.frames - f0, load.upload_cpu_s() - c0
                if with_upload:
                    load.off()
                r["round"] = i + 1
                r["upload"] = (
                    {
                        "clip": str(upload),
                        "mode": mode,
                        "nice": settings.upload.nice,
                        "frames_analysed": frames,
                        "frames_per_s": round(frames / wall, 2) if wall > 0 else 0.0,
                        "upload_cpu_cores": round(cpu / wall, 3) if wall > 0 else 0.0,
                    }
                    if with_upload
                    else None
                )
                log.info(
                    "round %d %s: %.2f fps, frame→Redis p95 %s ms",
                    i + 1,
                    "with upload" if with_upload else "alone",
                    r["fps"],
                    r["frame_to_redis_ms"]["p95"],
                )
                runs.append(r)
    finally:
        load.close()
    return {"runs": runs, "summary": _compare(runs)}


def _compare(runs: list[dict]) -> dict:
    out = {}
    for key, with_upload in (("alone", False), ("with_upload", True)):
        rs = [r for r in runs if (r["upload"] is not None) == with_upload]
        out[key] = {
            "fps": [r["fps"] for r in rs],
            "source_fps": rs[0]["source_fps"] if rs else None,
            "dropped": [r["dropped"] for r in rs],
            "frame_to_redis_p95_ms": [r["frame_to_redis_ms"]["p95"] for r in rs],
            "analysis_cpu_median_ms": [r["analysis_cpu_ms"]["median"] for r in rs],
            "process_cpu_cores": [r["cpu_cores_busy"] for r in rs],
            "reps": [r["reps"] for r in rs],
        }
        if with_upload:
            out[key]["upload_frames_per_s"] = [r["upload"]["frames_per_s"] for r in rs]
            out[key]["upload_cpu_cores"] = [r["upload"]["upload_cpu_cores"] for r in rs]
    return out


def bench_pipeline_cmd(args: argparse.Namespace, settings: Settings) -> int:
    from hiitpi.redis_local import ensure_redis

    source = Path(args.source)
    if not source.is_file():
        print(f"hiitpi: {source} is not a video file", file=sys.stderr)
        return 2
    if args.upload and not Path(args.upload).is_file():
        print(f"hiitpi: {args.upload} is not a video file", file=sys.stderr)
        return 2
    local = ensure_redis(settings.redis.url, settings.general.data_dir / "redis")
    try:
        if args.upload:
            result = run_with_upload(
                settings,
                source,
                Path(args.upload),
                paced=args.paced,
                seconds=args.seconds,
                rounds=max(1, args.rounds),
                workout=args.upload_workout,
                mode=args.upload_mode,
            )
        else:
            result = run_pipeline_bench(settings, source, paced=args.paced, seconds=args.seconds)
    finally:
        if local is not None:
            local.stop()
    if args.upload:
        if args.json:
            print(json.dumps(result))
            return 0
        _print_alternating(result, args)
        return 0
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"pipeline on {result['source']} ({'paced' if args.paced else 'unpaced'}, {result['model']})")
    print(
        f"  {result['frames']} frames in {result['seconds']} s: {result['fps']} fps, "
        f"{result['dropped']} dropped, {result['cpu_cores_busy']} cores busy"
    )
    print(
        f"  {result['cpu_ms_per_frame']} ms of process CPU per analysed frame; analysis thread "
        f"median {result['analysis_cpu_ms']['median']} ms"
    )
    for k, v in result["stage_median_ms"].items():
        print(f"  {k:10s} median {v:8.3f} ms   p95 {result['stage_p95_ms'][k]:8.3f} ms")
    f2r = result["frame_to_redis_ms"]
    print(f"  frame→Redis (without the model): median {f2r['median']} ms, p95 {f2r['p95']} ms")
    print(f"  reps counted: {result['reps']} (Redis state: {result['redis_state_reps']})")
    return 0


def _print_alternating(result: dict, args: argparse.Namespace) -> None:
    runs = result["runs"]
    print(
        f"pipeline on {args.source} ({'paced' if args.paced else 'unpaced'}), alternating without and with "
        f"{args.upload} analysed as a sent video ({args.upload_mode})"
    )
    for r in runs:
        u = r["upload"]
        what = (
            f"with upload ({u['frames_analysed']} frames at {u['frames_per_s']}/s, its process and "
            f"threads {u['upload_cpu_cores']} cores)"
            if u
            else "alone"
        )
        f2r = r["frame_to_redis_ms"]
        print(
            f"  round {r['round']} {what}: {r['fps']} fps of {r['source_fps']:.2f}, {r['dropped']} dropped, "
            f"frame→Redis p95 {f2r['p95']} ms (median {f2r['median']}), analysis CPU median "
            f"{r['analysis_cpu_ms']['median']} ms, process {r['cpu_cores_busy']} cores, {r['reps']} reps"
        )
