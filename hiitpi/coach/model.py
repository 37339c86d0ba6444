"""The one loaded model of a process, shared by the summary and the chat.

Both run on the coach's one worker thread (`hiitpi.coach.job.CoachWorker`), so one runner serves
them in turn — a `hiitpi.coach.isolated.ProcessRunner`: llama.cpp in a child process, so a crash in
it costs a summary (written from the template instead), never the engine's session. It is loaded by the first job that needs it, kept while questions keep coming
(``keep_s`` seconds after the last use, so a follow-up question does not load ~670 MB again and
reuses the prompt prefix already in llama.cpp's cache), then released so the memory goes back to
the engine. ``keep_s = 0`` releases it after every use (the command line, and the summary before
the chat existed); releasing it stops the child.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from hiitpi.coach.isolated import ProcessRunner
from hiitpi.coach.llm import DEFAULT_CTX

log = logging.getLogger(__name__)


class SharedModel:
    """One GGUF file, loaded on first use; ``use()`` lends the runner to one job at a time."""

    def __init__(
        self,
        path: str | Path | None,
        *,
        threads: int = 2,
        n_ctx: int = DEFAULT_CTX,
        nice: int = 10,
        keep_s: float = 0.0,
        missing_reason: str | None = None,
    ):
        self.path = Path(path) if path else None
        self.threads = threads
        self.n_ctx = n_ctx
        self.nice = nice
        self.keep_s = keep_s
        #: why there is no file (when ``path`` is None): said in the template/plain answer's reason
        self.missing_reason = missing_reason
        self._lock = threading.Lock()
        self._runner: ProcessRunner | None = None
        self._last_used = 0.0

    @classmethod
    def from_settings(
        cls, settings, model_path: str | Path | None = None, *, keep: bool = True
    ) -> SharedModel:
        """The model [coach] describes; ``model_path`` overrides [coach] model_path; ``keep`` False
        releases it after each use (a one-shot command). Without llama-cpp-python (an install with
        --no-coach) there is no model to run: no path, and that is the reason."""
        from hiitpi.coach.llm import llama_cpp_missing
        from hiitpi.coach.summary import resolve_model_path

        missing = llama_cpp_missing()
        path, missing = (None, missing) if missing else resolve_model_path(settings, model_path)
        c = settings.coach
        return cls(
            path,
            threads=c.threads,
            nice=c.nice,
            keep_s=c.keep_loaded_s if keep else 0.0,
            missing_reason=missing,
        )

    @property
    def name(self) -> str | None:
        return self.path.name if self.path else None

    @property
    def loaded(self) -> bool:
        return self._runner is not None and self._runner.loaded

    @contextmanager
    def use(self) -> Iterator[ProcessRunner]:
        """The runner for one job (loading happens on its first ``generate``)."""
        if self.path is None:
            raise ValueError("no model file: check `path` before using the model")
        with self._lock:
            if self._runner is None:
                self._runner = ProcessRunner(
                    self.path, n_threads=self.threads, n_ctx=self.n_ctx, nice=self.nice
                )
            try:
                yield self._runner
            finally:
                self._last_used = time.monotonic()
                if self.keep_s <= 0:
                    self._close_locked()

    def release_if_idle(self, *, force: bool = False) -> bool:
        """Free the model when unused for ``keep_s`` (or now, with ``force``); True if it was freed."""
        if not self.loaded or not self._lock.acquire(blocking=False):
            return False
        try:
            if force or time.monotonic() - self._last_used >= self.keep_s:
                log.info("coach model idle: releasing %s", self.name)
                self._close_locked()
                return True
            return False
        finally:
            self._lock.release()

    def close(self) -> None:
        with self._lock:
            self._close_locked()

    def _close_locked(self) -> None:
        if self._runner is not None:
            self._runner.close()
            self._runner = None
