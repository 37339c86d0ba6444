"""Faults the appliance survives, each really done: Redis killed, disk full, rules corrupted, a
camera that stops. Real clip, real model and referee, real redis-server, real SQLite files.

Process-level faults (SIGKILL, SIGTERM of `hiitpi serve`) are in tests/test_faults_process.py.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

from hiitpi.capture.video import VideoFileSource
from hiitpi.config import load_settings
from hiitpi.engine import Engine
from hiitpi.live.contract import LiveKeys
from hiitpi.live.reader import LiveReader
from hiitpi.store.db import Store
from hiitpi.store.recorder import SessionRecorder
from hiitpi.web.health import (
    HealthMonitor,
    attach_engine,
    banner_text,
    engine_liveness,
    recorder_probe,
    redis_probe,
)

pytestmark = pytest.mark.slow

CLIP = "jumping_jack/ahmedlila_jj_12.mp4"  # 10.7 s at 29.3 fps, 12 reps
WORKOUT = "jumping_jack"


@pytest.fixture(scope="module")
def clip(shared_data) -> Path:
    return shared_data / "clips" / CLIP


def make_settings(data_dir: Path, model_mirror: Path, redis_url: str, extra: dict | None = None):
    overrides = {
        ("general", "data_dir"): str(data_dir),
        ("models", "mirror"): str(model_mirror),
        ("redis", "url"): redis_url,
        ("referee", "workout"): WORKOUT,
    }
    overrides.update(extra or {})
    return load_settings(None, env={}, overrides=overrides)


def stored(db: Path) -> tuple[list[tuple], list[tuple]]:
    """(sessions as (status, reps, no_reps), reps as (session, index, t_end, valid, reason))."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        sessions = conn.execute("SELECT status, reps, no_reps FROM sessions ORDER BY id").fetchall()
        reps = conn.execute(
            'SELECT session_id, "index", round(t_end, 3), valid, reason FROM reps ORDER BY session_id, "index"'
        ).fetchall()
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()
    return sessions, reps


class Run:
    """One engine + store + recorder on a clip, unpaced (every frame analysed, so two runs agree)."""

    def __init__(self, settings, clip: Path):
        self.settings = settings
        self.store = Store.from_settings(settings)
        self.recorder = SessionRecorder.from_settings(self.store, settings)
        self.engine = Engine(
            settings,
            source_factory=lambda: VideoFileSource(clip, paced=False),
            recorder=self.recorder,
        )
        self.monitor = HealthMonitor(cache_s=0)
        self.monitor.register("redis", redis_probe(settings.redis.url, 0.2))
        self.monitor.register("database", recorder_probe(self.recorder, settings.database_path))

    def __enter__(self) -> Run:
        self.engine.start()
        attach_engine(self.monitor, self.engine)
        return self

    def __exit__(self, *exc) -> None:
        self.engine.stop()
        self.recorder.close()
        self.store.close()


@pytest.fixture(scope="module")
def reference(clip, model_mirror, redis_server, tmp_path_factory) -> dict:
    """The same clip without any fault."""
    data = tmp_path_factory.mktemp("reference")
    import redis

    redis.Redis.from_url(redis_server.url).flushdb()
    settings = make_settings(data, model_mirror, redis_server.url)
    with Run(settings, clip) as run:
        assert run.engine.wait(timeout=180)
        frames = run.engine.stats.frames
    sessions, reps = stored(settings.database_path)
    state = LiveReader(redis_server.url, LiveKeys(settings.redis.prefix)).state()
    return {"sessions": sessions, "reps": reps, "state": state, "frames": frames}


def test_reference_run_counts_the_clip(reference):
    assert reference["sessions"] == [
        ("done", int(reference["state"]["reps"]), int(reference["state"]["no_reps"]))
    ]
    assert int(reference["state"]["reps"]) >= 8  # the clip has 12; the referee finds most of them
    assert len(reference["reps"]) == int(reference["state"]["reps"]) + int(reference["state"]["no_reps"])


