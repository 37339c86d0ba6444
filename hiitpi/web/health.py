"""`/healthz`: is every part of the appliance working, and if not, why.

A `hiitpi.health.HealthMonitor` holds one probe per part (camera, pose, Redis, database, …); the
probes that need only the settings, or a started engine or recorder, are here. In `hiitpi serve`
the supervisor then registers each supervised part's health (the part's own, plus its restarts
and why it last stopped: `hiitpi.supervisor.Supervisor.register_health`).

``GET /healthz`` answers JSON, always 200 (a degraded appliance is still counting):
``{"status": "ok" | "degraded", "degraded": [part names]}`` to anyone, and the full report with
each part's detail to a paired browser. `banner_text` turns a report into the one line the
dashboard shows at the top of the page when a part is degraded.
"""

from __future__ import annotations

import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask, jsonify

from hiitpi.config import Settings
from hiitpi.health import HealthMonitor, PartHealth, Probe

log = logging.getLogger(__name__)

#: Below this much free space on the database's disk the database part is degraded.
MIN_FREE_BYTES = 50 * 1024 * 1024

#: What the banner says for each part that is not ok (the detail follows).
BANNER_WORDS = {
    "redis": "Live view degraded (live bus down) — reps are still counted and saved",
    "camera": "Camera problem",
    "pose": "Pose model problem",
    "database": "History is not being saved",
    "recorder": "History is not being saved",
    "engine": "Analysis stopped",
    "frames": "No frames from the camera",
    "web server": "Dashboard server problem",
    "video": "Video problem",
    "coach": "Coach problem (summaries wait)",
}


# -- probes that need only the settings ---------------------------------------------------------


def redis_probe(url: str, timeout_s: float = 0.5) -> Probe:
    def probe() -> PartHealth:
        from hiitpi.redis_local import ping

        reason = ping(url, timeout_s)
        if reason is None:
            return PartHealth(True, "connected")
        return PartHealth(False, f"unreachable: {reason}")

    return probe


def database_probe(path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> Probe:
    """Readable, not read-only, and enough free space on its disk for the next writes."""

    def probe() -> PartHealth:
        if not path.exists():
            return PartHealth(False, f"{path} does not exist yet (the store has not started)")
        try:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.5)
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            finally:
                conn.close()
        except sqlite3.Error as exc:
            return PartHealth(False, f"{path}: {exc}")
        free = shutil.disk_usage(path.parent).free
        data = {"free_mb": round(free / 1e6, 1)}
        if free < min_free_bytes:
            return PartHealth(
                False,
                f"only {free / 1e6:.1f} MB free on the disk holding {path}; free some space",
                data,
            )
        return PartHealth(True, str(path), data)

    return probe


def capture_probe(runner_getter: Callable[[], Any], *, fail_after_restarts: int = 3) -> Probe:
    """The camera as `hiitpi.capture.runner.CaptureRunner.status()` reports it.

    After ``fail_after_restarts`` watchdog restarts the part is degraded even while frames flow
    again, with the last error, so a flaky cable shows up instead of hiding behind restarts.
    """

    def probe() -> PartHealth:
        runner = runner_getter()
        if runner is None:
            return PartHealth(False, "not started")
        st = runner.status()
        data = {
            "source": st.source,
            "frames": st.frames,
            "dropped": st.dropped,
            "restarts": st.restarts,
            "last_error": st.last_error,
        }
        if st.finished:
            return PartHealth(True, f"{st.source}: end of file", data)
        if not st.healthy:
            return PartHealth(False, f"{st.source}: {st.last_error or 'not delivering frames'}", data)
        if st.restarts >= fail_after_restarts:
            return PartHealth(
                False, f"{st.source}: restarted {st.restarts} times; last error: {st.last_error}", data
            )
        return PartHealth(True, st.source, data)

    return probe


def frame_age_probe(last_frame_at: Callable[[], float | None], *, max_age_s: float) -> Probe:
    """Seconds since the analysis last finished a frame (``time.monotonic()`` clock)."""

    def probe() -> PartHealth:
        at = last_frame_at()
        if at is None:
            return PartHealth(False, "no frame analysed yet", {"age_s": None})
        age = time.monotonic() - at
        data = {"age_s": round(age, 3)}
        if age > max_age_s:
            return PartHealth(False, f"last frame {age:.1f} s ago", data)
        return PartHealth(True, f"{age * 1000:.0f} ms ago", data)

    return probe


def recorder_probe(recorder: Any, path: Path, min_free_bytes: int = MIN_FREE_BYTES) -> Probe:
    """The history as the engine's `SessionRecorder` writes it: its last write error, unwritten
    reps, and the free space on the disk, so a full disk shows before the first failed write."""
    on_disk = database_probe(path, min_free_bytes)

    def probe() -> PartHealth:
        st = recorder.status()
        data = {k: st.get(k) for k in ("pending", "dropped", "written_events", "session_id", "last_write_at")}
        if not st.get("ok", True):
            return PartHealth(
                False, f"{st.get('last_error') or 'writes are failing'} ({st.get('pending')} unwritten)", data
            )
        disk = on_disk()
        data.update(disk.data)
        return PartHealth(disk.ok, disk.detail, data)

    return probe


