#!/usr/bin/env python3
"""The live feed for N viewers: one reader fanning out (`LiveHub`) against a redis.asyncio reader per
viewer, on a real redis-server with the engine's writes at camera rate.

    .venv/bin/python scripts/bench_feed.py [--viewers 20 50] [--seconds 10] [--json out.json]

A thread publishes like the engine (`LivePublisher`: a sample with 17 keypoints and the state,
30 times a second). Then, for each N, in one event loop on its own thread: (hub) one `LiveHub`
with N subscribed viewers, each draining its queue; (per viewer) N tasks, each with its own
``redis.asyncio`` client doing what the hub does once: ``XREAD BLOCK`` from its cursor, ``HGETALL``,
`build_message`, serialise. Measured over --seconds: the loop thread's CPU (``thread_time``),
redis-server's CPU (INFO), Redis connections, and messages per viewer per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def redis_cpu(client) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def publish(url: str, stop: threading.Event) -> None:
    from hiitpi.live.contract import LiveKeys, LiveState, encode_sample
    from hiitpi.live.publisher import LivePublisher

    pub = LivePublisher(url, LiveKeys("hiitpi"))
    import numpy as np

    kp = np.full((17, 3), 0.5)
    seq, t0 = 0, time.monotonic()
    while not stop.is_set():
        seq += 1
        ts = time.monotonic() - t0
        sample = encode_sample(seq=seq, ts=ts, wall=time.time(), session="s", keypoints=kp, score=0.8,
                               stages={"pose": 6.0, "referee": 0.2}, age_ms=3.0)  # fmt: skip
        state = LiveState(
            session="s", player="Ana", workout="squat", running=True, reps=seq // 60, elapsed=ts, t0=0.0
        )
        pub.publish(sample, [], state)
        stop.wait(max(0.0, seq / 30 - (time.monotonic() - t0)))
    pub.close()


async def hub_mode(url: str, n: int, seconds: float) -> dict:
    from hiitpi.live.contract import LiveKeys
    from hiitpi.web.livefeed import LiveHub

    hub = LiveHub(url, LiveKeys("hiitpi"), max_viewers=n + 1)
    stopping = asyncio.Event()
    counts = [0] * n

    async def drain(i: int, viewer) -> None:
        async for _ in hub.stream(viewer):
            counts[i] += 1

    reader = asyncio.create_task(hub.run(stopping))
    tasks = [asyncio.create_task(drain(i, hub.subscribe())) for i in range(n)]
    return await _measure(url, seconds, counts, lambda: (stopping.set(), reader, tasks))


async def per_viewer_mode(url: str, n: int, seconds: float) -> dict:
    from hiitpi.live.contract import LiveEntry, LiveKeys
    from hiitpi.live.redisconn import make_async_client
    from hiitpi.web.livefeed import build_message, sse

    keys = LiveKeys("hiitpi")
    counts = [0] * n
    stop = asyncio.Event()

    async def viewer(i: int) -> None:
        client = make_async_client(url, timeout_s=3.0)
        last = await client.xrevrange(keys.stream, count=1)
        cursor = last[0][0].decode() if last else "0-0"
        chart_t = None
        while not stop.is_set():
            res = await client.xread({keys.stream: cursor}, count=500, block=1000)
            entries = [LiveEntry.decode(k, f) for k, f in res[0][1]] if res else []
            if entries:
                cursor = entries[-1].id
            state = {k.decode(): v.decode() for k, v in (await client.hgetall(keys.state)).items()}
            msg, chart_t = build_message(state, entries, last_chart_t=chart_t)
            sse(msg).encode()
            counts[i] += 1
        await client.aclose()

    tasks = [asyncio.create_task(viewer(i)) for i in range(n)]
    return await _measure(url, seconds, counts, lambda: (stop.set(), None, tasks))


async def _measure(url: str, seconds: float, counts: list[int], finish) -> dict:
    import redis

    sync = redis.Redis.from_url(url)
    await asyncio.sleep(1.0)  # everyone connected and reading
    c0, r0, m0, t0 = time.thread_time(), redis_cpu(sync), sum(counts), time.monotonic()
    await asyncio.sleep(seconds)
    dt = time.monotonic() - t0
    out = {
        "loop_cpu_pct": round((time.thread_time() - c0) / dt * 100, 1),
        "redis_cpu_pct": round((redis_cpu(sync) - r0) / dt * 100, 1),
        "redis_clients": int(sync.info("clients")["connected_clients"]) - 2,  # less the publisher and us
        "msgs_per_viewer_per_s": round((sum(counts) - m0) / len(counts) / dt, 1),
    }
    _, reader, tasks = finish()
    await asyncio.wait([*tasks, *([reader] if reader else [])], timeout=5)
    sync.close()
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    import os

    from hiitpi.redis_local import LocalRedis
    from tests.conftest import free_port

    local = LocalRedis(
        f"redis://127.0.0.1:{free_port()}/0", Path(tempfile.mkdtemp(prefix="hiitpi-bench-feed-"))
    )
    local.start()
    stop = threading.Event()
    writer = threading.Thread(target=publish, args=(local.url, stop), daemon=True)
    writer.start()
    results = []
    try:
        for n in args.viewers:
            for mode, fn in (
                ("one reader (LiveHub)", hub_mode),
                ("redis.asyncio per viewer", per_viewer_mode),
            ):
                res = asyncio.run(fn(local.url, n, args.seconds))
                res.update(viewers=n, mode=mode, load=round(os.getloadavg()[0], 1))
                results.append(res)
                print(json.dumps(res))
    finally:
        stop.set()
        writer.join(5)
        local.stop()
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
