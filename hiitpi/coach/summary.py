"""Write one session summary: the model first, checked against the facts, the template otherwise.

The flow, under one time limit for the whole job:

1. facts → `SessionNumbers` → chat messages (facts as JSON) → the model, streaming tokens out;
2. the text is fact-checked (its numbers) and language-checked (English sentences in one script
   that name the workout and the rep count: `hiitpi.coach.language`); a failure is regenerated once
   (told what was wrong);
3. a second failure, a missing or broken model file, or the time limit → the template summary.

Every outcome is a `Summary` whose ``kind`` is ``"model"`` or ``"template"`` and whose ``reason``
says why the template was used. Callers that show the text as it is written pass ``on_event``.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from hiitpi.coach.checked import (
    MAX_ATTEMPTS,
    Attempt,
    CoachEvent,
    EventCallback,
    clean_text,
    generate_checked,
)
from hiitpi.coach.derived import SessionNumbers, derive
from hiitpi.coach.factcheck import CheckResult, check_summary
from hiitpi.coach.facts import SessionFacts
from hiitpi.coach.language import check_language
from hiitpi.coach.llm import DEFAULT_CTX
from hiitpi.coach.model import SharedModel
from hiitpi.coach.prompt import build_messages
from hiitpi.coach.template import template_summary

log = logging.getLogger(__name__)

__all__ = [
    "MAX_ATTEMPTS",
    "MODEL_NAME",
    "Attempt",
    "Coach",
    "CoachEvent",
    "EventCallback",
    "Summary",
    "clean_text",
    "resolve_model_path",
]

SummaryKind = Literal["model", "template"]
#: Manifest name of the default model file.
MODEL_NAME = "tinyllama"


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


class Coach:
    """Writes summaries with one model file; safe to reuse. Without a shared ``model`` it loads
    the file only while writing; with one (`SharedModel`, also lent to the chat) it uses that."""

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
        model: SharedModel | None = None,
    ):
        self.model = model or SharedModel(
            model_path, threads=threads, n_ctx=n_ctx, nice=nice, missing_reason=missing_reason
        )
        self.max_tokens = max_tokens
        self.timeout_s = timeout_s
        self.temperature = temperature
        #: further llama.cpp sampling options (top_k, repeat_penalty, logit_bias...)
        self.sampling = dict(sampling or {})

    @property
    def model_path(self) -> Path | None:
        return self.model.path

    @classmethod
    def from_settings(
        cls, settings, model_path: str | Path | None = None, *, model: SharedModel | None = None
    ) -> Coach:
        """The coach the settings describe; ``model_path`` overrides [coach] model_path; ``model``
        is the process's shared model (else one released after each summary)."""
        c = settings.coach
        return cls(
            None,
            max_tokens=c.max_tokens,
            timeout_s=c.timeout_s,
            model=model or SharedModel.from_settings(settings, model_path, keep=False),
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
        numbers = derive(facts)
        emit = on_event or (lambda _e: None)
        run = generate_checked(
            self.model,
            lambda problems: build_messages(numbers, problems=problems),
            lambda text: check_summary_text(text, numbers),
            emit=emit,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=lambda n: (1000 * facts.session_id + n) % 2**31,
            deadline=t0 + self.timeout_s,
            timeout_s=self.timeout_s,
            cancel=cancel,
            sampling=self.sampling,
        )
        if run.text is not None:
            return self._finish(facts, "model", run.text, None, run.attempts, t0, emit)
        log.warning("session %s: template summary (%s)", facts.session_id, run.reason)
        text = template_summary(numbers)
        n = len(run.attempts) + 1
        emit(CoachEvent("start", n, "template"))
        emit(CoachEvent("token", n, "template", text))
        return self._finish(facts, "template", text, run.reason, run.attempts, t0, emit)

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
            model=self.model.name,
            attempts=attempts,
            elapsed_s=time.monotonic() - t0,
            created_at=datetime.now(UTC),
        )
        emit(CoachEvent("done", len(attempts) + (kind == "template"), kind, text, summary, summary))
        log.info(
            "session %s: %s summary in %.1f s after %d model attempt(s)",
            facts.session_id,
            kind,
            summary.elapsed_s,
            len(attempts),
        )
        return summary


#: How a language problem is marked among the fact check's (the regeneration is told which is which).
LANGUAGE = "language: "


def check_summary_text(text: str, numbers: SessionNumbers) -> CheckResult:
    """The fact check (every number one of the facts') and the language check, as one result."""
    result = check_summary(text, numbers)
    lang = check_language(text, numbers)
    if lang:
        log.info("language check rejected a text: %s", "; ".join(lang))
        result.ok = False
        result.problems.extend(LANGUAGE + p for p in lang)
    return result


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
