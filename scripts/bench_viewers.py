#!/usr/bin/env python3
"""How many phones: `hiitpi serve` on a real clip at its own rate, N viewers holding the live feed
and the video open, and one more device loading pages meanwhile.

    .venv/bin/python scripts/bench_viewers.py --viewers 20 50 [--json out.json]

For each N: a fresh data folder, `hiitpi serve --source CLIP` (paced, its private Redis, no coach),
pairing with the code as a phone does. Each viewer comes from its own loopback address
(127.0.0.K: every phone has its own address) and keeps two connections open: ``/api/live/events``
and ``/video``. After a short settle, one more device (its own address too) makes 20 requests of
each: the history page (shell + the page callback + the history list callback, as a browser does),
``/api/live/state`` and ``/healthz``; each request times out after --timeout s (counted as that).

Measured: the p95 of each, what every viewer received (video frames/s, feed messages/s; opened or
not), the engine's fps (the state hash, sampled every 0.5 s), the appliance's CPU (utime+stime of
serve and its redis-server, from /proc) and resident memory, with N viewers and with none (the
difference divided by N is the cost per viewer). When the clip has ended: reps counted by the
engine (state), stored (SQLite) and shown (the last feed message a viewer got) against
`hiitpi analyze` on the same clip. Targets (issue 14): with 20 viewers p95 history and state
≤ 1 s, healthz ≤ 0.5 s, fps ≥ 29, every rep counted; with 50, pages ≤ 2 s and the excess viewers
degraded, not the site.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import json
import os
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

REPO = Path(__file__).resolve().parent.parent
SHARED = REPO.parent / "shared"
DEFAULT_CLIP = "push_up/calimiro_pushups_videoplayback.mp4"
TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


# -- the appliance's processes ----------------------------------------------------------------------


def cpu_s(pid: int) -> float:
    """utime + stime of one process (all its threads), seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def descendants(pid: int) -> list[int]:
    out = []
    try:
        kids = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return out
    for k in kids:
        out += [k, *descendants(k)]
    return out


def redis_pids(url: str) -> list[int]:
    """The redis-server answering ``url`` (it runs in its own session, maybe not as our child)."""
    import redis

    try:
        return [int(redis.Redis.from_url(url).info("server")["process_id"])]
    except Exception:
        return []


class Usage:
    """CPU seconds and resident memory of the appliance (serve + its redis-server)."""

    def __init__(self, pids: list[int]):
        self.pids = pids

    def cpu(self) -> float:
        return sum(cpu_s(p) for p in self.pids)

    def rss(self) -> float:
        return sum(rss_mb(p) for p in self.pids)

    def window(self, seconds: float) -> tuple[float, float]:
        """(CPU % of one core over ``seconds``, RSS MB at the end)."""
        c0, t0 = self.cpu(), time.monotonic()
        time.sleep(seconds)
        return (self.cpu() - c0) / (time.monotonic() - t0) * 100, self.rss()


# -- one phone holding the two streams, from its own address ----------------------------------------


@dataclass
class Stream:
    path: str
    opened: bool = False
    status: int | None = None
    content_type: str = ""
    bytes: int = 0
    units: int = 0  # MJPEG parts or SSE messages
    t_open: float | None = None
    last_reps: int | None = None
    error: str = ""
    marks: list[tuple[float, int]] = field(default_factory=list)


