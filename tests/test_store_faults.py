"""The store under faults, done for real: SIGKILL mid-session, a full disk, a read-only filesystem.

The disk tests mount a small tmpfs (needs root, as in the CI container); without root they skip
and say so.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hiitpi.referee.events import RefEvent
from hiitpi.store import SessionRecorder, Store, StoreError, queries, recover_open_sessions

REPO = Path(__file__).resolve().parent.parent

CHILD = r"""
import sys, time
from hiitpi.referee.events import RefEvent
from hiitpi.store import SessionRecorder, Store
store = Store.open(sys.argv[1])
rec = SessionRecorder(store, flush_interval_s=0.5, flush_max_events=1000)
sid = rec.start_session("Crash Test", "squat", t0=0.0)
print("session", sid, flush=True)
i = 0
while True:
    i += 1
    valid = i % 5 != 0
    rec.record(RefEvent("rep" if valid else "no_rep", "squat", t_start=i * 0.1, t_end=i * 0.1 + 0.08,
                        count=i, eccentric_s=0.03, concentric_s=0.05, rom=round(0.5 + (i % 7) / 20, 3),
                        reason=None if valid else "not low enough"))
    print("rec", i, time.monotonic(), flush=True)
    if i == 40:
        rec.start_interval("pushup", round=2)
    time.sleep(0.01)
"""


def test_sigkill_mid_session_then_recover_keeps_every_written_rep(tmp_path):
    db = tmp_path / "crash.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db)], stdout=subprocess.PIPE, text=True, env=env
    )
    recorded: dict[int, float] = {}
    try:
        sid = int(proc.stdout.readline().split()[1])
        while len(recorded) < 200:
            line = proc.stdout.readline()
            assert line, "child died early"
            _, i, t = line.split()
            recorded[int(i)] = float(t)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = Store.open(db)
    try:
        assert queries.get_session(store, sid).status == "open"
        rec = SessionRecorder(store)  # what the appliance does at start
        assert rec.recovered == [sid]
        assert recover_open_sessions(store) == []  # nothing left to recover
        d = queries.session_detail(store, sid)
        on_disk = [r.index for r in d.reps]
        # a prefix of what was recorded, with no gaps ...
        assert on_disk == list(range(1, len(on_disk) + 1))
        assert len(on_disk) <= max(recorded) + 1
        # ... holding every rep recorded more than a second before the kill
        old_enough = [i for i, t in recorded.items() if t <= killed_at - 1.0]
        assert old_enough and max(old_enough) <= len(on_disk), (
            f"{len(on_disk)} reps on disk, but rep {max(old_enough)} was recorded over 1 s before the kill"
        )
        for r in d.reps:  # exactly what was recorded
            assert r.t_start == pytest.approx(r.index * 0.1)
            assert r.valid == (r.index % 5 != 0)
            assert r.reason == (None if r.valid else "not low enough")
            assert r.interval_index == (1 if r.index <= 40 else 2)
        s = d.session
        assert s.status == "recovered" and s.ended_at is not None and s.duration_s > 0
        assert (s.reps, s.no_reps) == (sum(r.valid for r in d.reps), sum(not r.valid for r in d.reps))
        assert [(i.workout, i.reps + i.no_reps) for i in d.intervals] == [
            ("squat", 40),
            ("pushup", len(d.reps) - 40),
        ]
        assert all(i.ended_at is not None for i in d.intervals)
        assert store.integrity_check() == "ok"
        # the recorder goes on cleanly afterwards
        new = rec.start_session("Crash Test", "squat")
        rec.end_session()
        rec.close()
        assert new == sid + 1
    finally:
        store.close()


# --- small filesystems -----------------------------------------------------------------------------


def fill(folder: Path) -> Path:
    """Fill the filesystem up with one file; returns it (delete it to free the space)."""
    filler = folder / "filler.bin"
    chunk = b"\0" * 4096
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(chunk)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    return filler


def wait_for(cond, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.05)
    return cond()


def rep(i: int) -> RefEvent:
    return RefEvent(
        "rep", "squat", t_start=i, t_end=i + 0.5, count=i, eccentric_s=0.2, concentric_s=0.3, rom=0.9
    )


def test_disk_full_is_a_clear_error_then_nothing_lost(small_fs):
    store = Store.open(small_fs / "h.db")
    rec = SessionRecorder(store, flush_interval_s=0.1, flush_max_events=50, retry_s=0.2)
    try:
        sid = rec.start_session("Full Disk", "squat")
        for i in range(100):
            rec.record(rep(i))
        rec.flush()
        filler = fill(small_fs)
        # write until the disk refuses (the WAL may still have a little room)
        n = 100
        while store.healthy and n < 20_000:
            for _ in range(200):
                rec.record(rep(n))
                n += 1
            time.sleep(0.15)
        assert not rec.healthy, "the disk never filled up"
        assert "database or disk is full" in rec.last_error and "free space" in rec.last_error
        assert rec.pending > 0
        with pytest.raises(StoreError, match="free space"):
            rec.flush(timeout=1.0)
        # record() keeps taking events while the disk is full, without blocking
        t = time.perf_counter()
        for _ in range(100):
            rec.record(rep(n))
            n += 1
        assert time.perf_counter() - t < 0.5
        # the file on disk is a sound database holding whatever was committed
        assert store.integrity_check() == "ok"
        on_disk = queries.get_session(store, sid).reps
        assert 100 <= on_disk < n
        # space comes back: the held events are written, none lost
        filler.unlink()
        assert wait_for(lambda: rec.healthy and rec.pending == 0), rec.last_error
        assert queries.get_session(store, sid).reps == n
        d = queries.session_detail(store, sid)
        assert [r.index for r in d.reps] == list(range(1, n + 1))
        rec.end_session()
        assert store.integrity_check() == "ok"
    finally:
        rec.close()
        store.close()


def test_open_on_a_full_disk_says_so(small_fs):
    fill(small_fs)
    with pytest.raises(StoreError, match=r"(disk is full|unable to open).*(free space|writable)"):
        Store.open(small_fs / "new.db")


def test_read_only_filesystem_is_a_clear_error(small_fs):
    store = Store.open(small_fs / "h.db")
    rec = SessionRecorder(store, flush_interval_s=0.1)
    sid = rec.start_session("Read Only", "squat")
    for i in range(10):
        rec.record(rep(i))
    rec.close()
    store.close()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        with pytest.raises(StoreError, match="mounted read-only: remount it read-write"):
            Store.open(small_fs / "h.db")
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    store = Store.open(small_fs / "h.db")
    try:
        assert queries.get_session(store, sid).reps == 10
        assert store.integrity_check() == "ok"
    finally:
        store.close()


RLIMIT_CHILD = r"""
import json, os, resource, signal, sys, time
from hiitpi.referee.events import RefEvent
from hiitpi.store import SessionRecorder, Store
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG instead
db = sys.argv[1]
store = Store.open(db)
rec = SessionRecorder(store, flush_interval_s=0.05, flush_max_events=50, retry_s=0.1)
sid = rec.start_session("File Limit", "squat")
rec.flush()
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
limit = max(os.path.getsize(db), os.path.getsize(db + "-wal")) + 256 * 1024
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
n = 0
while rec.healthy and n < 50_000:
    for _ in range(100):
        n += 1
        rec.record(RefEvent("rep", "squat", n, n + 0.5, count=n, rom=0.9))
    time.sleep(0.06)
