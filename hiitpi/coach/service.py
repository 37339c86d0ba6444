"""Asking the coach, for the page and the command line: a conversation's facts from the store, the
answer from the coach's worker (the one that writes summaries), the exchange saved.

    service = ChatService(store, worker, known_workouts=lambda: names)
    job_id, job = service.ask(Conversation.of_session(12), "Did I slow down?")  # returns at once
    for item in job.events(): ...     # the answer as it is written (the SSE route wraps this)
    service.messages(conv); service.clear(conv); service.suggestions(conv)

A "busy" answer is shown but not kept; every other answer is saved with the question, its kind,
its reason and the keys of the facts it used.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from datetime import datetime

from hiitpi.coach.chat import ChatAnswer, clean_question
from hiitpi.coach.chatfacts import ChatContext, all_facts, title
from hiitpi.coach.job import ChatJob, CoachWorker
from hiitpi.store.chat import (
    ChatMessageRow,
    Conversation,
    add_message,
    check_conversation,
    clear_conversation,
    conversation_messages,
)
from hiitpi.store.coaching import chat_context, chat_turns
from hiitpi.store.db import Store

log = logging.getLogger(__name__)

#: Answers a page can still follow by id (the newest).
JOBS_KEPT = 32


class ChatService:
    def __init__(
        self,
        store: Store,
        worker: CoachWorker,
        *,
        known_workouts: Callable[[], Sequence[str]] = tuple,
        now: Callable[[], datetime | None] = lambda: None,
    ):
        self.store = store
        self.worker = worker
        self.known_workouts = known_workouts
        self.now = now
        self._jobs: OrderedDict[str, ChatJob] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, conv: Conversation) -> ChatContext:
        return chat_context(self.store, conv, now=self.now(), known_workouts=self.known_workouts())

    def ask(
        self, conv: Conversation, question: str, *, save: bool = True, on_event=None
    ) -> tuple[str, ChatJob]:
        """Queue ``question`` (refusals and "busy" are answered at once); returns (job id, job).
        `InputError` for an empty or too long question, `NotFound` for an unknown conversation."""
        question = clean_question(question)
        ctx = self.context(conv)
        turns = chat_turns(self.store, conv)
        job = self.worker.ask(
            question,
            ctx,
            all_facts(ctx),
            turns=turns,
            on_event=on_event,
            on_done=(lambda answer: self._save(conv, answer)) if save else None,
        )
        job_id = secrets.token_urlsafe(9)
        with self._lock:
            self._jobs[job_id] = job
            while len(self._jobs) > JOBS_KEPT:
                self._jobs.popitem(last=False)
        return job_id, job

    def job(self, job_id: str) -> ChatJob | None:
        with self._lock:
            return self._jobs.get(job_id)

    def _save(self, conv: Conversation, answer: ChatAnswer) -> None:
        if answer.kind == "busy":
            return
        add_message(self.store, conv, "user", answer.question)
        add_message(
            self.store,
            conv,
            "coach",
            answer.text,
            kind=answer.kind,
            reason=answer.reason,
            facts=answer.fact_keys,
        )

    def messages(self, conv: Conversation) -> list[ChatMessageRow]:
        check_conversation(self.store, conv)
        return conversation_messages(self.store, conv)

    def clear(self, conv: Conversation) -> int:
        check_conversation(self.store, conv)
        return clear_conversation(self.store, conv)

    def suggestions(self, conv: Conversation) -> list[str]:
        return suggested_questions(self.context(conv))


def suggested_questions(ctx: ChatContext) -> list[str]:
    """A few questions the facts can answer, for the buttons under the chat."""
    s = ctx.session
    if s is not None:
        out = ["How many reps did I do?"]
        if s.no_reps:
            out.append("Why did some attempts not count?")
        if len(s.intervals) > 1:
            out.append("Which round was my best?")
        else:
            out.append("Did I slow down?")
        out += ["What should I work on next time?", "How does this compare with my last session?"]
        return out
    out = ["How many reps did I do this week?"]
    if ctx.history.recent:
        w = title(ctx.history.recent[0].workout)
        out += [f"What is my best {w}?", f"How did my last {w} sessions go?"]
    out.append("How many sessions did I do last week?")
    return out
