"""The coach in the background: one worker thread, one job at a time, never on the caller's thread.

Two kinds of job share the worker and its one loaded model (`hiitpi.coach.model.SharedModel`): a
session's summary (`SummaryJob`, queued by the engine when a session ends) and a chat answer
(`ChatJob`, queued by the page or the command line). Either keeps a live ``snapshot()`` of its
text, hands every event to its callbacks, and keeps the events in order so a stream (Server-Sent
Events, sync ``events()`` or async ``aevents()``) can follow it from any point. When no job has
come for ``[coach] keep_loaded_s``, or a session starts on a device that must not share its CPU,
the worker frees the model.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from hiitpi.coach.chat import ChatAnswer, ChatCoach, Turn
from hiitpi.coach.chatfacts import ChatContext, Fact
from hiitpi.coach.checked import CoachEvent, EventCallback
from hiitpi.coach.facts import SessionFacts
from hiitpi.coach.summary import Coach, Summary

log = logging.getLogger(__name__)

#: How often the idle worker looks whether to free the model (seconds).
IDLE_CHECK_S = 1.0
BUSY_QUEUE_ANSWER = "The coach is busy with other questions: try again in a minute."


@dataclass(slots=True)
class JobSnapshot:
    """The state of one job as a page shows it: the text so far and which kind it is."""

    session_id: int | None
    status: str  # queued | running | done | failed
    source: str | None = (
        None  # model | template | plain | refusal | medical | busy (of the text being written)
    )
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
    """One job for the worker. Thread-safe: poll ``snapshot()``, follow ``events()``, block on
    ``wait()``, or ``cancel()``. ``result`` is the final `Summary` or `ChatAnswer`."""

    def __init__(
        self,
        session_id: int | None,
        *,
        on_event: EventCallback | None = None,
        on_done: Callable[[Any], None] | None = None,
    ):
        self.on_event = on_event
        self.on_done = on_done
        self.cancelled = threading.Event()
        self._done = threading.Event()
        self._cond = threading.Condition()
        self._events: list[CoachEvent] = []
        self._snap = JobSnapshot(session_id=session_id, status="queued")
        self.result: Any = None
        self.error: BaseException | None = None

    def snapshot(self) -> JobSnapshot:
        with self._cond:
            s = self._snap
            return JobSnapshot(
                s.session_id, s.status, s.source, s.attempt, s.text, s.kind, s.reason, list(s.discarded)
            )

    def cancel(self) -> None:
        self.cancelled.set()

    def wait(self, timeout: float | None = None) -> Any:
        self._done.wait(timeout)
        return self.result

    @property
    def done(self) -> bool:
        return self._done.is_set()

    # --- following the events -------------------------------------------------------------

    def _batch(self, start: int) -> tuple[bool, list[CoachEvent]]:
        with self._cond:
            finished = self._done.is_set()  # read first: once done, every event is in the list
            return finished, self._events[start:]

    def events(
        self, start: int = 0, *, keepalive_s: float = 10.0, stop: Callable[[], bool] = lambda: False
    ) -> Iterator[tuple[int, CoachEvent] | None]:
        """(index, event) from ``start`` on, as they come, until the job is done (its result
        stored); None every ``keepalive_s`` without news; ends early when ``stop()``."""
        i = start
        while True:
            with self._cond:
                if i >= len(self._events) and not self._done.is_set():
                    self._cond.wait(keepalive_s)
            finished, batch = self._batch(i)
            for ev in batch:
                yield i, ev
                i += 1
            if finished:
                return
            if stop():
                return
            if not batch:
                yield None

    async def aevents(
        self,
        start: int = 0,
        *,
        keepalive_s: float = 10.0,
        poll_s: float = 0.05,
        stop: Callable[[], bool] = lambda: False,
    ) -> AsyncIterator[tuple[int, CoachEvent] | None]:
        """`events` for an event loop: polls (no thread held while waiting)."""
        i, idle = start, 0.0
        while True:
            finished, batch = self._batch(i)
            for ev in batch:
                yield i, ev
                i += 1
            if finished or stop():
                return
            if batch:
                idle = 0.0
                continue
            await asyncio.sleep(poll_s)
            idle += poll_s
            if idle >= keepalive_s:
                idle = 0.0
                yield None

    # --- running --------------------------------------------------------------------------

    def _event(self, ev: CoachEvent) -> None:
        with self._cond:
            s = self._snap
            if ev.kind == "start":
                s.status, s.source, s.attempt, s.text = "running", ev.source, ev.attempt, ""
            elif ev.kind == "token":
                s.text += ev.text
            elif ev.kind == "discard":
                s.discarded.append(ev.text)
                s.text = ""
            elif ev.kind == "done":
                result = ev.result if ev.result is not None else ev.summary
                s.status, s.kind, s.text = "done", ev.source, ev.text
                s.reason = getattr(result, "reason", None)
            self._events.append(ev)
            self._cond.notify_all()
        if self.on_event is not None:
            try:
                self.on_event(ev)
            except Exception:
                log.exception("coach event callback failed (%s)", self.label)

    @property
    def label(self) -> str:
        return f"session {self._snap.session_id}"

    def work(self) -> Any:
        raise NotImplementedError

    def _run(self) -> None:
        self._execute(self.work)

    def _execute(self, work: Callable[[], Any]) -> None:
        try:
            self.result = work()
        except Exception as exc:  # a bug must not kill the worker; the page shows 'failed'
            log.exception("coach job (%s) failed", self.label)
            self.error = exc
            with self._cond:
                self._snap.status, self._snap.reason = "failed", f"{type(exc).__name__}: {exc}"
                self._events.append(CoachEvent("failed", 0, "error", "the coach failed; see the log"))
        else:
            if self.on_done is not None:
                try:
                    self.on_done(self.result)
                except Exception:
                    log.exception("coach on_done failed (%s)", self.label)
        finally:
            self._finish()

    def _finish(self) -> None:
        with self._cond:
            self._done.set()
            self._cond.notify_all()


class SummaryJob(CoachJob):
    """A session's summary."""

    def __init__(self, coach: Coach, facts: SessionFacts, **kw):
        super().__init__(facts.session_id, **kw)
        self.coach = coach
        self.facts = facts

    @property
    def summary(self) -> Summary | None:
        return self.result

    def work(self) -> Summary:
        return self.coach.summarize(self.facts, on_event=self._event, cancel=self.cancelled)


