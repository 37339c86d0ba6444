"""A sent video being analysed, as a load beside the live engine (`hiitpi bench pipeline --upload`).

`UploadLoad` runs the appliance's own `UploadWorker` (each video in a child process at
``[upload] nice``, its annotated video written) on a store and upload folder of its own, and keeps
its queue from running dry: whenever nothing waits, another copy of the clip is queued, so the
worker analyses without pause for as long as the load is on. ``frames`` counts the frames it
analysed, `upload_cpu_s` the CPU time of the analysis processes and of this process's threads at
the upload's niceness (the worker's; the other threads are the live engine's): sampled from /proc
every 0.1 s, so a process or thread that ends keeps what it had used at its last sample.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class UploadLoad:
    def __init__(self, settings: Any, clip: Path, *, workout: str, mode: str, session_running):
        from hiitpi.store.db import Store

        self._tmp = Path(tempfile.mkdtemp(prefix="hiitpi-bench-upload-"))
        s = settings.model_copy(deep=True)
        s.general.data_dir = self._tmp
        s.store.database = self._tmp / "bench.db"
        s.upload.dir = self._tmp / "uploads"
        s.upload.during_session = mode
        s.upload.min_free_mb = 0
        s.coach.enabled = False
        self.settings = s
        self.clip = Path(clip)
        self.workout = workout
        self.store = Store.from_settings(s)
        self.session_running = session_running
        self._worker = None
        self._feeder: threading.Thread | None = None
        self._on = threading.Event()
        self._closed = threading.Event()
        self._cpu_lock = threading.Lock()
        self._cpu_ticks: dict[str, int] = {}  # a niced thread or process → its CPU ticks, last sample

    def _queue_one(self) -> None:
        from hiitpi.offline.media import MediaDirs
        from hiitpi.store.uploads import add_upload

        token = uuid.uuid4().hex
        dest = MediaDirs.from_settings(self.settings).ensure().queue / f"{token}{self.clip.suffix}"
        shutil.copyfile(self.clip, dest)
        add_upload(
            self.store,
            token=token,
            player="bench",
            workout=self.workout,
            file_name=self.clip.name,
            stored_file=dest.name,
            size_bytes=dest.stat().st_size,
            keep_video=True,
        )
        self._worker.wake()

    def _feed(self) -> None:
        from hiitpi.store.uploads import next_queued

        while not self._closed.is_set():
            if self._on.is_set() and next_queued(self.store) is None:
                self._queue_one()
            self._sample()
            time.sleep(0.1)

    def start(self) -> None:
        from hiitpi.offline.worker import UploadWorker

        self._worker = UploadWorker(self.settings, self.store, session_running=self.session_running)
        self._worker.start()
        self._feeder = threading.Thread(target=self._feed, name="bench-upload-feeder", daemon=True)
        self._feeder.start()

    @property
    def frames(self) -> int:
        """Frames the worker has analysed so far."""
        return self._worker.frames if self._worker is not None else 0

    def upload_cpu_s(self) -> float:
        """CPU seconds the upload has used so far: its analysis processes (with what they waited
        for) and this process's threads at the upload's niceness. Linux only (0 elsewhere)."""
        self._sample()
        with self._cpu_lock:
            return sum(self._cpu_ticks.values()) / os.sysconf("SC_CLK_TCK")

    def _sample(self) -> None:
        nice = self.settings.upload.nice
        seen: dict[str, int] = {}
        try:
            tasks = os.listdir("/proc/self/task")
        except OSError:
            tasks = []
        for tid in tasks:
            fields = _stat_fields(f"/proc/self/task/{tid}/stat")
            # after the name: state(0) ... utime(11) stime(12) ... nice(16)
            if fields is not None and int(fields[16]) >= nice:
                seen[f"thread {tid}"] = int(fields[11]) + int(fields[12])
        pid = self._worker.child_pid if self._worker is not None else None
        fields = _stat_fields(f"/proc/{pid}/stat") if pid else None
        if fields is not None:  # utime, stime, cutime, cstime
            seen[f"process {pid}"] = sum(int(f) for f in fields[11:15])
        with self._cpu_lock:
            for key, ticks in seen.items():
                self._cpu_ticks[key] = max(ticks, self._cpu_ticks.get(key, 0))

    def on(self) -> None:
        self._on.set()

    def off(self) -> None:
        """Stop feeding, cancel the queue and let the running analysis finish its frame."""
        from hiitpi.store.uploads import ACTIVE, fail_upload, list_uploads

        self._on.clear()
        self._worker.stop()
        for u in list_uploads(self.store, limit=100):
            if u.status in ACTIVE:
                fail_upload(self.store, u.id, "bench round over")
        self._worker.start()

    def close(self) -> None:
        self._closed.set()
        if self._worker is not None:
            self._worker.stop()
        if self._feeder is not None:
            self._feeder.join(5)
        self.store.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


def _stat_fields(path: str) -> list[str] | None:
    """The fields of a /proc stat file after the program's name; None when it is gone."""
    try:
        with open(path) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