def test_redis_killed_and_restarted_mid_session(
    tmp_path, clip, model_mirror, redis_server, redis_url, reference
):
    settings = make_settings(tmp_path / "data", model_mirror, redis_url)
    banners = []
    with Run(settings, clip) as run:
        while run.engine.stats.frames < 60:
            time.sleep(0.005)
        redis_server.stop()  # SIGKILL: no goodbye
        killed_at = run.engine.stats.frames
        report = run.monitor.report()
        banners.append(banner_text(report))
        assert report["status"] == "degraded" and "redis" in report["degraded"]
        time.sleep(1.0)
        during = run.engine.stats.frames
        redis_server.start()  # same port, empty: everything published before is gone
        assert run.engine.wait(timeout=180)
        deadline = time.monotonic() + 10
        while run.engine.publisher.degraded and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
        after = run.monitor.report()
    assert killed_at < during, "the referee did not keep counting while Redis was down"
    assert banners[0].startswith("Live view degraded")
    assert after["parts"]["redis"]["ok"], after
    state = LiveReader(redis_url, LiveKeys(settings.redis.prefix)).state()
    assert state["reps"] == reference["state"]["reps"] and state["no_reps"] == reference["state"]["no_reps"]
    assert int(state["redis_reconnects"]) >= 1
    sessions, reps = stored(settings.database_path)
    assert sessions == reference["sessions"]
    assert reps == reference["reps"]  # every rep, same times, same verdicts


