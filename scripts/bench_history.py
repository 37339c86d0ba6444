#!/usr/bin/env python3
"""Time the history pages over HTTP on a seeded history (1,000 sessions / 50,000 reps by default).

    .venv/bin/python scripts/bench_history.py [--sessions 1000] [--reps 50000] [--runs 30] [--json]

Seeds a fresh SQLite file with scripts/seed_history.py, serves the dashboard (the event-loop server) on a
free loopback port and does what a browser does to show each page, over real HTTP: GET the page,
its Dash layout and dependencies, then POST the callbacks that fill it (the page router, then the
page's own data callback). Static JS/CSS bundles are left out (a browser caches them). Prints the
median, p90 and p95 of the whole page load per page and of each step; the first load (cold SQLite
page cache) is reported apart. Target (issue 6): the history page in <= 1 s.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

log = logging.getLogger("bench_history")


def _load_seeder():
    spec = importlib.util.spec_from_file_location("seed_history", REPO / "scripts" / "seed_history.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))]


class Browserish:
    """The HTTP requests a Dash page load makes (without the cached static bundles)."""

    def __init__(self, base: str, *, http=None, timeout: float = 30.0):
        """``http``: a `requests.Session` (a paired one for a dashboard behind pairing)."""
        import requests

        self.base = base
        self.timeout = timeout
        self.http = http or requests.Session()
        self.deps = self.http.get(base + "/_dash-dependencies", timeout=timeout).json()

    def _output_of(self, first: str, trigger: str) -> str:
        return next(
            d["output"]
            for d in self.deps
            if d["output"].lstrip(".").startswith(first) and trigger in {i["id"] for i in d["inputs"]}
        )

    def callback(self, first: str, inputs: list[dict], state: list[dict] | None = None) -> dict:
        output = self._output_of(first, inputs[0]["id"])
        parts = [o for o in output.strip(".").split("...") if o] if output.startswith("..") else [output]
        outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in parts]
        body = {
            "output": output,
            "outputs": outputs if output.startswith("..") else outputs[0],
            "inputs": inputs,
            "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
            "state": state or [],
        }
        r = self.http.post(self.base + "/_dash-update-component", json=body, timeout=self.timeout)
        r.raise_for_status()
        return r.json()

    def load(self, path: str, data_callback) -> dict[str, float]:
        t = {}
        t0 = time.perf_counter()
        r = self.http.get(self.base + path, timeout=self.timeout)
        r.raise_for_status()
        self.http.get(self.base + "/_dash-layout", timeout=self.timeout).raise_for_status()
        self.http.get(self.base + "/_dash-dependencies", timeout=self.timeout).raise_for_status()
        t["shell"] = time.perf_counter() - t0
        t1 = time.perf_counter()
        page = self.callback(
            "page.children",
            [{"id": "url", "property": "pathname", "value": path}],
            [{"id": "url", "property": "search", "value": ""}],
        )
        t["router"] = time.perf_counter() - t1
        t2 = time.perf_counter()
        data = data_callback(self) if data_callback else None
        t["data"] = time.perf_counter() - t2
        t["total"] = time.perf_counter() - t0
        t["_bytes"] = len(json.dumps(page)) + (len(json.dumps(data)) if data else 0)
        return t


def history_data(b: Browserish) -> dict:
    ids = ["hist-player", "hist-workout", "hist-from", "hist-to", "hist-prev", "hist-next"]
    inputs = [
        {
            "id": i,
            "property": "n_clicks" if i.endswith(("prev", "next")) else "value",
            "value": 0 if i.endswith(("prev", "next")) else None,
        }
        for i in ids
    ]
    out = b.callback("hist-results.children", inputs, [{"id": "hist-page", "property": "data", "value": 1}])
    assert "sessions" in json.dumps(out["response"]["hist-pageinfo"]), out
    return out


def trends_data(player: str, workout: str):
    def run(b: Browserish) -> dict:
        return b.callback(
            "trend-weekly.figure",
            [
                {"id": "trend-player", "property": "value", "value": player},
                {"id": "trend-workout", "property": "value", "value": workout},
            ],
        )

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sessions", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=50_000)
    ap.add_argument("--players", type=int, default=6)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from hiitpi.config import load_settings
    from hiitpi.store.db import Store
    from hiitpi.store.queries import list_sessions
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer
    from tests.conftest import free_port

    work = Path(tempfile.mkdtemp(prefix="hiitpi-bench-history-"))
    settings = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(work),
            ("redis", "url"): f"redis://127.0.0.1:{free_port()}/0",  # the history pages do not need it
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        },
    )
    store = Store.from_settings(settings)
    seeder = _load_seeder()
    t0 = time.perf_counter()
    seeder.seed(store, args.sessions, args.reps, args.players, random.Random(1))
    seed_s = time.perf_counter() - t0
    newest = list_sessions(store, per_page=1).items[0]

    app = create_app(settings, store=store, auth=False)
    web = WebServer(settings, app)
    web.start()  # serving when it returns
    base = f"http://127.0.0.1:{settings.web.port}"
    b = Browserish(base)

    def session_data(bb: Browserish) -> None:
        return None  # the router callback renders the whole session page

    pages = {
        "/history": history_data,
        "/trends": trends_data(newest.player, newest.workout),
        f"/session/{newest.id}": session_data,
    }
    result: dict = {
        "sessions": args.sessions,
        "reps": args.reps,
        "seed_s": round(seed_s, 2),
        "runs": args.runs,
        "pages": {},
    }
    try:
        for path, fn in pages.items():
            first = b.load(path, fn)
            runs = [b.load(path, fn) for _ in range(args.runs)]
            stats = {
                step: {
                    "median_ms": round(statistics.median(r[step] for r in runs) * 1000, 1),
                    "p90_ms": round(_pct([r[step] for r in runs], 0.90) * 1000, 1),
                    "p95_ms": round(_pct([r[step] for r in runs], 0.95) * 1000, 1),
                }
                for step in ("total", "shell", "router", "data")
            }
            stats["first_total_ms"] = round(first["total"] * 1000, 1)
            stats["response_kb"] = round(first["_bytes"] / 1024, 1)
            result["pages"][path.split("/")[1] if not path.startswith("/session") else "session"] = stats
    finally:
        web.stop()
        store.close()
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"seeded {args.sessions} sessions / {args.reps} reps in {seed_s:.1f} s; {args.runs} loads per page over HTTP"
        )
        for name, st in result["pages"].items():
            tot = st["total"]
            print(
                f"{name:8s} total median {tot['median_ms']:7.1f} ms  p90 {tot['p90_ms']:7.1f}  p95 {tot['p95_ms']:7.1f}"
                f"  (first {st['first_total_ms']:.1f} ms; shell {st['shell']['median_ms']:.1f}, router {st['router']['median_ms']:.1f},"
                f" data {st['data']['median_ms']:.1f}; {st['response_kb']} kB)"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