class ChatJob(CoachJob):
    """One question's answer (``answer`` when done)."""

    def __init__(
        self,
        chat: ChatCoach,
        question: str,
        ctx: ChatContext,
        facts: Sequence[Fact],
        *,
        turns: Sequence[Turn] = (),
        busy: Callable[[], bool] = lambda: False,
        **kw,
    ):
        super().__init__(ctx.session.session_id if ctx.session else None, **kw)
        self.chat = chat
        self.question = question
        self.ctx = ctx
        self.facts = facts
        self.turns = list(turns)
        self.busy = busy

    @property
    def answer(self) -> ChatAnswer | None:
        return self.result

    @property
    def label(self) -> str:
        return f"question {self.question[:40]!r}"

    def work(self) -> ChatAnswer:
        return self.chat.answer(
            self.question,
            self.ctx,
            self.facts,
            turns=self.turns,
            on_event=self._event,
            cancel=self.cancelled,
            busy=self.busy,
        )

    def finish_now(self, answer: ChatAnswer) -> ChatJob:
        """Complete with ``answer`` on the caller's thread (one that needs no model: refusal, busy...)."""
        self._execute(lambda: answer)
        return self


class CoachWorker:
    """A daemon thread that runs queued summaries and chat answers one after another (a supervised part)."""

    name = "coach"

    def __init__(
        self,
        coach: Coach,
        *,
        chat: ChatCoach | None = None,
        max_queue: int = 8,
        busy: Callable[[], bool] = lambda: False,
    ):
        self.coach = coach
        self.chat = chat or ChatCoach(coach.model)
        self.busy = busy
        self._queue: queue.Queue[CoachJob | None] = queue.Queue(maxsize=max_queue)
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._current: CoachJob | None = None

    @classmethod
    def from_settings(cls, settings, *, session_running: Callable[[], bool] = lambda: False) -> CoachWorker:
        """The worker ``[coach]`` describes: one model, kept ``keep_loaded_s``, for both jobs."""
        from hiitpi.coach.busy import board_model, busy_probe, describe_policy
        from hiitpi.coach.model import SharedModel

        model = SharedModel.from_settings(settings)
        policy = settings.coach.chat_during_session
        board = board_model()
        log.info("coach: %s", describe_policy(policy, board))
        return cls(
            Coach.from_settings(settings, model=model),
            chat=ChatCoach.from_settings(settings, model),
            busy=busy_probe(policy, session_running, board),
        )

    @property
    def model(self):
        return self.coach.model

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
    ) -> SummaryJob:
        """Queue a summary and return at once. A full queue drops the job (logged, status failed)."""
        job = SummaryJob(self.coach, facts, on_event=on_event, on_done=on_done)
        if not self._put(job):
            log.warning("coach queue full: no summary for session %s", facts.session_id)
            job._snap.status, job._snap.reason = "failed", "coach queue full"
            job._finish()
        return job

    def ask(
        self,
        question: str,
        ctx: ChatContext,
        facts: Sequence[Fact],
        *,
        turns: Sequence[Turn] = (),
        on_event: EventCallback | None = None,
        on_done: Callable[[ChatAnswer], None] | None = None,
    ) -> ChatJob:
        """Queue a question and return at once. Refusals, medical questions and "busy" are
        answered at once on the caller's thread (they need no model, so they never wait)."""
        job = ChatJob(
            self.chat, question, ctx, facts, turns=turns, busy=self.busy, on_event=on_event, on_done=on_done
        )
        fixed = self.chat.triage(question, ctx, facts, turns=turns, busy=self.busy, on_event=job._event)
        if fixed is not None:
            return job.finish_now(fixed)
        if not self._put(job):
            log.warning("coach queue full: question %r answered 'busy'", question[:40])
            return job.finish_now(self.chat.fixed_answer(question, "busy", BUSY_QUEUE_ANSWER, job._event))
        return job

    def _put(self, job: CoachJob) -> bool:
        self.start()
        try:
            self._queue.put_nowait(job)
        except queue.Full:
            return False
        return True

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._queue.get(timeout=IDLE_CHECK_S)
            except queue.Empty:
                self._idle()
                continue
            if job is None:
                break
            self._current = job
            job._run()
            self._current = None
        self.model.close()

    def _idle(self) -> None:
        try:
            busy = self.busy()
        except Exception:
            busy = False
        self.model.release_if_idle(force=busy)

    def stop(self, timeout: float = 10.0) -> None:
        """Cancel the running job, drop queued ones, free the model, and join the thread."""
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
                job._finish()
        try:
            self._queue.put_nowait(None)
        except queue.Full:
            pass
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        else:
            self.model.close()
