"""A shown rep is a stored rep, and a full disk never stalls the analysis.

The store sink (`hiitpi.engine.sinks.RecorderSink`) runs before the live sink: for a frame with a
rep it commits before it returns. Real SQLite files (read back by a second connection, as another
process would), a real small tmpfs for the full disk (as root; skipped otherwise), real threads.
The process-level proof — `hiitpi serve` SIGKILLed right after a rep reaches the live stream, 20
times — is tests/test_faults_process.py::test_sigkill_right_after_a_rep_is_shown_loses_no_shown_rep.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from pathlib import Path

import numpy as np
import pytest

from hiitpi.capture.base import Frame
from hiitpi.engine.sinks import FrameResult, RecorderSink
from hiitpi.live.contract import LiveState
from hiitpi.store.db import Store
from hiitpi.store.errors import StoreError
from hiitpi.store.recorder import SessionRecorder
from tests.test_store_faults import fill, rep, wait_for


def on_disk(db: Path) -> int:
    """Valid reps as another process sees them now."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    try:
        return conn.execute("SELECT count(*) FROM reps WHERE valid = 1").fetchone()[0]
    finally:
        conn.close()


def frame_with(events) -> FrameResult:
    frame = Frame(np.zeros((4, 4, 3), np.uint8), timestamp=0.0, captured_at=time.monotonic(), seq=1)
    return FrameResult(frame=frame, pose=None, events=list(events), stages_ms={}, state=LiveState())


@pytest.fixture()
def store(tmp_path):
    s = Store.open(tmp_path / "h.db")
    yield s
    s.close()


@pytest.mark.parametrize("durable", [True, False])
def test_a_rep_is_on_disk_when_the_store_sink_returns(store, durable):
    """With a 5 s batch interval a batched rep is not on disk yet; a durable one is, before the
    live sink (which runs next) could publish it."""
    rec = SessionRecorder(store, flush_interval_s=5.0, flush_max_events=10_000)
    sink = RecorderSink(rec, durable=durable)
    try:
        rec.start_session("Ana", "squat")
        for i in range(1, 4):
            result = frame_with([rep(i)])
            sink.on_frame(result)
            assert on_disk(store.path) == (i if durable else 0)
            assert ("store" in result.stages_ms) is durable
        sink.on_frame(frame_with([]))  # a frame without a rep does not wait for the disk
        assert len(rec.commit_ms) == (3 if durable else 0)
    finally:
        rec.close()


def test_commit_cost_is_measured_per_rep(store):
    rec = SessionRecorder(store)
    sink = RecorderSink(rec)
    try:
        rec.start_session("Ana", "squat")
        for i in range(1, 21):
            sink.on_frame(frame_with([rep(i)]))
        assert on_disk(store.path) == 20
        waits = sorted(rec.commit_ms)
        assert len(waits) == 20 and 0 < waits[10] < 1000, waits
    finally:
        rec.close()


def test_full_disk_that_stays_full_never_blocks_and_logs_saved_only_after_commit(small_fs, caplog):
    caplog.set_level(logging.INFO, logger="hiitpi.store")
    store = Store.open(small_fs / "h.db")
    rec = SessionRecorder(store, flush_interval_s=0.1, retry_s=0.2)
    sink = RecorderSink(rec, timeout_s=1.0)
    saved: list[int] = []
    try:
        sid = rec.start_session("Ana", "squat")
        sink.on_frame(frame_with([rep(1)]))
        assert on_disk(store.path) == 1
        filler = fill(small_fs)
        slowest = 0.0
        for i in range(2, 40):  # a rep every frame, the disk full: the sink never waits for it
            t0 = time.perf_counter()
            sink.on_frame(frame_with([rep(i)]))
            slowest = max(slowest, time.perf_counter() - t0)
        assert slowest < 0.25, f"a frame waited {slowest:.3f} s for a full disk"
        assert not rec.healthy and "disk is full" in rec.last_error and "free space" in rec.last_error
        t0 = time.perf_counter()
        assert rec.end_session("done", wait=False, on_saved=saved.append) == sid
        assert time.perf_counter() - t0 < 0.05
        t0 = time.perf_counter()
        with pytest.raises(StoreError, match=r"not saved yet.*disk is full"):
            rec.start_session("Bo", "squat")  # the next session: refused at once, kept queued
        assert time.perf_counter() - t0 < 0.5
        time.sleep(1.0)  # writer retries on the full disk
        assert not [r for r in caplog.records if "saved" in r.getMessage()], "said saved while full"
        assert saved == [] and on_disk(store.path) == 1
        rec.end_session("done", wait=False, on_saved=saved.append)

        filler.unlink()  # room again: everything queued is written, in order, and only now "saved"
        assert wait_for(lambda: rec.pending == 0 and len(saved) == 2, 10), (rec.pending, saved)
        assert saved == [sid, sid + 1]
        said = [r.getMessage() for r in caplog.records if "saved" in r.getMessage()]
        assert len(said) == 2, said
        assert said[0].startswith(f"session {sid} saved (done): 39 reps, 0 no-reps"), said
        assert said[1].startswith(f"session {sid + 1} saved (done): 0 reps"), said
        assert on_disk(store.path) == 39
        assert rec.commit(1.0) is True  # healthy again: commits wait for the disk once more
    finally:
        rec.close()
        store.close()


def test_a_hung_commit_is_waited_for_once_then_not_until_it_finishes(store):
    """A disk that does not answer (here: another process holds the write lock) costs one
    time-out, not one per rep."""
    rec = SessionRecorder(store)
    try:
        rec.start_session("Ana", "squat")
        blocker = sqlite3.connect(store.path, timeout=0, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")  # the write lock: the writer waits (busy timeout 5 s)
        try:
            rec.record(rep(1))
            t0 = time.perf_counter()
            assert rec.commit(0.3) is False
            first = time.perf_counter() - t0
            rec.record(rep(2))
            t0 = time.perf_counter()
            assert rec.commit(0.3) is False  # the previous one still waits: no second wait
            second = time.perf_counter() - t0
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert 0.25 < first < 1.0 and second < 0.05, (first, second)
        assert rec.slow_commits == 1
        assert wait_for(lambda: rec.pending == 0, 10)
        assert on_disk(store.path) == 2
    finally:
        rec.close()