out = {"sid": sid, "healthy_when_full": rec.healthy, "error": rec.last_error, "recorded": n,
       "pending_when_full": rec.pending}
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # space comes back
deadline = time.monotonic() + 10
while not (rec.healthy and rec.pending == 0) and time.monotonic() < deadline:
    time.sleep(0.05)
out["healthy_after"] = rec.healthy
rec.end_session()
rec.close()
print(json.dumps(out))
"""


def test_file_size_limit_is_a_clear_error_then_nothing_lost(tmp_path):
    """The same disk-full story without root: RLIMIT_FSIZE in a child process (writes fail with EFBIG)."""
    import json

    db = tmp_path / "limit.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    r = subprocess.run(
        [sys.executable, "-c", RLIMIT_CHILD, str(db)], capture_output=True, text=True, env=env, timeout=120
    )
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["healthy_when_full"] is False and out["pending_when_full"] > 0
    assert out["recorded"] > 300  # the limit left room for a few batches first
    assert "disk I/O error" in out["error"] and "free space" in out["error"], out["error"]
    assert out["healthy_after"] is True
    store = Store.open(db)
    try:
        s = queries.get_session(store, out["sid"])
        assert (s.status, s.reps) == ("done", out["recorded"])
        assert [r.index for r in queries.session_detail(store, out["sid"]).reps] == list(
            range(1, out["recorded"] + 1)
        )
        assert store.integrity_check() == "ok"
    finally:
        store.close()
