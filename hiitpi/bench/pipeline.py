"""`hiitpi bench pipeline`: the whole live engine on a real clip, into a real Redis.

Reports frames per second, dropped frames, how many cores the process kept busy (process CPU
time / wall time), per-stage medians and frame-captured → state-in-Redis latency without the
pose model's own time (the model's time is reported beside it).

``--upload CLIP`` measures what a video sent from a phone costs the live session: the runs
alternate, without and with the appliance's upload worker analysing CLIP at the same time (at
``[upload] nice``, its annotated video written; ``--upload-mode pause`` waits while the session
runs, as ``[upload] during_session = "pause"`` does), ``--rounds`` times each, in one process.

``--store batched|durable`` records the session into a scratch SQLite file in the data folder
(the disk the history lives on): reps batched, or each rep committed before it is shown ([store]
durable_reps), with how long each commit held the analysis (``rep_commit_ms``). ``--store both
--rounds N`` alternates the two N times in one run, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Any

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
        "--store",
        choices=["off", "batched", "durable", "both"],
        default="off",
        help="record into a scratch database: reps batched, committed before shown, or both alternating",
    )
    p.add_argument(
        "--viewer", action="store_true", help="one viewer on the video (the MJPEG encoder and its hand-out)"
    )
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
    p.add_argument(
        "--rounds",
        type=int,
        help="with --store both: how many pairs of runs (default 1); with --upload: runs of each kind "
        "(default 2)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=bench_pipeline_cmd, settings_overrides=_overrides)


def _overrides(args: argparse.Namespace) -> dict:
    return {
        ("pose", "model"): args.model,
        ("referee", "workout"): args.workout,
        ("redis", "url"): args.redis_url,
        ("capture", "source"): args.source,
    }


def redis_server_cpu_s(client: Any) -> float | None:
    """CPU seconds the Redis server process has used (``INFO cpu``: all its threads), if it says."""
    try:
        info = client.info("cpu")
        return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])
    except Exception:  # an INFO-less proxy: the figure is left out, not guessed
        log.debug("no INFO cpu from Redis", exc_info=True)
        return None


def redis_cpu_used_s(before: float | None, after: float | None) -> float | None:
    """The Redis server's CPU seconds between two `redis_server_cpu_s` readings; None (left out, not
    guessed) when either is missing or the clock went back: the server at that URL was restarted or
    replaced during the run (another program's private server on the same port stopping)."""
    if before is None or after is None:
        return None
    if after < before:
        log.warning(
            "the Redis server's CPU clock went back during the run (%.3f s -> %.3f s): it was "
            "restarted or replaced; its CPU is left out",
            before,
            after,
        )
        return None
    return after - before


def _first_frame(source: Path) -> Any:
    from hiitpi.capture.video import VideoFileSource

    src = VideoFileSource(source, paced=False)
    src.open()
    try:
        return src.read().image
    finally:
        src.close()


def run_pipeline_bench(
    settings: Settings,
    source: Path,
    *,
    paced: bool,
    seconds: float | None = None,
    invoke_runs: int = 300,
    viewer: bool = False,
    store: str = "off",
) -> dict:
    """Run the engine over ``source`` once and measure it. Redis must be reachable at settings.redis.url.

    The same model is also invoked bare (`hiitpi.bench.pose.bare_invoke`) before and after the
    run, in this process, so every cost can be read as a ratio to it, measured in the same minute.
    ``store``: "off", or "batched" / "durable" to record into a scratch database in the data folder.
    """
    import shutil
    import tempfile

    from hiitpi.bench.pose import bare_invoke
    from hiitpi.bench.threadcpu import ThreadCpuMeter
    from hiitpi.capture.video import VideoFileSource
    from hiitpi.engine import Engine
    from hiitpi.pose.registry import create_estimator

    settings = settings.model_copy(deep=True)
    settings.redis.prefix = settings.redis.prefix + ":bench"
    db = recorder = scratch = None
    if store != "off":
        from hiitpi.store.db import Store
        from hiitpi.store.recorder import SessionRecorder

        settings.general.data_dir.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=settings.general.data_dir))
        settings.store.durable_reps = store == "durable"
        db = Store.open(scratch / "bench.db", synchronous=settings.store.synchronous)
        recorder = SessionRecorder.from_settings(db, settings)
    frame0 = _first_frame(source)
    source_fps = VideoFileSource(source).fps_probe() or 30.0
    bare_model = create_estimator(settings)
    invokes = [bare_invoke(bare_model, frame0, invoke_runs)]
    spaced = [bare_invoke(bare_model, frame0, 60, period_s=1.0 / source_fps)] if paced else []
    watcher = None
    if viewer:
        from hiitpi.bench.viewer import BenchViewer

        watcher = BenchViewer(settings)
        watcher.start()
    engine = Engine(
        settings,
        source_factory=lambda: VideoFileSource(source, paced=paced, loop=False),
        stats_window=1_000_000,  # every frame's cost, for the medians
        recorder=recorder,
        sinks=(watcher.video,) if watcher is not None else (),
    )
    meter = ThreadCpuMeter()
    engine.start()
    try:
        client = engine.publisher.client
        # Measure from here: model loading is start-up, not pipeline cost.
        frames0 = engine.stats.frames
        redis0 = redis_server_cpu_s(client)
        meter.start()
        cpu0, wall0 = time.process_time(), time.monotonic()
        engine.wait(timeout=seconds)
        wall = time.monotonic() - wall0
        cpu = time.process_time() - cpu0
        meter.stop()
        redis1 = redis_server_cpu_s(client)
        measured = engine.stats.frames - frames0
        status = engine.capture.status()
        reps = engine.live_state().total_reps
        state = {k.decode(): v.decode() for k, v in client.hgetall(engine.keys.state).items()}
        xlen = client.xlen(engine.keys.stream)
        client.delete(engine.keys.stream, engine.keys.state, engine.keys.commands)
    finally:
        engine.stop()
        if recorder is not None:
            recorder.close()
            db.close()
            shutil.rmtree(scratch, ignore_errors=True)
        if watcher is not None:
            watcher.stop()
    commits = list(recorder.commit_ms) if recorder is not None else []
    invokes.append(bare_invoke(bare_model, frame0, invoke_runs))
    if paced:
        spaced.append(bare_invoke(bare_model, frame0, 60, period_s=1.0 / source_fps))
    bare_model.close()
    records = list(engine.stats.records)
    floor = None
    if paced and spaced:
        from hiitpi.bench.floor import paced_floor

        floor = paced_floor(
            source,
            frame0,
            settings.web,
            source_fps=source_fps,
            invoke_spaced_ms=statistics.mean(i["cpu_ms"] for i in spaced),
            invoke_ms=statistics.mean(i["cpu_ms"] for i in invokes),
            pictures_per_frame=watcher.video.encoded / len(records)
            if watcher is not None and records
            else 0.0,
        )
    stages: dict[str, list[float]] = {}
    for r in records:
        for k, v in r.stages_ms.items():
            stages.setdefault(k, []).append(v)
    lat = [r.latency_ms for r in records if r.latency_ms is not None]
    acpu = [r.cpu_ms for r in records]
    pose = stages.get("pose", [])
    per_frame = 1000.0 / measured if measured else 0.0
    by_thread = {k: round(v * per_frame, 3) for k, v in sorted(meter.by_role().items())}
    redis_cpu = redis_cpu_used_s(redis0, redis1)
    if redis_cpu is not None:
        by_thread["redis server"] = round(redis_cpu * per_frame, 3)
    all_cpu = round(sum(by_thread.values()), 3) if measured else None
    invoke_cpu = round(statistics.mean(i["cpu_ms"] for i in invokes), 3)
    spaced_cpu = round(statistics.mean(i["cpu_ms"] for i in spaced), 3) if spaced else None
    invoke_wall = round(statistics.mean(i["wall_ms"] for i in invokes), 3)
    fps = round(measured / wall, 2) if wall > 0 else 0.0
    return {
        "source": str(source),
        "model": settings.pose.model,
        "paced": paced,
        "source_fps": source_fps,
        "frames": len(records),
        "captured": status.frames,
        "dropped": status.dropped,
        "seconds": round(wall, 3),
        "fps": fps,
        "cpu_cores_busy": round(cpu / wall, 3) if wall > 0 else 0.0,
        # CPU time the process spent per analysed frame (capture, pose, referee, publishing):
        # on a machine shared with other work, what the pipeline would cost on a core of its own.
        "cpu_ms_per_frame": round(cpu * per_frame, 3) if measured else None,
        # ... split by thread, with the Redis server's own CPU beside it
        "cpu_ms_per_frame_by_thread": by_thread,
        "all_cpu_ms_per_frame": all_cpu,
        # the model alone, in the same process and the same minutes (before and after the run)
        "bare_invoke": {"cpu_ms": invoke_cpu, "wall_ms": invoke_wall, "runs": invokes},
        "cpu_to_invoke": round(all_cpu / invoke_cpu, 3) if all_cpu and invoke_cpu else None,
        # paced runs: the same invoke once per frame period, the thread asleep in between (as the
        # analysis thread is): what the model itself costs once the caches went cold between frames
        "bare_invoke_spaced": {"cpu_ms": spaced_cpu, "runs": spaced} if spaced else None,
        # ... and the ratio to it: the model under the same conditions as in the paced pipeline (one
        # invoke a frame period, the thread asleep in between), so only what is around it counts
        "cpu_to_invoke_spaced": round(all_cpu / spaced_cpu, 3) if all_cpu and spaced_cpu else None,
        # paced runs: what no code around the model can take away (the invoke spaced, the file's
        # decoding, the viewer's JPEGs; `hiitpi.bench.floor`) per frame, and its ratio to the bare invoke
        "paced_floor": floor,
        # wall time per analysed frame over the bare invoke's (unpaced: how close to the model's speed)
        "period_to_invoke": round(1000.0 / fps / invoke_wall, 3) if fps and invoke_wall else None,
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
        "store": store,
        "rep_commit_ms": {
            "median": round(statistics.median(commits), 3) if commits else None,
            "p95": round(percentile(commits, 95), 3) if commits else None,
            "n": len(commits),
            "all": [round(v, 3) for v in commits],
        },
        "published": engine.stats.published,
        "viewer": watcher.report(wall) if watcher is not None else None,
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
    viewer: bool = False,
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
                    r = run_pipeline_bench(settings, source, paced=paced, seconds=seconds, viewer=viewer)
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
    if args.upload and args.store != "off":
        print("hiitpi: --upload and --store are measured separately: pick one", file=sys.stderr)
        return 2
    local = ensure_redis(
        settings.redis.url, settings.general.data_dir / "redis", password=settings.redis.password or None
    )
    if local is not None:
        settings = settings.model_copy(deep=True)
        settings.redis.url = local.url
    try:
        if args.upload:
            result = run_with_upload(
                settings,
                source,
                Path(args.upload),
                paced=args.paced,
                seconds=args.seconds,
                viewer=args.viewer,
                rounds=max(1, args.rounds if args.rounds is not None else 2),
                workout=args.upload_workout,
                mode=args.upload_mode,
            )
        elif args.store == "both":
            runs = [
                run_pipeline_bench(
                    settings, source, paced=args.paced, seconds=args.seconds, viewer=args.viewer, store=mode
                )
                for _ in range(max(1, args.rounds if args.rounds is not None else 1))
                for mode in ("batched", "durable")
            ]
        else:
            result = run_pipeline_bench(
                settings,
                source,
                paced=args.paced,
                seconds=args.seconds,
                viewer=args.viewer,
                store=args.store,
            )
    finally:
        if local is not None:
            local.stop()
    if args.upload:
        if args.json:
            print(json.dumps(result))
            return 0
        _print_upload_alternating(result, args)
        return 0
    if args.store == "both":
        return _print_alternating(runs, as_json=args.json)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"pipeline on {result['source']} ({'paced' if args.paced else 'unpaced'}, {result['model']})")
    if result["viewer"]:
        v = result["viewer"]
        print(f"  one viewer on the video: {v['fps']} pictures/s, {v['kb_per_part']} kB each")
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
    bare = result["bare_invoke"]
    print(f"  bare invoke of the model: {bare['cpu_ms']} ms CPU, {bare['wall_ms']} ms wall (same run)")
    if result["bare_invoke_spaced"]:
        print(f"  ... spaced at the clip's frame rate: {result['bare_invoke_spaced']['cpu_ms']} ms CPU")
    print("  CPU per analysed frame, by thread:")
    for k, v in result["cpu_ms_per_frame_by_thread"].items():
        print(f"    {k:14s} {v:8.3f} ms")
    print(
        f"  all threads + Redis: {result['all_cpu_ms_per_frame']} ms = {result['cpu_to_invoke']}x the bare "
        f"invoke; frame period {result['period_to_invoke']}x its wall time"
    )
    if result["cpu_to_invoke_spaced"]:
        print(f"    = {result['cpu_to_invoke_spaced']}x the bare invoke spaced at the clip's frame rate")
    floor = result["paced_floor"]
    if floor:
        print(
            f"  the fixed part: invoke spaced {floor['invoke_spaced_ms']} + decoding {floor['decode_ms']} + "
            f"JPEG {floor['jpeg_ms_per_picture']} x {floor['pictures_per_frame']} a frame = {floor['sum_ms']} ms "
            f"= {floor['to_invoke']}x the bare invoke, before any code around the model"
        )
    print(f"  reps counted: {result['reps']} (Redis state: {result['redis_state_reps']})")
    if result["store"] != "off":
        c = result["rep_commit_ms"]
        print(f"  store {result['store']}: {c['n']} rep commits, median {c['median']} ms, p95 {c['p95']} ms")
    return 0


