"""Write one session summary: the model first, checked against the facts, the template otherwise.

The flow, under one time limit for the whole job:

1. facts → `SessionNumbers` → chat messages (facts as JSON) → the model, streaming tokens out;
2. the text is fact-checked; a failure is regenerated once (told which numbers were wrong);
3. a second failure, a missing or broken model file, or the time limit → the template summary.

Every outcome is a `Summary` whose ``kind`` is ``"model"`` or ``"template"`` and whose ``reason``
says why the template was used. Callers that show the text as it is written pass ``on_event``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from hiitpi.coach.derived import SessionNumbers, derive
from hiitpi.coach.factcheck import check_summary
from hiitpi.coach.facts import SessionFacts
from hiitpi.coach.llm import (
    DEFAULT_CTX,
    GenerationCancelled,
    GenerationTimeout,
    LlamaRunner,
    ModelLoadError,
    llama_cpp_missing,
)
from hiitpi.coach.prompt import build_messages
from hiitpi.coach.template import template_summary

log = logging.getLogger(__name__)

SummaryKind = Literal["model", "template"]
EventKind = Literal["start", "token", "discard", "done"]
#: Manifest name of the default model file.
MODEL_NAME = "tinyllama"
#: How many model attempts before the template (the first plus one regeneration).
MAX_ATTEMPTS = 2


@dataclass(slots=True)
class Attempt:
    """One model attempt: its text, whether the fact check accepted it, and its timings."""

    number: int
    text: str
    accepted: bool
    problems: list[str] = field(default_factory=list)
    stats: dict | None = None
    error: str | None = None


@dataclass(slots=True)
class Summary:
    session_id: int
    kind: SummaryKind
    text: str
    reason: str | None
    model: str | None
    attempts: list[Attempt]
    elapsed_s: float
    created_at: datetime

    def to_dict(self) -> dict:
        d = asdict(self)
        d["created_at"] = self.created_at.isoformat()
        return d


@dataclass(slots=True)
class CoachEvent:
    """What a live view needs: ``start`` (an attempt begins; ``source`` model/template),
    ``token`` (text to append), ``discard`` (drop the attempt's text; ``text`` = why),
    ``done`` (``summary`` is final)."""

    kind: EventKind
    attempt: int
    source: SummaryKind
    text: str = ""
    summary: Summary | None = None


EventCallback = Callable[[CoachEvent], None]


class Coach:
    """Writes summaries with one model file; safe to reuse, loads the model only while writing."""

    def __init__(
        self,
        model_path: str | Path | None,
        *,
        threads: int = 2,
        max_tokens: int = 220,
        timeout_s: float = 120.0,
        temperature: float = 0.4,
        nice: int = 10,
        missing_reason: str | None = None,
        sampling: dict | None = None,
        n_ctx: int = DEFAULT_CTX,
    ):
        self.model_path = Path(model_path) if model_path else None
        self.threads = threads
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.temperature = temperature
        self.nice = nice
        self.missing_reason = missing_reason
        #: further llama.cpp sampling options (top_k, repeat_penalty, logit_bias...)
        self.sampling = dict(sampling or {})
        self.n_ctx = n_ctx

    @classmethod
    def from_settings(cls, settings, model_path: str | Path | None = None) -> Coach:
        """The coach the settings describe; ``model_path`` overrides [coach] model_path.

        Without llama-cpp-python (an install with --no-coach) there is no model to run: every
        summary is the template, with that reason."""
        missing = llama_cpp_missing()
        path, missing = (None, missing) if missing else resolve_model_path(settings, model_path)
        c = settings.coach
        return cls(
            path,
            threads=c.threads,
            max_tokens=c.max_tokens,
            timeout_s=c.timeout_s,
            nice=c.nice,
            missing_reason=missing,
        )

    def summarize(
        self,
        facts: SessionFacts,
        *,
        on_event: EventCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> Summary:
        """Write the summary of ``facts`` (blocking; run it in a `CoachWorker` to stay off the engine)."""
        t0 = time.monotonic()
        deadline = t0 + self.timeout_s
        numbers = derive(facts)
        emit = on_event or (lambda _e: None)
        attempts: list[Attempt] = []

        def template(reason: str) -> Summary:
            log.warning("session %s: template summary (%s)", facts.session_id, reason)
            text = template_summary(numbers)
            n = len(attempts) + 1
            emit(CoachEvent("start", n, "template"))
            emit(CoachEvent("token", n, "template", text))
            return self._finish(facts, "template", text, reason, attempts, t0, emit)

        if self.model_path is None:
            return template(self.missing_reason or "no model file configured")
        runner = LlamaRunner(self.model_path, n_threads=self.threads, n_ctx=self.n_ctx, nice=self.nice)
        problems: list[str] | None = None
        try:
            for n in range(1, MAX_ATTEMPTS + 1):
                emit(CoachEvent("start", n, "model"))
                messages = build_messages(numbers, problems=problems)
                try:
                    gen = runner.generate(
                        messages,
                        max_tokens=self.max_tokens,
                        temperature=self.temperature,
                        seed=(1000 * facts.session_id + n) % 2**31,
                        on_token=lambda piece, n=n: emit(CoachEvent("token", n, "model", piece)),
                        deadline=deadline,
                        cancel=cancel,
                        sampling=self.sampling,
                    )
                except ModelLoadError as exc:
                    attempts.append(Attempt(n, "", False, error=str(exc)))
                    emit(CoachEvent("discard", n, "model", "model failed to load"))
                    return template(f"model failed to load: {exc}")
                except GenerationTimeout as exc:
                    attempts.append(Attempt(n, exc.partial, False, error=str(exc)))
                    emit(CoachEvent("discard", n, "model", "time limit reached"))
                    return template(f"time limit of {self.timeout_s:g} s reached ({exc})")
                except GenerationCancelled:
                    attempts.append(Attempt(n, "", False, error="cancelled"))
                    emit(CoachEvent("discard", n, "model", "cancelled"))
                    return template("cancelled")
                except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context
                    log.exception("session %s: the model failed while writing", facts.session_id)
                    attempts.append(Attempt(n, "", False, error=str(exc)))
                    emit(CoachEvent("discard", n, "model", "model error"))
                    return template(f"model error: {exc}")
                text = clean_text(gen.text)
                check = check_summary(text, numbers)
                problems = check.problems if text else ["the model wrote nothing"]
                ok = bool(text) and check.ok
                attempts.append(Attempt(n, text, ok, problems, gen.stats.to_dict()))
                if ok:
                    return self._finish(facts, "model", text, None, attempts, t0, emit)
                emit(CoachEvent("discard", n, "model", "; ".join(problems)))
            return template(
                f"the model's text failed the fact check {MAX_ATTEMPTS} times (last: {'; '.join(problems or [])})"
            )
        finally:
            runner.close()

    def _finish(
        self,
        facts: SessionFacts,
        kind: SummaryKind,
        text: str,
        reason: str | None,
        attempts: list[Attempt],
        t0: float,
        emit: EventCallback,
    ) -> Summary:
        summary = Summary(
            session_id=facts.session_id,
            kind=kind,
            text=text,
            reason=reason,
            model=self.model_path.name if self.model_path else None,
            attempts=attempts,
            elapsed_s=time.monotonic() - t0,
            created_at=datetime.now(UTC),
        )
        emit(CoachEvent("done", len(attempts) + (kind == "template"), kind, text, summary))
        log.info(
            "session %s: %s summary in %.1f s after %d model attempt(s)",
            facts.session_id,
            kind,
            summary.elapsed_s,
            len(attempts),
        )
        return summary


def clean_text(text: str) -> str:
    """The model's text without chat-template leftovers and surrounding whitespace."""
    for marker in ("<|user|>", "<|system|>", "<|assistant|>", "</s>"):
        text = text.split(marker, 1)[0]
    return " ".join(text.split())


def summarize_numbers(numbers: SessionNumbers) -> str:
    """The template summary for already derived numbers (what the page shows before a job runs)."""
    return template_summary(numbers)


def resolve_model_path(settings, override: str | Path | None = None) -> tuple[Path | None, str | None]:
    """(path, None) for the model file to use, or (None, reason) when there is none.

    Order: ``override`` (--model), [coach] model_path, then the manifest's ``tinyllama`` file in
    the model folder or the mirror. A path that does not exist is returned as is: loading it
    fails with a message saying so, and the template is used with that reason.
    """
    if override:
        return Path(override), None
    if settings.coach.model_path:
        return Path(settings.coach.model_path), None
    from hiitpi.modelfiles import ModelMissingError, ModelStore

    try:
        return ModelStore(settings).path(MODEL_NAME), None
    except KeyError:
        return None, f"no '{MODEL_NAME}' entry in the model manifest; set [coach] model_path"
    except ModelMissingError as exc:
        return None, f"model file missing: {exc}"
