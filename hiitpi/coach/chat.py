"""Answer one question about a session or a player's history, never with a number the facts lack.

The flow, under one time limit (``timeout_s``) for the model's part:

1. the question's scope (`hiitpi.coach.scope`): medical → "see a professional"; not about
   training → a polite refusal; both fixed texts, no model;
2. while a session runs on a device too small to share its CPU (`hiitpi.coach.busy`) → "busy";
3. the facts for the question (`hiitpi.coach.retrieve`) → the model, streaming, fact-checked
   against exactly those facts (and those of the earlier turns it was shown); a wrong number is
   regenerated once (`hiitpi.coach.checked`), then
4. replaced by the plain answer: the chosen facts' own sentences.

Every outcome is a `ChatAnswer` whose ``kind`` says which it is (model, plain, refusal, medical,
busy) and, for a plain answer, a ``reason`` saying why the model's was not used.
"""

from __future__ import annotations

import logging
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from hiitpi.coach.chatfacts import ChatContext, Fact
from hiitpi.coach.checked import Attempt, CoachEvent, EventCallback, generate_checked
from hiitpi.coach.factcheck import Grounds, check_text
from hiitpi.coach.model import SharedModel
from hiitpi.coach.prompt import CHAT_TURNS, build_chat_messages
from hiitpi.coach.retrieve import mentioned_workouts, select_facts
from hiitpi.coach.scope import MEDICAL_ANSWER, REFUSAL_ANSWER, classify
from hiitpi.errors import InputError

log = logging.getLogger(__name__)

ChatKind = Literal["model", "plain", "refusal", "medical", "busy"]
#: The longest question taken (characters).
QUESTION_MAX = 300
BUSY_ANSWER = "The coach is busy while a session runs on this device: try again after your session."
CANCELLED_FOR_SESSION = "a session started, so the coach stopped to leave the device to it"


def clean_question(question: object) -> str:
    """The question as asked, whitespace tidied; `InputError` when it is empty or too long."""
    if not isinstance(question, str) or not question.strip():
        raise InputError("the question is empty", "type a question, e.g. 'How many reps did I do?'")
    q = " ".join(question.split())
    if len(q) > QUESTION_MAX:
        raise InputError(
            f"the question is {len(q)} characters long", f"ask in at most {QUESTION_MAX} characters"
        )
    return q


@dataclass(slots=True)
class Turn:
    """An earlier question and its answer, with the keys of the facts the answer used."""

    question: str
    answer: str
    facts: Sequence[str] = ()


@dataclass(slots=True)
class ChatAnswer:
    question: str
    kind: ChatKind
    text: str
    reason: str | None
    facts: list[Fact] = field(default_factory=list)
    attempts: list[Attempt] = field(default_factory=list)
    model: str | None = None
    elapsed_s: float = 0.0

    @property
    def fact_keys(self) -> list[str]:
        return [f.key for f in self.facts]

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "kind": self.kind,
            "text": self.text,
            "reason": self.reason,
            "facts": [f.to_dict() for f in self.facts],
            "attempts": [
                {
                    "number": a.number,
                    "text": a.text,
                    "accepted": a.accepted,
                    "problems": a.problems,
                    "stats": a.stats,
                    "error": a.error,
                }
                for a in self.attempts
            ],
            "model": self.model,
            "elapsed_s": round(self.elapsed_s, 3),
        }


NO_FACTS_ANSWER = (
    "I have no numbers about that yet: ask about your reps, no-reps, pace and rep timing, your weekly "
    "totals or your bests."
)


def plain_answer(facts: Sequence[Fact]) -> str:
    """The chosen facts' own sentences (so every number in it is one of theirs)."""
    return " ".join(f.text for f in facts) or NO_FACTS_ANSWER


_KIND_LABELS = {
    "model": "Coach · every number checked against your sessions",
    "plain": "Plain answer from your numbers",
    "refusal": "Outside what the coach covers",
    "medical": "Please see a professional",
    "busy": "Coach busy",
}
_PLAIN_WHY = (
    ("the model's text failed the fact check", "the coach's answer had a number that is not in your data"),
    ("time limit", "the coach ran out of time"),
    ("cancelled", "the answer was stopped"),
    ("model error", "the coach model failed"),
)


def kind_label(kind: str | None, reason: str | None = None) -> str:
    """What the page shows above an answer: which kind it is and, for a plain one, why, in words."""
    label = _KIND_LABELS.get(kind or "", "Coach")
    if kind == "plain" and reason:
        why = next((w for prefix, w in _PLAIN_WHY if reason.startswith(prefix)), None)
        label += f" ({why or 'the coach model is not available on this device'})"
    return label


