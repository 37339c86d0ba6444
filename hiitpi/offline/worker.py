"""The analysis of sent videos, in the background: one thread, one video at a time, at a lower
priority than the live engine (a supervised part: ``start``/``stop``/``alive``/``health``).

The queue is the store's (`hiitpi.store.uploads`): the worker takes the oldest waiting upload,
runs it through `hiitpi.offline.ingest.ingest_video` (the path `hiitpi analyze --save` takes) and
marks it done with its session, or failed with the message the page shows. The sent file is
deleted when its analysis ends, whatever the outcome; a stop in the middle puts the upload back in
the queue and keeps its file, so a restart loses nothing.

A live session always wins the CPU: each video is analysed in a child process at ``[upload]
nice`` (`hiitpi.offline.child`: its own Python lock, its own priority; this thread, which only
relays frames and writes to the store, is niced too), and with ``[upload] during_session =
"pause"`` (the default) it waits between two frames while someone trains in front of the camera.
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from hiitpi.errors import HiitpiError
from hiitpi.health import PartHealth
from hiitpi.offline.analyze import AnalysisCancelled

log = logging.getLogger(__name__)

#: How often progress is written to the store (seconds), and how often a paused worker looks again.
PROGRESS_EVERY_S = 1.0
PAUSE_POLL_S = 0.25
IDLE_WAIT_S = 5.0


def lower_thread_priority(nice: int) -> bool:
    """Raise the calling thread's niceness to ``nice`` (Linux: per thread; threads it starts
    inherit it). False when the system refused."""
    if nice <= 0:
        return True
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, max(os.getpriority(os.PRIO_PROCESS, tid), nice))
        return True
    except (OSError, AttributeError) as exc:
        log.warning("could not lower the upload analysis' priority: %s", exc)
        return False


class UploadWorker:
    name = "uploads"

    def __init__(
        self,
        settings: Any,
        store: Any,
        *,
        session_running: Callable[[], bool] = lambda: False,
        on_stored: Callable[[int], None] | None = None,
    ):
        self.settings = settings
        self.store = store
        self.session_running = session_running
        self.on_stored = on_stored
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._tidied = False
        self.current: dict | None = None  # the upload being analysed: token, progress, paused
        self.analysed = 0
        self.failed = 0
        self.frames = 0  # frames analysed since the worker was made
        self.child_pid: int | None = None  # the process analysing the current upload
        self.last_error: str | None = None

    # -- the part contract --------------------------------------------------------------------

    def start(self) -> UploadWorker:
        from hiitpi.offline.media import tidy
        from hiitpi.store.uploads import requeue_interrupted

        if self._thread is not None and self._thread.is_alive():
            return self
        requeue_interrupted(self.store)
        if not self._tidied:  # once per process: later an upload may be streaming into incoming/
            tidy(self.store, self.settings)
            self._tidied = True
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="uploads", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.error("the upload analysis did not stop within %.0f s", timeout)
            self._thread = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self) -> PartHealth:
        from hiitpi.store.errors import StoreError
        from hiitpi.store.uploads import ACTIVE, list_uploads

        try:
            waiting = sum(1 for u in list_uploads(self.store, limit=200) if u.status in ACTIVE)
        except StoreError:
            waiting = None
        cur = self.current
        data = {
            "waiting": waiting,
            "analysed": self.analysed,
            "failed": self.failed,
            "frames": self.frames,
            "current": cur,
        }
        if not self.alive():
            return PartHealth(False, "the upload analysis thread is not running", data)
        if cur is None:
            return PartHealth(True, "idle", data)
        state = "paused while a live session runs" if cur.get("paused") else f"{cur['progress']:.0%}"
        return PartHealth(True, f"analysing {cur['file_name']} ({state})", data)

    # -- the page's side ------------------------------------------------------------------------

    def wake(self) -> None:
        """A new upload is queued: look now rather than at the next idle check."""
        self._wake.set()

    # -- the thread -----------------------------------------------------------------------------

    def _loop(self) -> None:
        from hiitpi.store.errors import StoreError
        from hiitpi.store.uploads import next_queued

        lower_thread_priority(self.settings.upload.nice)
        while not self._stop.is_set():
            try:
                job = next_queued(self.store)
            except StoreError as exc:
                log.error("upload queue unreadable: %s", exc)
                job = None
            if job is None:
                self._wake.wait(IDLE_WAIT_S)
                self._wake.clear()
                continue
            self._run(job)

    def _run(self, job) -> None:
        from hiitpi.offline.child import analyze_in_child
        from hiitpi.offline.ingest import ingest_video
        from hiitpi.offline.media import MediaDirs
        from hiitpi.store.uploads import (
            fail_upload,
            finish_upload,
            forget_file,
            requeue_interrupted,
            start_upload,
        )

        path = MediaDirs.from_settings(self.settings).queue / (job.stored_file or "")
        start_upload(self.store, job.id)
        self.current = {"token": job.token, "file_name": job.file_name, "progress": 0.0, "paused": False}
        log.info("analysing upload %s (%s) for %s, %s", job.token, job.file_name, job.player, job.workout)
        t0 = time.monotonic()
        keep_file = False
        try:
            if not job.stored_file or not path.is_file():
                raise HiitpiError("the sent file is missing from the upload folder: send it again")
            got = ingest_video(
                path,
                self.settings,
                self.store,
                player=job.player,
                workout=job.workout,
                file_name=job.file_name,
                keep_video=job.keep_video,
                received_at=job.created_at,
                token=job.token,
                on_frame=self._frame_hook(job),
                analyze=functools.partial(
                    analyze_in_child, nice=self.settings.upload.nice, on_start=self._child_started
                ),
            )
        except AnalysisCancelled:
            keep_file = True  # a stop, not a failure: the next start analyses it again
            requeue_interrupted(self.store)
            log.info("upload %s: analysis stopped; it stays in the queue", job.token)
        except HiitpiError as exc:
            self.failed += 1
            self.last_error = exc.message
            msg = exc.message + (f" ({exc.hint})" if exc.hint else "")
            log.warning("upload %s refused: %s", job.token, msg)
            fail_upload(self.store, job.id, msg)
        except Exception as exc:  # a bug or a broken decoder: the page says so; the worker goes on
            self.failed += 1
            self.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("upload %s: the analysis failed", job.token)
            fail_upload(self.store, job.id, f"the analysis failed ({type(exc).__name__}); see the log")
        else:
            self.analysed += 1
            r = got.result
            log.info(
                "upload %s → session %s: %d reps, %d no-reps in %.1f s (%.1f s of video)",
                job.token,
                got.session_id,
                r.reps,
                r.no_reps,
                time.monotonic() - t0,
                r.duration_s,
            )
            finish_upload(self.store, job.id, session_id=got.session_id, notes=got.notes)
            if self.on_stored is not None:
                try:
                    self.on_stored(got.session_id)
                except Exception:
                    log.exception("after upload %s: the session's follow-up failed", job.token)
        finally:
            self.current = None
            self.child_pid = None
            if not keep_file:
                path.unlink(missing_ok=True)
                if job.stored_file:
                    forget_file(self.store, job.id)

    def _child_started(self, pid: int) -> None:
        self.child_pid = pid
        if self.current is not None:
            self.current["pid"] = pid

    def _frame_hook(self, job) -> Callable[[int, int], None]:
        from hiitpi.store.uploads import set_progress

        last = [0.0]
        pause = self.settings.upload.during_session == "pause"
        cur = self.current

        def hook(done: int, total: int) -> None:
            self.frames += 1
            if self._stop.is_set():
                raise AnalysisCancelled("hiitpi is stopping")
            if pause and self.session_running():
                cur["paused"] = True
                set_progress(self.store, job.id, cur["progress"], "paused while a live session runs")
                log.info("upload %s paused: a live session is running", job.token)
                while self.session_running():
                    if self._stop.wait(PAUSE_POLL_S):
                        raise AnalysisCancelled("hiitpi is stopping")
                cur["paused"] = False
                log.info("upload %s resumed", job.token)
                last[0] = 0.0
            now = time.monotonic()
            if now - last[0] >= PROGRESS_EVERY_S:
                last[0] = now
                cur["progress"] = min(0.99, done / total) if total else 0.0
                set_progress(self.store, job.id, cur["progress"])

        return hook
