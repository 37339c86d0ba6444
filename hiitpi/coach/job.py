"""Summaries in the background: one worker thread, one summary at a time, never on the caller's thread.

The engine calls ``worker.submit(facts)`` when a session ends and goes on; the worker writes the
summary (one model in memory at a time — a Pi 4 with 2 GB has room for one), keeps a live
``snapshot()`` of the text for the page, hands every event to the job's callbacks and, through
``on_done``, the final `Summary` to whoever stores it.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from hiitpi.coach.facts import SessionFacts
from hiitpi.coach.summary import Coach, CoachEvent, EventCallback, Summary

log = logging.getLogger(__name__)


@dataclass(slots=True)
class JobSnapshot:
    """The state of one job as a page shows it: the text so far and which kind it is."""

    session_id: int
    status: str  # queued | running | done | failed
    source: str | None = None  # model | template (of the text being written)
    attempt: int = 0
    text: str = ""
    kind: str | None = None  # final kind, when done
    reason: str | None = None
    discarded: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "session_id": self.session_id,
            "status": self.status,
            "source": self.source,
            "attempt": self.attempt,
            "text": self.text,
            "kind": self.kind,
            "reason": self.reason,
            "discarded": list(self.discarded),
        }


class CoachJob:
    """One summary to write. Thread-safe: poll ``snapshot()``, block on ``wait()``, or ``cancel()``."""

    def __init__(
        self,
        facts: SessionFacts,
        *,
        on_event: EventCallback | None = None,
        on_done: Callable[[Summary], None] | None = None,
    ):
        self.facts = facts
        self.on_event = on_event
        self.on_done = on_done
        self.cancelled = threading.Event()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._snap = JobSnapshot(session_id=facts.session_id, status="queued")
        self.summary: Summary | None = None
        self.error: BaseException | None = None

    def snapshot(self) -> JobSnapshot:
        with self._lock:
            s = self._snap
            return JobSnapshot(
                s.session_id, s.status, s.source, s.attempt, s.text, s.kind, s.reason, list(s.discarded)
            )

    def cancel(self) -> None:
        self.cancelled.set()

    def wait(self, timeout: float | None = None) -> Summary | None:
        self._done.wait(timeout)
        return self.summary

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def _event(self, ev: CoachEvent) -> None:
        with self._lock:
            s = self._snap
            if ev.kind == "start":
                s.status, s.source, s.attempt, s.text = "running", ev.source, ev.attempt, ""
            elif ev.kind == "token":
                s.text += ev.text
            elif ev.kind == "discard":
                s.discarded.append(ev.text)
                s.text = ""
            elif ev.kind == "done" and ev.summary is not None:
                s.status, s.kind, s.reason, s.text = (
                    "done",
                    ev.summary.kind,
                    ev.summary.reason,
                    ev.summary.text,
                )
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:
                log.exception("coach event callback failed (session %s)", self.facts.session_id)

    def _run(self, coach: Coach) -> None:
        try:
            self.summary = coach.summarize(self.facts, on_event=self._event, cancel=self.cancelled)
        except Exception as exc:  # a bug must not kill the worker; the page shows 'failed'
            log.exception("coach job for session %s failed", self.facts.session_id)
            self.error = exc
            with self._lock:
                self._snap.status, self._snap.reason = "failed", f"{type(exc).__name__}: {exc}"
        else:
            if self.on_done is not None:
                try:
                    self.on_done(self.summary)
                except Exception:
                    log.exception("coach on_done failed (session %s)", self.facts.session_id)
        finally:
            self._done.set()


class CoachWorker:
    """A daemon thread that writes queued summaries one after another (a supervised part)."""

    name = "coach"

    def __init__(self, coach: Coach, *, max_queue: int = 8):
        self.coach = coach
        self._queue: queue.Queue[CoachJob | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._current: CoachJob | None = None

    def start(self) -> CoachWorker:
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="coach", daemon=True)
            self._thread.start()
        return self

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self):
        from hiitpi.health import PartHealth

        data = {"queued": self._queue.qsize(), "writing": self._current is not None}
        if not self.alive():
            return PartHealth(False, "the coach thread is not running", data)
        return PartHealth(True, "writing a summary" if self._current is not None else "idle", data)

    def submit(
        self,
        facts: SessionFacts,
        *,
        on_event: EventCallback | None = None,
        on_done: Callable[[Summary], None] | None = None,
    ) -> CoachJob:
        """Queue a summary and return at once. A full queue drops the job (logged, status failed)."""
        self.start()
        job = CoachJob(facts, on_event=on_event, on_done=on_done)
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            log.warning("coach queue full: no summary for session %s", facts.session_id)
            job._snap.status, job._snap.reason = "failed", "coach queue full"
            job._done.set()
        return job

    def _loop(self) -> None:
        while not self._stop.is_set():
            job = self._queue.get()
            if job is None:
                break
            self._current = job
            job._run(self.coach)
            self._current = None

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running job, drop queued ones, and join the thread."""
        self._stop.set()
        if self._current is not None:
            self._current.cancel()
        while True:
            try:
                job = self._queue.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                job.cancel()
                job._done.set()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