def _print_alternating(runs: list[dict], *, as_json: bool) -> int:
    """Batched and durable runs, alternated: each run's fps, then both modes side by side."""
    modes: dict[str, dict] = {}
    for mode in ("batched", "durable"):
        mine = [r for r in runs if r["store"] == mode]
        commits = [v for r in mine for v in r["rep_commit_ms"]["all"]]
        modes[mode] = {
            "fps": [r["fps"] for r in mine],
            "fps_median": round(statistics.median(r["fps"] for r in mine), 2),
            "dropped": [r["dropped"] for r in mine],
            "cpu_ms_per_frame_median": round(statistics.median(r["cpu_ms_per_frame"] or 0 for r in mine), 3),
            "reps": [r["reps"] for r in mine],
            "rep_commit_ms": {
                "median": round(statistics.median(commits), 3) if commits else None,
                "p95": round(percentile(commits, 95), 3) if commits else None,
                "n": len(commits),
            },
        }
    if as_json:
        print(json.dumps({"runs": runs, "modes": modes}))
        return 0
    print(
        f"pipeline on {runs[0]['source']} ({'paced' if runs[0]['paced'] else 'unpaced'}), batched and durable alternating"
    )
    for i, r in enumerate(runs):
        c = r["rep_commit_ms"]
        extra = f", rep commit median {c['median']} ms p95 {c['p95']} ms ({c['n']})" if c["n"] else ""
        print(
            f"  {i + 1:2d} {r['store']:8s} {r['fps']:6.2f} fps, {r['dropped']} dropped, {r['reps']} reps{extra}"
        )
    for mode, m in modes.items():
        c = m["rep_commit_ms"]
        commit = f"; rep commits median {c['median']} ms, p95 {c['p95']} ms (n={c['n']})" if c["n"] else ""
        print(
            f"  {mode:8s} fps median {m['fps_median']} over {len(m['fps'])} runs; "
            f"{m['cpu_ms_per_frame_median']} ms CPU per frame{commit}"
        )
    return 0


def _print_upload_alternating(result: dict, args: argparse.Namespace) -> None:
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
