"""The summaries of finished sessions, on the one coach worker: queued when a session ends, or
when a person asks for one on the session page (a recovered session has none; an old one may be
written again). Each session's last job is kept so the page can show its text as it is written.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger(__name__)

#: Jobs remembered (the newest); older ones are in the store once done.
KEEP = 16


class Summaries:
    def __init__(
        self, store: Any, worker: Any, *, titles: Callable[[str], str] | None = None, keep: int = KEEP
    ):
        self.store = store
        self.worker = worker
        self.titles = titles
        self.keep = keep
        self._jobs: dict[int, Any] = {}
        self._lock = threading.Lock()

    def request(self, session_id: int) -> Any:
        """Queue the summary of ``session_id`` (its facts read now); the job. A summary already
        being written is not queued twice. `NotFound`/`StoreError` when its facts cannot be read."""
        from hiitpi.store.coaching import session_facts, set_summary

        with self._lock:
            job = self._jobs.get(session_id)
            if job is not None and not job.done():
                return job
        facts = session_facts(self.store, session_id, self.titles)

        def save(summary) -> None:
            try:
                set_summary(self.store, session_id, summary.text, summary.kind, summary.reason)
            except Exception:
                log.exception("could not save the summary of session %s", session_id)

        job = self.worker.submit(facts, on_done=save)
        with self._lock:
            self._jobs.pop(session_id, None)
            self._jobs[session_id] = job
            while len(self._jobs) > self.keep:
                self._jobs.pop(next(iter(self._jobs)))
        log.info("summary of session %s queued", session_id)
        return job

    def snapshot(self, session_id: int) -> dict | None:
        """The job's state for the page ({"status", "text", "kind", "source", "reason"}), or None."""
        with self._lock:
            job = self._jobs.get(session_id)
        return job.snapshot().to_dict() if job is not None else None
