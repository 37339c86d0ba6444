"""CPU time of every thread of this process, by role, while something runs (Linux ``/proc``).

`ThreadCpuMeter` samples ``/proc/self/task/*/schedstat`` (nanoseconds on a CPU; the ``stat``
clock ticks where schedstat is missing) every ``interval_s``, so a thread that ends during the run
keeps what it had used by its last sample. Python threads are told apart by their names
(`ROLES`); the threads libraries start themselves (OpenCV's pool, XNNPACK's, FFmpeg's decoder
threads) have no Python name and count as ``library pools``. Whatever the samples missed (a
thread that lived between two samples, the tail of one that ended) is ``unaccounted``: the
process's own CPU time, which is exact, minus the sum of the threads'.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

#: Thread name (prefix) → the role it is reported under.
ROLES: tuple[tuple[str, str], ...] = (
    ("analysis", "analysis"),
    ("capture", "capture"),
    ("mjpeg", "video"),
    ("video", "video"),
    ("web", "web"),
    ("uvicorn", "web"),
    ("asyncio", "web"),
    ("live-", "live bus"),
    ("hiitpi-store", "store"),
    ("coach", "coach"),
    ("MainThread", "main"),
)
LIBRARY = "library pools"
UNACCOUNTED = "unaccounted"
SAMPLER_NAME = "bench-cpu-sampler"
_TASKS = Path("/proc/self/task")
_TICK_S = 1.0 / (os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100)


def role_of(name: str | None) -> str:
    if name is None:
        return LIBRARY
    for prefix, role in ROLES:
        if name.startswith(prefix):
            return role
    return "other"


def task_cpu_s(tid: int) -> float | None:
    """CPU seconds thread ``tid`` of this process has used; None once it is gone."""
    base = _TASKS / str(tid)
    try:
        return int((base / "schedstat").read_text().split()[0]) / 1e9
    except FileNotFoundError:
        pass
    except (OSError, ValueError, IndexError):
        return None
    try:
        fields = (base / "stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_S  # utime + stime


def _tids() -> list[int]:
    try:
        return [int(t) for t in os.listdir(_TASKS)]
    except OSError:
        return []


class ThreadCpuMeter:
    """``start()``, run the work, ``stop()``; then `by_role()` is each role's CPU seconds over it."""

    def __init__(self, interval_s: float = 0.1, exclude: tuple[str, ...] = ()):
        self.interval_s = interval_s
        self.exclude = exclude  # names of threads whose CPU is not the pipeline's (a test client)
        self._first: dict[int, float] = {}
        self._last: dict[int, float] = {}
        self._names: dict[int, str] = {}
        self._ended: dict[str | None, float] = {}  # CPU of threads whose id was reused, by name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # one sample at a time: two interleaved samples would read a thread's CPU in one order and
        # store it in the other, and a falling figure reads as a reused id (its whole past counted)
        self._lock = threading.Lock()
        self.process_s = 0.0
        self.wall_s = 0.0
        self._p0 = self._w0 = 0.0

    def start(self) -> None:
        self._stop.clear()
        self._p0, self._w0 = time.process_time(), time.monotonic()
        self._sample(baseline=True)
        self._thread = threading.Thread(target=self._run, name=SAMPLER_NAME, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        self._sample()
        self.process_s = time.process_time() - self._p0
        self.wall_s = time.monotonic() - self._w0

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            self._sample()

    def _sample(self, baseline: bool = False) -> None:
        with self._lock:
            self._sample_locked(baseline)

    def _sample_locked(self, baseline: bool) -> None:
        names = {t.native_id: t.name for t in threading.enumerate() if t.native_id is not None}
        for tid in _tids():
            cpu = task_cpu_s(tid)
            if cpu is None:
                continue
            if tid in self._last and cpu < self._last[tid]:  # the id now belongs to a new thread
                name = self._names.get(tid)
                self._ended[name] = self._ended.get(name, 0.0) + self._last[tid] - self._first[tid]
                self._first[tid] = 0.0
            # a thread first seen after the start began during the run: it counts from zero
            self._first.setdefault(tid, cpu if baseline else 0.0)
            self._last[tid] = cpu
            if tid in names:
                self._names[tid] = names[tid]

    def _used(self) -> list[tuple[str | None, float]]:
        used = [(self._names.get(tid), last - self._first[tid]) for tid, last in self._last.items()]
        return used + list(self._ended.items())

    def _left_out(self, name: str | None) -> bool:
        return name == SAMPLER_NAME or (name is not None and name in self.exclude)

    def by_role(self) -> dict[str, float]:
        """CPU seconds per role over the run; ``unaccounted`` closes the sum to the process's time.
        The sampler itself and the ``exclude``d threads are left out of both."""
        out: dict[str, float] = {}
        for name, cpu in self._used():
            if not self._left_out(name):
                out[role_of(name)] = out.get(role_of(name), 0.0) + cpu
        out[UNACCOUNTED] = max(0.0, self.process_s - self.excluded_s() - sum(out.values()))
        return out

    def excluded_s(self) -> float:
        """CPU seconds of the sampler and the excluded threads."""
        return sum(cpu for name, cpu in self._used() if self._left_out(name))