def pose_probe(estimator_getter: Callable[[], Any]) -> Probe:
    """The pose backend and where it runs (``cpu`` or ``edgetpu``)."""

    def probe() -> PartHealth:
        est = estimator_getter()
        if est is None:
            return PartHealth(False, "no pose model loaded")
        name = getattr(est, "name", type(est).__name__)
        device = getattr(est, "device", "?")
        return PartHealth(True, f"{name} on {device}", {"backend": name, "delegate": device})

    return probe


def _last_analysed_at(engine: Any) -> float | None:
    return engine.stats.last_frame_at


def engine_probe(engine: Any) -> Probe:
    """The analysis thread: running, and the parts it gave up on (store, analysis)."""

    def probe() -> PartHealth:
        why = dict(getattr(engine, "degraded", {}))
        degraded = sorted(why)
        data = {"fps": round(engine.stats.fps, 1), "frames": engine.stats.frames, "degraded": degraded}
        if engine.finished.is_set():
            return PartHealth(True, "source finished", data)
        if not engine.analysing:
            return PartHealth(False, "analysis thread is not running", data)
        if degraded:
            return PartHealth(False, "degraded: " + "; ".join(f"{k} ({why[k]})" for k in degraded), data)
        return PartHealth(True, f"{data['fps']} fps", data)

    return probe


def attach_engine(monitor: HealthMonitor, engine: Any, *, max_frame_age_s: float | None = None) -> None:
    """Register the camera, pose, engine and last-frame probes of a started `hiitpi.engine.Engine`."""
    age = max_frame_age_s or max(2.0, engine.settings.capture.stall_timeout_s)
    monitor.register("camera", capture_probe(lambda: engine.capture))
    monitor.register("pose", pose_probe(lambda: engine.estimator))
    monitor.register("engine", engine_probe(engine))
    last = frame_age_probe(lambda: _last_analysed_at(engine), max_age_s=age)

    def frames() -> PartHealth:
        if engine.finished.is_set():
            return PartHealth(True, "source finished", {"age_s": None})
        return last()

    monitor.register("frames", frames)


def engine_liveness(engine: Any, *, stuck_after_s: float = 20.0) -> Callable[[], str | None]:
    """For `hiitpi.sdnotify.Watchdog`: None while the analysis works, else why it does not.

    Dead analysis thread, or frames arriving from the source while none has been analysed for
    ``stuck_after_s`` (a hang in inference). A camera that delivers nothing is not a reason: the
    capture watchdog restarts it in-process and the health report says why; restarting the whole
    service for an unplugged camera would only run into the start limit.
    """
    seen = {"captured": -1, "analysed": -1, "since": time.monotonic()}

    def alive() -> str | None:
        if engine.finished.is_set() or engine.stop_event.is_set():
            return None
        if not engine.analysing:
            return "the analysis thread died (see the log above)"
        captured = engine.capture.frames if engine.capture is not None else 0
        analysed = engine.stats.frames + engine.stats.errors  # a frame skipped as unusable is progress
        now = time.monotonic()
        if analysed != seen["analysed"] or captured == seen["captured"]:
            seen["since"] = now  # progress, or nothing to analyse
        seen["captured"], seen["analysed"] = captured, analysed
        if now - seen["since"] > stuck_after_s:
            return f"no frame analysed for {now - seen['since']:.0f} s while the camera delivers frames"
        return None

    return alive


def default_monitor(settings: Settings) -> HealthMonitor:
    """A monitor with the Redis and database probes; the engine adds camera, pose and frames."""
    monitor = HealthMonitor()
    monitor.register("redis", redis_probe(settings.redis.url))
    monitor.register("database", database_probe(settings.database_path))
    return monitor


# -- the route and the banner --------------------------------------------------------------------


def register_health(server: Flask, monitor: HealthMonitor) -> None:
    """Add ``GET /healthz`` to ``server`` (a paired browser gets each part's detail)."""

    def healthz():
        from hiitpi.web.auth import is_paired

        report = monitor.report()
        try:
            paired = is_paired()
        except RuntimeError:  # no secret key: auth not installed (a bare test app)
            paired = False
        body = report if paired else {"status": report["status"], "degraded": report["degraded"]}
        resp = jsonify(body)
        resp.headers["Cache-Control"] = "no-store"
        return resp

    server.add_url_rule("/healthz", "healthz", healthz, methods=["GET"])
    server.extensions["hiitpi_health"] = monitor


def banner_text(report: dict[str, Any]) -> str | None:
    """One line for the top of the page, or None when every part is ok."""
    if report.get("status") == "ok":
        return None
    pieces = []
    for name in report.get("degraded", []):
        words = BANNER_WORDS.get(name, f"{name} problem")
        detail = report.get("parts", {}).get(name, {}).get("detail")
        pieces.append(f"{words}: {detail}" if detail else words)
    return " · ".join(pieces) or "Degraded"