async def hold_stream(host: str, port: int, source: str, path: str, cookie: str, st: Stream, stop) -> None:
    sep = b"--frame\r\n" if path == "/video" else b"\n\n"
    try:
        reader, writer = await asyncio.open_connection(host, port, local_addr=(source, 0))
    except OSError as exc:
        st.error = f"connect: {exc}"
        return
    try:
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\nAccept: */*\r\n\r\n".encode()
        )
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        st.status = int(head.split(b" ", 2)[1])
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-type:"):
                st.content_type = line.split(b":", 1)[1].strip().decode()
        st.opened = st.status == 200
        st.t_open = time.monotonic()
        tail = b""
        while not stop.is_set():
            chunk = await reader.read(256 * 1024)
            if not chunk:
                break
            st.bytes += len(chunk)
            buf = tail + chunk
            st.units += buf.count(sep) - tail.count(sep)  # the tail's were counted with the last chunk
            if path != "/video":
                i = buf.rfind(b'"reps":"')
                if i >= 0:
                    j = buf.find(b'"', i + 8)
                    if j > 0:
                        st.last_reps = int(buf[i + 8 : j] or 0)
            tail = buf[-64:]
    except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
        st.error = f"{type(exc).__name__}: {exc}"
    finally:
        writer.close()


class Viewers:
    """N phones in an event loop on a thread of their own."""

    def __init__(self, host: str, port: int, cookie: str, n: int):
        self.streams: list[tuple[Stream, Stream]] = [
            (Stream("/api/live/events"), Stream("/video")) for _ in range(n)
        ]
        self.host, self.port, self.cookie = host, port, cookie
        self.loop = asyncio.new_event_loop()
        self.stop = asyncio.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.tasks: list[asyncio.Future] = []

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)

        async def main():
            for k, (feed, video) in enumerate(self.streams):
                src = f"127.0.1.{k + 1}"  # a phone: its own address
                for s in (feed, video):
                    self.tasks.append(
                        asyncio.ensure_future(
                            hold_stream(self.host, self.port, src, s.path, self.cookie, s, self.stop)
                        )
                    )
            await asyncio.gather(*self.tasks, return_exceptions=True)

        self.loop.run_until_complete(main())

    def start(self) -> None:
        self.thread.start()

    def mark(self) -> None:
        now = time.monotonic()
        for pair in self.streams:
            for s in pair:
                s.marks.append((now, s.units))

    def close(self) -> None:
        def cancel() -> None:
            self.stop.set()
            for t in self.tasks:
                t.cancel()  # a stream that never got its headers (the server had no thread for it)

        self.loop.call_soon_threadsafe(cancel)
        self.thread.join(5)

    def rates(self, which: int) -> list[float]:
        """Units per second between the first and the last mark, per viewer (0 for one never opened)."""
        out = []
        for pair in self.streams:
            s = pair[which]
            (t0, u0), (t1, u1) = s.marks[0], s.marks[-1]
            out.append((u1 - u0) / (t1 - t0) if s.opened and t1 > t0 else 0.0)
        return out


# -- the 21st device ---------------------------------------------------------------------------------


class Device:
    """One more device, paired, loading pages while the viewers watch: the history page as a
    browser loads it (`bench_history.Browserish`: shell, layout, dependencies, the page callback,
    the history list), then ``/api/live/state`` and ``/healthz``. A request that fails or times
    out counts as the time-out."""

    def __init__(self, base: str, code: str, timeout: float):
        import requests

        self.base, self.timeout = base, timeout
        self.http = requests.Session()
        r = self.http.post(base + "/login", data={"code": code}, allow_redirects=False, timeout=timeout)
        if r.status_code != 303:
            raise SystemExit(f"pairing failed: {r.status_code}")
        self.bench_history = _load_script("bench_history")
        self.pages = None

    def timed(self, fn) -> tuple[float, bool]:
        t0 = time.perf_counter()
        try:
            ok = bool(fn())
        except Exception:  # a time-out, a refused connection, a 5xx, a page without its data
            ok = False
        took = time.perf_counter() - t0
        return (took if ok else max(took, self.timeout)), ok

    def history_page(self) -> bool:
        if self.pages is None:
            self.pages = self.bench_history.Browserish(self.base, http=self.http, timeout=self.timeout)
        return self.pages.load("/history", self.bench_history.history_data)["total"] >= 0

    def status_ok(self, path: str) -> bool:
        return self.http.get(self.base + path, timeout=self.timeout).status_code == 200


def _load_script(name: str):
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


# -- one run -------------------------------------------------------------------------------------------


def reference_reps(clip: Path, workout: str, env: dict) -> int:
    out = subprocess.run(
        [sys.executable, "-m", "hiitpi", "--log-level", "WARNING", "analyze", "--workout", workout, "--json",
         "--no-progress", str(clip)],
        capture_output=True, text=True, env=env, cwd=REPO, check=True,
    )  # fmt: skip
    return int(json.loads(out.stdout)["reps"])


def login(host: str, port: int, code: str) -> str:
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request(
        "POST",
        "/login",
        body=urlencode({"code": code}),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    r = conn.getresponse()
    r.read()
    cookie = r.getheader("Set-Cookie") or ""
    if r.status != 303 or not cookie:
        raise SystemExit(f"pairing failed: {r.status}")
    return cookie.split(";", 1)[0]


def run_once(n: int, args, env_base: dict, expected: int) -> dict:
    import redis

    from hiitpi.pairing import create_secrets

    data = Path(tempfile.mkdtemp(prefix=f"hiitpi-bench-viewers-{n}-"))
    port, rport = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{rport}/0"
    _, code = create_secrets(data)
    env = dict(env_base, HIITPI_DATA_DIR=str(data), HIITPI_COACH_ENABLED="false")
    cmd = [
        *(sys.executable, "-m", "hiitpi", "serve", "--source", str(args.clip), "--workout", args.workout),
        *("--redis-url", redis_url, "--host", "127.0.0.1", "--port", str(port)),
    ]
    logf = open(data / "serve.log", "w")  # noqa: SIM115 - the child writes to it until it exits
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=logf, stderr=logf)
    host = "127.0.0.1"
    t_start = time.monotonic()
    try:
        while True:  # the dashboard answers
            if proc.poll() is not None:
                raise SystemExit(
                    f"serve exited {proc.returncode}: {(data / 'serve.log').read_text()[-2000:]}"
                )
            try:
                conn = http.client.HTTPConnection(host, port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() - t_start > 120:
                raise SystemExit("serve did not answer within 120 s")
            time.sleep(0.2)
        cookie = login(host, port, code)
        state = redis.Redis.from_url(redis_url, decode_responses=True)
        usage = Usage(
            [
                proc.pid,
                *descendants(proc.pid),
                *[p for p in redis_pids(redis_url) if p not in descendants(proc.pid)],
            ]
        )
        fps: list[float] = []
        idle_fps: list[float] = []
        sampling = threading.Event()

        def sample_fps(into: list[float], until: threading.Event) -> None:
            while not until.is_set():
                try:
                    st = state.hgetall("hiitpi:state")
                    if st.get("running") == "1" and st.get("fps"):
                        into.append(float(st["fps"]))
                except redis.RedisError:
                    pass
                until.wait(0.5)

        time.sleep(2.0)  # the engine warms up
        idle_done = threading.Event()
        threading.Thread(target=sample_fps, args=(idle_fps, idle_done), daemon=True).start()
        idle_cpu, idle_rss = usage.window(args.window)
        idle_done.set()
        fps_thread = threading.Thread(target=sample_fps, args=(fps, sampling), daemon=True)
        fps_thread.start()
        viewers = Viewers(host, port, cookie, n)
        viewers.start()
        time.sleep(args.settle)
        viewers.mark()
        busy_cpu, busy_rss = usage.window(args.window)
        viewers.mark()
        dev = Device(f"http://{host}:{port}", code, args.timeout)
        timings: dict[str, list[float]] = {"history": [], "state": [], "healthz": []}
        failed = {k: 0 for k in timings}
        for _ in range(args.requests):
            for name, fn in (
                ("history", dev.history_page),
                ("state", lambda: dev.status_ok("/api/live/state")),
                ("healthz", lambda: dev.status_ok("/healthz")),
            ):
                took, ok = dev.timed(fn)
                timings[name].append(took)
                failed[name] += 0 if ok else 1
        viewers.mark()
        clip_running = state.hget("hiitpi:state", "running") == "1"
        sampling.set()
        # the clip plays to its end (the viewers still watching): then the session is closed and stored
        deadline = time.monotonic() + 120
        while state.hget("hiitpi:state", "running") == "1" and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(2.0)
        viewers.close()
        counted = int(state.hget("hiitpi:state", "reps") or 0)
        db = sqlite3.connect(f"file:{data / 'hiitpi.db'}?mode=ro", uri=True)
        stored = db.execute("SELECT count(*) FROM reps WHERE valid = 1").fetchone()[0]
        db.close()
        shown = [f.last_reps for f, _ in viewers.streams if f.opened]
        video = viewers.rates(1)
        feed = viewers.rates(0)
        opened_video = sum(1 for _, v in viewers.streams if v.opened)
        opened_feed = sum(1 for f, _ in viewers.streams if f.opened)
        stills = sum(1 for _, v in viewers.streams if v.opened and v.content_type.startswith("image/jpeg"))
        return {
            "viewers": n,
            "load_before": os.getloadavg(),
            "requests": args.requests,
            "timeout_s": args.timeout,
            "p95_s": {k: round(pct(v, 0.95), 3) for k, v in timings.items()},
            "median_s": {k: round(statistics.median(v), 3) for k, v in timings.items()},
            "failed": failed,
            "streams_opened": {"feed": opened_feed, "video": opened_video, "video_still_only": stills},
            "video_fps_per_viewer": {"min": round(min(video), 2), "median": round(statistics.median(video), 2),
                                     "max": round(max(video), 2),
                                     "full_rate": sum(1 for v in video if v >= 10),
                                     "degraded": sum(1 for v in video if 0 < v < 10),
                                     "none": sum(1 for v in video if v == 0)},
            "feed_msgs_per_s_per_viewer": {"min": round(min(feed), 2), "median": round(statistics.median(feed), 2)},
            "engine_fps": {"min": min(fps) if fps else None, "median": statistics.median(fps) if fps else None,
                           "samples": len(fps),
                           "no_viewers_median": statistics.median(idle_fps) if idle_fps else None},
            "cpu_pct_of_a_core": {"no_viewers": round(idle_cpu, 1), "with_viewers": round(busy_cpu, 1),
                                  "per_viewer": round((busy_cpu - idle_cpu) / n, 2)},
            "rss_mb": {"no_viewers": round(idle_rss, 1), "with_viewers": round(busy_rss, 1),
                       "per_viewer": round((busy_rss - idle_rss) / n, 2)},
            "reps": {"expected_analyze": expected, "counted": counted, "stored": stored,
                     "shown_last": sorted(set(x for x in shown if x is not None)),
                     "clip_still_running_after_requests": clip_running},
            "serve_log": str(data / "serve.log"),
        }  # fmt: skip
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        logf.close()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--viewers", type=int, nargs="+", default=[20, 50])
    ap.add_argument("--clip", type=Path, default=None, help=f"default $HIITPI_DATA/clips/{DEFAULT_CLIP}")
    ap.add_argument("--workout", default="push_up")
    ap.add_argument("--requests", type=int, default=20)
    ap.add_argument("--timeout", type=float, default=5.0, help="per request, seconds")
    ap.add_argument("--settle", type=float, default=3.0, help="seconds after the viewers connect")
    ap.add_argument("--window", type=float, default=5.0, help="CPU sampling window, seconds")
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args(argv)
    data_root = Path(os.environ.get("HIITPI_DATA") or SHARED / "data")
    args.clip = args.clip or data_root / "clips" / DEFAULT_CLIP
    sys.path.insert(0, str(REPO))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIITPI_", "NOTIFY_", "WATCHDOG_"))}
    env["HIITPI_MODEL_MIRROR"] = os.environ.get("HIITPI_MODEL_MIRROR", str(SHARED / "models"))
    expected = reference_reps(args.clip, args.workout, env)
    print(f"clip {args.clip.name}: `hiitpi analyze` counts {expected} reps; load {os.getloadavg()}")
    results = []
    for n in args.viewers:
        res = run_once(n, args, env, expected)
        results.append(res)
        print(json.dumps(res, indent=1))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