class ChatCoach:
    """Answers questions with the process's `SharedModel` (the one the summaries use)."""

    def __init__(
        self,
        model: SharedModel,
        *,
        max_tokens: int = 160,
        timeout_s: float = 90.0,
        temperature: float = 0.3,
        sampling: dict | None = None,
    ):
        self.model = model
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.temperature = temperature
        #: further llama.cpp sampling options (top_k, repeat_penalty, grammar...)
        self.sampling = dict(sampling or {})

    @classmethod
    def from_settings(cls, settings, model: SharedModel) -> ChatCoach:
        c = settings.coach
        return cls(model, max_tokens=c.chat_max_tokens, timeout_s=c.chat_timeout_s)

    def triage(
        self,
        question: str,
        ctx: ChatContext,
        facts: Sequence[Fact],
        *,
        turns: Sequence[Turn] = (),
        busy: Callable[[], bool] = lambda: False,
        on_event: EventCallback | None = None,
    ) -> ChatAnswer | None:
        """The answer when it needs no model (medical, refusal, busy), else None. `InputError`
        for an empty or too long question."""
        question = clean_question(question)
        emit = on_event or (lambda _e: None)
        scope = classify(
            question,
            facts,
            workouts_mentioned=bool(mentioned_workouts(question, ctx.workouts)),
            previous_answered=bool(turns),
        )
        if scope == "medical":
            return self.fixed_answer(question, "medical", MEDICAL_ANSWER, emit)
        if scope == "refusal":
            return self.fixed_answer(question, "refusal", REFUSAL_ANSWER, emit)
        if busy():
            return self.fixed_answer(question, "busy", BUSY_ANSWER, emit)
        return None

    def answer(
        self,
        question: str,
        ctx: ChatContext,
        facts: Sequence[Fact],
        *,
        turns: Sequence[Turn] = (),
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> ChatAnswer:
        """Answer ``question`` from ``facts`` (all of ``ctx``'s); blocking, so run it on the coach's
        worker. ``busy()`` true means a session runs where the coach must not compete for the CPU:
        checked first and while the model writes (the answer is then stopped)."""
        t0 = time.monotonic()
        emit = on_event or (lambda _e: None)
        turns = list(turns)
        fixed = self.triage(question, ctx, facts, turns=turns, busy=busy, on_event=on_event)
        if fixed is not None:
            return fixed
        question = clean_question(question)
        sel = select_facts(question, facts, ctx, previous_question=turns[-1].question if turns else None)
        by_key = {f.key: f for f in facts}
        shown = turns[-CHAT_TURNS:]
        seen = [by_key[k] for t in shown for k in t.facts if k in by_key]
        grounds = Grounds.union(f.grounds for f in [*sel.facts, *seen])
        watcher = _BusyWatcher(busy, cancel)
        try:
            run = generate_checked(
                self.model,
                lambda problems: build_chat_messages(
                    question,
                    [f.text for f in sel.facts],
                    turns=[(t.question, t.answer) for t in shown],
                    problems=problems,
                ),
                lambda text: check_text(text, grounds),
                emit=emit,
                max_tokens=self.max_tokens,
                temperature=self.temperature,
                seed=lambda n: (zlib.crc32(question.encode()) + n) % 2**31,
                deadline=t0 + self.timeout_s,
                timeout_s=self.timeout_s,
                cancel=watcher.event,
                sampling=self.sampling,
            )
        finally:
            watcher.stop()
        if run.text is not None:
            return self._finish(question, "model", run.text, None, sel.facts, run.attempts, t0, emit)
        if watcher.fired:
            return self.fixed_answer(
                question, "busy", BUSY_ANSWER, emit, CANCELLED_FOR_SESSION, run.attempts, t0=t0
            )
        reason = run.reason
        log.debug("question %r: plain answer (%s)", question, reason)
        text = plain_answer(sel.plain)
        n = len(run.attempts) + 1
        emit(CoachEvent("start", n, "plain"))
        emit(CoachEvent("token", n, "plain", text))
        return self._finish(question, "plain", text, reason, sel.plain, run.attempts, t0, emit)

    def fixed_answer(
        self,
        question: str,
        kind: ChatKind,
        text: str,
        emit: EventCallback,
        reason: str | None = None,
        attempts: list[Attempt] | None = None,
        *,
        t0: float | None = None,
    ) -> ChatAnswer:
        """An answer that is a fixed text (refusal, medical, busy), streamed as one piece."""
        n = len(attempts or []) + 1
        emit(CoachEvent("start", n, kind))
        emit(CoachEvent("token", n, kind, text))
        t0 = time.monotonic() if t0 is None else t0
        return self._finish(question, kind, text, reason, [], attempts or [], t0, emit)

    def _finish(
        self,
        question: str,
        kind: ChatKind,
        text: str,
        reason: str | None,
        facts: list[Fact],
        attempts: list[Attempt],
        t0: float,
        emit: EventCallback,
    ) -> ChatAnswer:
        answer = ChatAnswer(
            question, kind, text, reason, list(facts), attempts, self.model.name, time.monotonic() - t0
        )
        emit(CoachEvent("done", len(attempts) + (kind != "model"), kind, text, result=answer))
        log.info("chat: %s answer in %.1f s after %d model attempt(s)", kind, answer.elapsed_s, len(attempts))
        return answer


class _BusyWatcher:
    """Sets ``event`` when ``busy()`` turns true (polled twice a second) or ``cancel`` is set."""

    def __init__(self, busy: Callable[[], bool], cancel: threading.Event | None):
        self.event = threading.Event()
        self.fired = False
        self._busy = busy
        self._cancel = cancel
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="coach-chat-busy", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(0.5):
            if self._cancel is not None and self._cancel.is_set():
                self.event.set()
                return
            try:
                if self._busy():
                    self.fired = True
                    self.event.set()
                    return
            except Exception:  # a probe that fails must not stop the answer
                log.debug("busy probe failed", exc_info=True)

    def stop(self) -> None:
        self._done.set()
        self._thread.join(1.0)
