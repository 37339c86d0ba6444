"""Model text that must pass the fact check: one attempt, one regeneration told what was wrong, or a
fallback reason. The summary and the chat both write through `generate_checked`.

Events go out as the text is written (`CoachEvent`): ``start`` (an attempt begins; ``source`` is
``model``, or the fallback's kind), ``token`` (append ``text``), ``discard`` (drop the attempt's
text; ``text`` says why), ``done`` (``result`` is the final `Summary` or `ChatAnswer`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from hiitpi.coach.factcheck import CheckResult
from hiitpi.coach.llm import CoachModelError, CoachProcessDied, GenerationCancelled, GenerationTimeout
from hiitpi.coach.model import SharedModel

log = logging.getLogger(__name__)

EventKind = Literal["start", "token", "discard", "done"]
#: How many model attempts before the fallback (the first plus one regeneration).
MAX_ATTEMPTS = 2


@dataclass(slots=True)
class CoachEvent:
    """One step of a text being written; see the module docstring. ``summary`` is the final
    `Summary` of a summary job (``result`` holds it too), ``result`` a chat's `ChatAnswer`."""

    kind: EventKind
    attempt: int
    source: str
    text: str = ""
    summary: Any = None
    result: Any = None


EventCallback = Callable[[CoachEvent], None]


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
class Checked:
    """The accepted ``text``, or None with the ``reason`` to fall back; every attempt made."""

    text: str | None
    reason: str | None
    attempts: list[Attempt]


def generate_checked(
    model: SharedModel,
    messages: Callable[[list[str] | None], list[dict[str, str]]],
    check: Callable[[str], CheckResult],
    *,
    emit: EventCallback,
    max_tokens: int,
    temperature: float,
    seed: Callable[[int], int],
    deadline: float,
    timeout_s: float,
    cancel: threading.Event | None = None,
    sampling: dict | None = None,
) -> Checked:
    """Write with the model until ``check`` accepts the text (at most `MAX_ATTEMPTS` tries).

    ``messages(problems)`` builds the prompt; ``problems`` are the last attempt's rejected numbers
    (None the first time). Never raises for what a model file or llama.cpp can do wrong: the
    reason comes back instead.
    """
    attempts: list[Attempt] = []
    if model.path is None:
        return Checked(None, model.missing_reason or "no model file configured", attempts)
    problems: list[str] | None = None
    with model.use() as runner:
        for n in range(1, MAX_ATTEMPTS + 1):
            emit(CoachEvent("start", n, "model"))
            try:
                gen = runner.generate(
                    messages(problems),
                    max_tokens=max_tokens,
                    temperature=temperature,
                    seed=seed(n),
                    on_token=lambda piece, n=n: emit(CoachEvent("token", n, "model", piece)),
                    deadline=deadline,
                    cancel=cancel,
                    sampling=sampling,
                )
            except CoachProcessDied as exc:  # llama.cpp crashed in its own process: this job only
                attempts.append(Attempt(n, "", False, error=str(exc)))
                emit(CoachEvent("discard", n, "model", "the model's process ended"))
                return Checked(None, str(exc), attempts)
            except CoachModelError as exc:
                attempts.append(Attempt(n, "", False, error=str(exc)))
                emit(CoachEvent("discard", n, "model", "model failed to load"))
                return Checked(None, f"model failed to load: {exc}", attempts)
            except GenerationTimeout as exc:
                attempts.append(Attempt(n, exc.partial, False, error=str(exc)))
                emit(CoachEvent("discard", n, "model", "time limit reached"))
                return Checked(None, f"time limit of {timeout_s:g} s reached ({exc})", attempts)
            except GenerationCancelled:
                attempts.append(Attempt(n, "", False, error="cancelled"))
                emit(CoachEvent("discard", n, "model", "cancelled"))
                return Checked(None, "cancelled", attempts)
            except (ValueError, RuntimeError) as exc:  # e.g. a prompt longer than the context
                log.exception("the model failed while writing")
                attempts.append(Attempt(n, "", False, error=str(exc)))
                emit(CoachEvent("discard", n, "model", "model error"))
                return Checked(None, f"model error: {exc}", attempts)
            text = clean_text(gen.text)
            result = check(text)
            problems = result.problems if text else ["the model wrote nothing"]
            ok = bool(text) and result.ok
            attempts.append(Attempt(n, text, ok, problems, gen.stats.to_dict()))
            if ok:
                return Checked(text, None, attempts)
            emit(CoachEvent("discard", n, "model", "; ".join(problems)))
    return Checked(
        None,
        f"the model's text failed the fact check {MAX_ATTEMPTS} times (last: {'; '.join(problems or [])})",
        attempts,
    )


def clean_text(text: str) -> str:
    """The model's text without chat-template leftovers and surrounding whitespace."""
    for marker in ("<|user|>", "<|system|>", "<|assistant|>", "</s>"):
        text = text.split(marker, 1)[0]
    return " ".join(text.split())