def _mount_tmpfs(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    res = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return res.returncode == 0


def test_disk_full_mid_session_clear_error_and_no_corruption(tmp_path, clip, model_mirror, redis_url):
    """A real small tmpfs holds the database; a filler file eats the rest of it mid-session."""
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "16m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        settings = make_settings(mnt, model_mirror, redis_url)
        with Run(settings, clip) as run:
            while run.engine.stats.frames < 30:
                time.sleep(0.005)
            filler = mnt / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:  # fill the disk to the last block
                for chunk in (1 << 20, 65536, 4096, 512):
                    try:
                        while True:
                            os.write(fd, b"\0" * chunk)
                    except OSError:
                        pass
            finally:
                os.close(fd)
            assert shutil.disk_usage(mnt).free < 64 * 1024
            assert run.engine.wait(timeout=180)
            time.sleep(1.5)  # a few writer retries
            report = run.monitor.report(fresh=True)
            reps_counted = int(LiveReader(redis_url, LiveKeys(settings.redis.prefix)).state()["reps"])
            assert report["status"] == "degraded" and "database" in report["degraded"], report
            detail = report["parts"]["database"]["detail"]
            assert "free" in detail.lower() or "full" in detail.lower(), detail
            assert reps_counted >= 8  # counting went on without the disk
            filler.unlink()  # space again: the pending reps are written
            deadline = time.monotonic() + 10
            while run.recorder.pending and time.monotonic() < deadline:
                time.sleep(0.1)
            assert run.recorder.pending == 0
        sessions, reps = stored(settings.database_path)  # integrity_check == ok inside
        assert sessions[-1][1] == reps_counted
        assert sum(1 for r in reps if r[3]) == reps_counted
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_camera_that_delivers_nothing(tmp_path, clip, model_mirror, redis_url, caplog):
    """A camera whose every read hangs: the capture watchdog restarts it with back-off, /healthz
    says why after repeated failures, and the systemd watchdog keeps being pinged (a dead camera
    is not a hung process) while the engine thread is alive."""
    caplog.set_level(logging.WARNING, logger="hiitpi.capture.runner")
    settings = make_settings(
        tmp_path / "data", model_mirror, redis_url, {("capture", "stall_timeout_s"): 0.3}
    )
    release = threading.Event()

    class DeadCamera(VideoFileSource):
        live = True
        threaded = True  # a camera: read in a capture thread, watched by the watchdog

        def read(self):
            release.wait(30)
            raise OSError("VIDIOC_DQBUF: no buffer (test camera unplugged)")

    store = Store.from_settings(settings)
    recorder = SessionRecorder.from_settings(store, settings)
    engine = Engine(
        settings, source_factory=lambda: DeadCamera(clip, paced=True, loop=True), recorder=recorder
    )
    engine.start()
    monitor = HealthMonitor(cache_s=0)
    attach_engine(monitor, engine)
    alive = engine_liveness(engine, stuck_after_s=1.0)
    try:
        deadline = time.monotonic() + 30
        while engine.capture.restarts < 3 and time.monotonic() < deadline:
            assert alive() is None
            time.sleep(0.1)
        assert engine.capture.restarts >= 3
        report = monitor.report()
        camera = report["parts"]["camera"]
        assert not camera["ok"] and camera["restarts"] >= 3
        assert "stalled" in camera["detail"] or "restarted" in camera["detail"], camera
        assert "camera" in banner_text(report).lower()
        assert not report["parts"]["frames"]["ok"]
        assert alive() is None
    finally:
        release.set()
        engine.stop()
        recorder.close()
        store.close()
    assert caplog.text.count("restarting in") >= 3


def test_hung_analysis_stops_the_systemd_watchdog(tmp_path, clip, model_mirror, redis_url):
    """The other half: frames arrive but the analysis thread is stuck (a hung inference), so the
    watchdog is no longer pinged and systemd restarts the service."""
    settings = make_settings(tmp_path / "data", model_mirror, redis_url)
    engine = Engine(settings, source_factory=lambda: VideoFileSource(clip, paced=True, loop=True))
    engine.start()
    alive = engine_liveness(engine, stuck_after_s=0.5)
    hang = threading.Event()
    real = engine.estimator.estimate

    def stuck(*a, **kw):
        hang.wait(20)
        return real(*a, **kw)

    try:
        while engine.stats.frames < 5:
            time.sleep(0.02)
        assert alive() is None
        engine.estimator.estimate = stuck
        deadline = time.monotonic() + 10
        reason = None
        while reason is None and time.monotonic() < deadline:
            reason = alive()
            time.sleep(0.1)
        assert reason and "no frame analysed" in reason
    finally:
        hang.set()
        engine.stop()


def test_rules_file_corrupted_while_running(tmp_path, clip, model_mirror, redis_url):
    """A rules file is broken while the appliance runs: the running engine keeps counting with the
    version it loaded, a reload of the rules reports the broken file with its line, and the
    workout stays startable with its last good version."""
    from hiitpi.config import DEFAULT_RULES_DIR
    from hiitpi.live.contract import LiveCommand
    from hiitpi.referee.catalog import CatalogLoader

    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    settings = make_settings(
        tmp_path / "data", model_mirror, redis_url, {("referee", "rules_dir"): str(rules)}
    )
    catalog = CatalogLoader(rules, recheck_s=0)
    assert WORKOUT in catalog.get().workouts and not catalog.get().errors
    engine = Engine(
        settings, source_factory=lambda: VideoFileSource(clip, paced=False, loop=True), autostart=False
    )
    engine.start()
    try:
        while engine.stats.frames < 30:
            time.sleep(0.01)
        target = rules / f"{WORKOUT}.toml"
        good = target.read_text()
        target.write_text(good[: len(good) // 2] + "\n[[states\nthis is = not toml ]]\n")
        time.sleep(0.05)
        cat = catalog.get()
        assert cat.errors and any(f"{WORKOUT}.toml" in e for e in cat.errors), cat.errors
        assert any(re.search(r"\.toml:\d+", e) for e in cat.errors), cat.errors  # file:line
        # the engine is unaffected: a new session of the same workout starts and counts
        ok, msg = engine.handle_command(LiveCommand(id="t1", action="start", player="p", workout=WORKOUT))
        assert ok, msg
        # the session start re-read the folder and kept the last good version of the broken file
        assert any("keeping the last good version" in e for e in engine.catalog.errors), engine.catalog.errors
        assert engine.catalog.workout(WORKOUT).name == WORKOUT
        frames = engine.stats.frames
        time.sleep(1.0)
        assert engine.stats.frames > frames
    finally:
        engine.stop()


def test_rules_file_corrupted_page_keeps_last_good_version(tmp_path):
    from hiitpi.config import DEFAULT_RULES_DIR
    from hiitpi.referee.catalog import CatalogLoader

    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    catalog = CatalogLoader(rules, recheck_s=0)
    before = catalog.get()
    target = rules / f"{WORKOUT}.toml"
    target.write_text(target.read_text()[:200] + "\n[[states\n")
    after = catalog.get()
    assert after.errors
    assert after.resolve(WORKOUT)[0].name == WORKOUT
    assert set(after.programs) == set(before.programs)


def test_disk_full_that_stays_full_stop_answers_at_once_and_analysis_never_stalls(
    tmp_path, clip, model_mirror, redis_url, caplog
):
    """The disk fills mid-session and stays full. Stop from the page (the command path through
    Redis, as the button does) answers within a second, saying the session is not saved and
    what to do; the analysis goes on without a pause; the banner says the disk is full; nothing
    in the log says the session was saved."""
    from hiitpi.web.actions import stop_session

    caplog.set_level(logging.INFO, logger="hiitpi")
    mnt = tmp_path / "small"
    if not _mount_tmpfs(mnt, "16m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        settings = make_settings(mnt, model_mirror, redis_url)
        store = Store.from_settings(settings)
        recorder = SessionRecorder.from_settings(store, settings)
        engine = Engine(settings, source_factory=lambda: VideoFileSource(clip, paced=True), recorder=recorder)
        monitor = HealthMonitor(cache_s=0)
        monitor.register("database", recorder_probe(recorder, settings.database_path))
        reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
        engine.start()
        analysed: list[tuple[float, int]] = []  # (when, frames analysed so far), every 20 ms
        sampling = threading.Event()

        def sample() -> None:
            while not sampling.wait(0.02):
                analysed.append((time.monotonic(), engine.stats.frames))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            while engine.live_state().total_reps < 2:
                time.sleep(0.02)
            sid = engine.session.store_id
            filler = mnt / "filler"
            fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
            try:
                for chunk in (1 << 20, 65536, 4096, 512):
                    try:
                        while True:
                            os.write(fd, b"\0" * chunk)
                    except OSError:
                        pass
            finally:
                os.close(fd)
            deadline = time.monotonic() + 15
            while recorder.healthy and time.monotonic() < deadline:  # the next batch finds it full
                time.sleep(0.05)
            assert not recorder.healthy
            t_stop = time.monotonic()
            res = stop_session(reader)
            stop_s = time.monotonic() - t_stop
            time.sleep(1.0)
            sampling.set()
            sampler.join(2)
            assert res.ok and stop_s < 1.0, (stop_s, res)
            assert "not saved yet" in res.message and "disk is full" in res.message, res.message
            assert "free space" in res.message, res.message
            window = [(t, n) for t, n in analysed if t_stop - 0.5 <= t <= t_stop + 1.0]
            longest, since = 0.0, window[0]
            for t, n in window[1:]:
                if n != since[1]:
                    since = (t, n)
                longest = max(longest, t - since[0])
            assert window[-1][1] > window[0][1] and longest < 0.6, (longest, window[0], window[-1])
            banner = banner_text(monitor.report(fresh=True))
            assert banner and "History is not being saved" in banner and "disk is full" in banner, banner
            assert "free space" in banner
            assert not [r for r in caplog.records if f"session {sid} saved" in r.getMessage()]
        finally:
            sampling.set()
            engine.stop()
            recorder.close(timeout=5)  # still full: the writer gives up, saying so
            store.close()
        assert not [r for r in caplog.records if f"session {sid} saved" in r.getMessage()]
        assert "operations unwritten" in caplog.text
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


@pytest.mark.parametrize("size", [(1, 1), (9, 700), (700, 9), (3, 3)], ids=["1x1", "9x700", "700x9", "3x3"])
def test_frames_of_any_size_never_stop_the_analysis(tmp_path, model_mirror, redis_url, size):
    """The issue: a 1×1 video killed the analysis thread (`frame too small`), the state said running
    at 0 fps and the session stayed open. Now every frame is analysed (no pose, no error), and the
    session ends with the clip and is saved."""
    import cv2
    import numpy as np

    w, h = size
    video = tmp_path / f"v{w}x{h}.avi"
    out = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"MJPG"), 30, (w, h))
    for i in range(40):
        out.write(np.full((h, w, 3), (i * 6) % 255, np.uint8))
    out.release()
    settings = make_settings(tmp_path / "data", model_mirror, redis_url)
    with Run(settings, video) as run:  # a session starts with the engine
        assert run.engine.wait(timeout=60)
        assert run.engine.stats.frames == 40 and run.engine.stats.errors == 0, run.engine.stats
        assert "analysis" not in run.engine.degraded, run.engine.degraded
    sessions, reps = stored(settings.database_path)
    assert sessions == [("done", 0, 0)] and reps == []
