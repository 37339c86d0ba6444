#!/usr/bin/env python3
"""Soak test: `hiitpi serve` for N minutes at the clip's rate (30 fps) on a looping clip, with
viewers connected, watching memory, file descriptors and whether every count agrees.

    .venv/bin/python scripts/soak.py --minutes 30
    .venv/bin/python scripts/soak.py --minutes 2 --json soak.json      # a quick check

Each viewer pairs with the pairing code (as a phone does) and keeps two streams open: the MJPEG
video (/video) and the live feed (/api/live/events). Every --interval seconds one line: the
appliance's resident memory and open file descriptors, threads, the Redis stream length, reps,
fps and what each viewer received. At the end the appliance is stopped with SIGTERM and the saved
session is compared with the last state in Redis and with what each viewer last saw.

Verdicts (issue 8): resident memory growth ≤ 5 % from the end of the warm-up to the end; no
file-descriptor growth; counts consistent (database = Redis = every viewer). Exit 0 when all hold.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_CLIP = SHARED / "data" / "clips" / "jumping_jack" / "ahmedlila_jj_12.mp4"


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def proc_stats(pid: int) -> dict:
    status = Path(f"/proc/{pid}/status").read_text()
    fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
    return {
        "rss_mb": int(fields["VmRSS"].split()[0]) / 1024,
        "threads": int(fields["Threads"]),
        "fds": len(os.listdir(f"/proc/{pid}/fd")),
    }


def children(pid: int) -> list[int]:
    try:
        return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


@dataclass
class Viewer:
    name: str
    base: str
    code: str
    stop: threading.Event
    video_frames: int = 0
    video_bytes: int = 0
    video_reconnects: int = 0
    feed_messages: int = 0
    feed_reconnects: int = 0
    last_reps: int | None = None
    last_session: str = ""
    errors: list[str] = field(default_factory=list)

    def pair(self):
        import requests

        s = requests.Session()
        r = s.post(self.base + "/login", data={"code": self.code}, allow_redirects=False, timeout=10)
        if r.status_code != 303:
            raise RuntimeError(f"{self.name}: pairing failed with {r.status_code}")
        return s

    def watch_video(self) -> None:
        sess = self.pair()
        while not self.stop.is_set():
            try:
                with sess.get(self.base + "/video", stream=True, timeout=10) as r:
                    if r.status_code != 200:
                        self.errors.append(f"video {r.status_code}")
                        time.sleep(1)
                        continue
                    tail = b""
                    for chunk in r.iter_content(65536):
                        if self.stop.is_set():
                            return
                        self.video_bytes += len(chunk)
                        buf = tail + chunk
                        self.video_frames += buf.count(b"--frame\r\n")
                        tail = buf[-16:]
            except Exception as exc:  # a dropped connection: count it and come back, as a browser does
                if self.stop.is_set():
                    return
                self.errors.append(f"video: {type(exc).__name__}")
            self.video_reconnects += 1
            time.sleep(0.5)

    def watch_feed(self) -> None:
        sess = self.pair()
        while not self.stop.is_set():
            try:
                with sess.get(self.base + "/api/live/events", stream=True, timeout=10) as r:
                    for line in r.iter_lines(decode_unicode=True):
                        if self.stop.is_set():
                            return
                        if not line or not line.startswith("data: "):
                            continue
                        msg = json.loads(line[6:])
                        self.feed_messages += 1
                        st = msg.get("state") or {}
                        if st.get("reps") not in (None, ""):
                            self.last_reps = int(st["reps"])
                            self.last_session = st.get("session", "")
            except Exception as exc:
                if self.stop.is_set():
                    return
                self.errors.append(f"feed: {type(exc).__name__}")
            self.feed_reconnects += 1
            time.sleep(0.5)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--workout", default="jumping_jack")
    ap.add_argument("--viewers", type=int, default=2)
    ap.add_argument("--interval", type=float, default=15.0, help="seconds between samples")
    ap.add_argument("--warmup", type=float, default=120.0, help="seconds before the memory baseline")
    ap.add_argument("--redis-url", help="default: a private redis-server on a free port")
    ap.add_argument("--data-dir", type=Path, help="default: a new temporary folder")
    ap.add_argument("--coach", action="store_true", help="leave the coach on (loads the LLM at the end)")
    ap.add_argument("--json", type=Path, help="also write the report here")
    args = ap.parse_args(argv)

    import redis
    import requests

    sys.path.insert(0, str(REPO))
    from hiitpi.live.contract import LiveKeys
    from hiitpi.pairing import create_secrets

    data = args.data_dir or Path(tempfile.mkdtemp(prefix="hiitpi-soak-"))
    redis_proc = None
    redis_url = args.redis_url
    if redis_url is None:  # our own, so the last state can still be read after the appliance stops
        rport = free_port()
        redis_url = f"redis://127.0.0.1:{rport}/0"
        redis_proc = subprocess.Popen(
            ["redis-server", "--port", str(rport), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(0.5)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    _, code = create_secrets(data)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIITPI_", "NOTIFY_", "WATCHDOG_"))}
    env.update(
        HIITPI_DATA_DIR=str(data),
        HIITPI_MODEL_MIRROR=os.environ.get("HIITPI_MODEL_MIRROR", str(SHARED / "models")),
        HIITPI_COACH_ENABLED="true" if args.coach else "false",
    )
    log_path = data / "serve.log"
    cmd = [
        *(sys.executable, "-m", "hiitpi", "serve", "--source", str(args.clip), "--loop"),
        *("--workout", args.workout, "--redis-url", redis_url, "--host", "127.0.0.1", "--port", str(port)),
    ]
    print(f"soak: {args.minutes:g} min, clip {args.clip.name}, {args.viewers} viewers, data {data}")
    print("soak: " + " ".join(cmd))
    logf = open(log_path, "w")  # noqa: SIM115 - the child writes to it until it exits
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=logf)
    deadline = time.monotonic() + 180
    while True:
        if proc.poll() is not None:
            print(log_path.read_text()[-3000:])
            raise SystemExit(f"hiitpi serve exited with {proc.returncode} during start-up")
        try:
            if requests.get(base + "/healthz", timeout=2).status_code == 200:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit("hiitpi serve did not answer /healthz within 180 s")
        time.sleep(0.5)

    stop = threading.Event()
    viewers = [Viewer(f"viewer{i + 1}", base, code, stop) for i in range(args.viewers)]
    threads = []
    for v in viewers:
        for target in (v.watch_video, v.watch_feed):
            t = threading.Thread(target=target, daemon=True)
            t.start()
            threads.append(t)
    rcli = redis.Redis.from_url(redis_url, decode_responses=True)
    keys = LiveKeys("hiitpi")
    t_start = time.monotonic()
    end = t_start + args.minutes * 60
    samples: list[dict] = []
    header = (
        f"{'t_s':>6} {'rss_mb':>7} {'fds':>4} {'thr':>4} {'redis_mb':>8} {'xlen':>6} {'reps':>5} {'fps':>5} "
        f"{'drop':>6} " + " ".join(f"{v.name + '_jpg':>12} {v.name + '_msg':>12}" for v in viewers)
    )
    print(header)
    while True:
        now = time.monotonic()
        if proc.poll() is not None:
            print(log_path.read_text()[-3000:])
            raise SystemExit(f"hiitpi serve died during the soak (exit {proc.returncode})")
        st = proc_stats(proc.pid)
        kids = children(proc.pid)
        redis_mb = sum(proc_stats(k)["rss_mb"] for k in kids if Path(f"/proc/{k}").exists())
        state = rcli.hgetall(keys.state)
        xlen = rcli.xlen(keys.stream)
        sample = {
            "t_s": round(now - t_start, 1),
            **{k: round(v, 1) if isinstance(v, float) else v for k, v in st.items()},
            "redis_rss_mb": round(redis_mb, 1),
            "xlen": xlen,
            "reps": int(state.get("reps", 0) or 0),
            "fps": float(state.get("fps", 0) or 0),
            "dropped": int(state.get("dropped", 0) or 0),
            "viewers": [(v.video_frames, v.feed_messages) for v in viewers],
        }
        samples.append(sample)
        print(
            f"{sample['t_s']:>6.0f} {sample['rss_mb']:>7.1f} {sample['fds']:>4} {sample['threads']:>4} "
            f"{redis_mb:>8.1f} {xlen:>6} {sample['reps']:>5} {sample['fps']:>5.1f} {sample['dropped']:>6} "
            + " ".join(f"{f:>12} {m:>12}" for f, m in sample["viewers"]),
            flush=True,
        )
        if now >= end:
            break
        time.sleep(max(0.0, min(args.interval, end - time.monotonic())))

    time.sleep(1.0)  # let the feeds catch up with the newest state
    seen = [(v.name, v.last_reps, v.last_session) for v in viewers]
    final_state = rcli.hgetall(keys.state)
    stop.set()  # viewers leave first, so reconnect counts mean the soak, not the shutdown
    t0 = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        exit_code = proc.wait(60)
    except subprocess.TimeoutExpired:
        proc.kill()
        exit_code = None
    stop_s = time.monotonic() - t0
    logf.close()
    after_stop = rcli.hgetall(keys.state) if _redis_up(rcli) else {}
    if redis_proc is not None:
        redis_proc.kill()
        redis_proc.wait(5)
    db = data / "hiitpi.db"
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    sessions = conn.execute("SELECT id, status, reps, no_reps FROM sessions ORDER BY id").fetchall()
    rep_rows = conn.execute("SELECT count(*) FROM reps WHERE valid").fetchone()[0]
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    conn.close()

    warm = [s for s in samples if s["t_s"] >= args.warmup] or samples[-1:]
    base_rss, last_rss = warm[0]["rss_mb"], samples[-1]["rss_mb"]
    growth = (last_rss - base_rss) / base_rss * 100
    hours = max(1e-9, (warm[-1]["t_s"] - warm[0]["t_s"]) / 3600)
    slope = _slope([s["t_s"] / 3600 for s in warm], [s["rss_mb"] for s in warm]) if len(warm) > 2 else 0.0
    fds_warm = [s["fds"] for s in warm]
    duration = samples[-1]["t_s"]
    counts = {
        "redis_state_before_stop": int(final_state.get("reps", 0) or 0),
        "viewers_last_seen": {n: r for n, r, _ in seen},
        "database_session": sessions[-1][2] if sessions else None,
        "database_rep_rows": rep_rows,
        "redis_state_after_stop": int(after_stop.get("reps", 0) or 0) if after_stop else None,
    }
    # Database = Redis after the stop, exactly; each viewer's last number = Redis just before the
    # stop (at most one rep behind: the viewer's newest message may be one frame older).
    before = counts["redis_state_before_stop"]
    consistent = (
        len(sessions) == 1
        and sessions[0][1] == "done"
        and counts["database_session"] == rep_rows
        and counts["redis_state_after_stop"] == rep_rows
        and all(r is not None and 0 <= before - r <= 1 for _, r, _ in seen)
        and before <= rep_rows
    )
    report = {
        "minutes": round(duration / 60, 2),
        "clip": str(args.clip),
        "viewers": args.viewers,
        "rss_mb": {
            "baseline_after_warmup": base_rss,
            "final": last_rss,
            "max": max(s["rss_mb"] for s in samples),
            "growth_pct": round(growth, 2),
            "slope_mb_per_hour": round(slope, 2),
        },
        "fds": {
            "after_warmup": fds_warm[0],
            "final": fds_warm[-1],
            "min": min(fds_warm),
            "max": max(fds_warm),
        },
        "threads": {"min": min(s["threads"] for s in warm), "max": max(s["threads"] for s in warm)},
        "redis_stream_len_max": max(s["xlen"] for s in samples),
        "fps_median": statistics.median(s["fps"] for s in samples if s["fps"] > 0)
        if any(s["fps"] > 0 for s in samples)
        else 0.0,
        "dropped_frames": samples[-1]["dropped"],
        "reps_total": rep_rows,
        "reps_per_min": round(rep_rows / (duration / 60), 2) if duration else None,
        "video": {
            v.name: {
                "frames": v.video_frames,
                "fps": round(v.video_frames / duration, 2) if duration else None,
                "mb": round(v.video_bytes / 1e6, 1),
                "reconnects": v.video_reconnects,
            }
            for v in viewers
        },
        "feed": {v.name: {"messages": v.feed_messages, "reconnects": v.feed_reconnects} for v in viewers},
        "viewer_errors": {v.name: v.errors[:5] for v in viewers if v.errors},
        "counts": counts,
        "sessions": sessions,
        "db_integrity": integrity,
        "sigterm": {"exit_code": exit_code, "seconds": round(stop_s, 2)},
        "verdicts": {
            "rss_growth_le_5pct": growth <= 5.0,
            "no_fd_growth": fds_warm[-1] <= fds_warm[0],
            "counts_consistent": bool(consistent),
            "clean_stop": exit_code == 0,
        },
        "samples": samples,
    }
    print(json.dumps({k: v for k, v in report.items() if k != "samples"}, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    print(f"soak: log {log_path}; {hours * 60:.1f} min after warm-up")
    return 0 if all(report["verdicts"].values()) else 1


def _redis_up(client) -> bool:
    try:
        return bool(client.ping())
    except Exception:
        return False


def _slope(xs: list[float], ys: list[float]) -> float:
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / den if den else 0.0


if __name__ == "__main__":
    sys.exit(main())
