#!/usr/bin/env python3
"""Soak the live engine: a looping clip, paced at its own rate, into a real Redis, for N minutes.

Samples the process's resident memory and the Redis stream length every few seconds and prints
the growth. Run by hand (it is too long for the test suite):

    .venv/bin/python scripts/soak_engine.py --source ../shared/data/clips/push_up/calimiro_pushups_videoplayback.mp4 \
        --workout push_up --minutes 10

Needs a Redis at [redis] url (or starts a private one on loopback) and the model files
(HIITPI_MODEL_MIRROR=../shared/models).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def rss_kib() -> int:
    with open(f"/proc/{os.getpid()}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--source", required=True)
    p.add_argument("--workout", default="push_up")
    p.add_argument("--minutes", type=float, default=10.0)
    p.add_argument("--every", type=float, default=10.0, help="seconds between samples")
    p.add_argument("--stream-maxlen", type=int, default=5000)
    p.add_argument("--json", action="store_true")
    args = p.parse_args()

    from hiitpi.capture.video import VideoFileSource
    from hiitpi.config import load_settings
    from hiitpi.engine import Engine
    from hiitpi.logs import setup_logging
    from hiitpi.redis_local import ensure_redis

    setup_logging("WARNING")
    settings = load_settings(
        None,
        overrides={
            ("referee", "workout"): args.workout,
            ("redis", "stream_maxlen"): args.stream_maxlen,
            ("redis", "prefix"): "hiitpi:soak",
        },
    )
    local = ensure_redis(settings.redis.url, settings.general.data_dir / "redis")
    source = Path(args.source)
    engine = Engine(settings, source_factory=lambda: VideoFileSource(source, paced=True, loop=True))
    samples = []
    try:
        engine.start()
        client = engine.publisher.client
        t0 = time.monotonic()
        end = t0 + args.minutes * 60
        while time.monotonic() < end:
            time.sleep(min(args.every, max(0.0, end - time.monotonic())))
            st = engine.capture.status()
            samples.append(
                {
                    "t_s": round(time.monotonic() - t0, 1),
                    "rss_kib": rss_kib(),
                    "xlen": client.xlen(engine.keys.stream),
                    "frames": engine.stats.frames,
                    "dropped": st.dropped,
                    "fps": round(engine.stats.fps, 1),
                    "reps": int(client.hget(engine.keys.state, "reps") or 0),
                }
            )
            if not args.json:
                print(json.dumps(samples[-1]), flush=True)
        client.delete(engine.keys.stream, engine.keys.state, engine.keys.commands)
    finally:
        engine.stop()
        if local is not None:
            local.stop()
    # Growth after warm-up: the first sample (after `every` seconds) is the baseline.
    base = samples[0]["rss_kib"]
    peak = max(s["rss_kib"] for s in samples)
    last = samples[-1]["rss_kib"]
    summary = {
        "minutes": args.minutes,
        "frames": samples[-1]["frames"],
        "fps": round(samples[-1]["frames"] / samples[-1]["t_s"], 2),
        "dropped": samples[-1]["dropped"],
        "rss_first_kib": base,
        "rss_last_kib": last,
        "rss_peak_kib": peak,
        "rss_growth_pct": round(100 * (last - base) / base, 2),
        "stream_cap": args.stream_maxlen,
        "stream_len_max": max(s["xlen"] for s in samples),
    }
    print(json.dumps(summary if not args.json else {"summary": summary, "samples": samples}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
