"""The messages for the model: a summary's (instructions plus the session's facts as JSON) and a
chat answer's (instructions, the facts chosen for the question as sentences, the last turns, the
question).

The messages are rendered into tokens by llama.cpp with the chat template stored in the GGUF
(TinyLlama's ``<|system|> ... </s><|user|> ... </s><|assistant|>``), so the same code works for any
chat model whose file carries its template.
"""

from __future__ import annotations

import json
import logging

from hiitpi.coach.derived import SessionNumbers

log = logging.getLogger(__name__)

SYSTEM = (
    "You are a friendly, encouraging fitness coach. You write a short summary of one workout "
    "session for the person who did it. Write 3 to 6 sentences of plain prose, no lists or "
    "headings. Say what was done, how the pace and the rep timing changed from the first half to "
    "the second half, and end with one concrete suggestion for next time. Use only numbers that "
    "appear in the facts, written as they appear there; never invent numbers, targets, dates or "
    "calories. If a fact is missing, do not mention it."
)


def build_messages(numbers: SessionNumbers, *, problems: list[str] | None = None) -> list[dict[str, str]]:
    """System + user messages for one summary. ``problems`` (from a rejected draft) are named
    in the request so the second try avoids them."""
    facts = json.dumps(numbers.to_prompt_dict(), ensure_ascii=False)
    user = f"Facts of the session (JSON):\n{facts}\n\nWrite the summary now." + rejection_note(problems)
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]


def rejection_note(problems: list[str] | None) -> str:
    """What a regeneration is told about what its previous draft got wrong ("" the first time):
    numbers not in the facts, or ("language: ...") text that was not a plain English summary."""
    if not problems:
        return ""
    language = [p.split(": ", 1)[1] for p in problems if p.startswith("language: ")]
    numbers = [p for p in problems if not p.startswith("language: ")]
    note = ""
    if numbers:
        note += (
            "\n\nA previous draft was rejected because it stated numbers that are not in the facts: "
            + "; ".join(p.split(" (known:")[0] for p in numbers[:5])
            + ". Use only the numbers in the facts."
        )
    if language:
        note += (
            "\n\nA previous draft was rejected because it was not a plain English summary: "
            + "; ".join(language[:5])
            + ". Write plain English sentences that name the workout and say how many reps were done."
        )
    return note


CHAT_SYSTEM = (
    "You are a friendly fitness coach on a home workout device. Answer the person's question about "
    "their training in 1 to 3 short sentences of plain prose, speaking to them as 'you'. Use only the "
    "facts given with the question and only numbers that appear in them, written as they appear "
    "there; never invent numbers, dates or calories. If the facts do not answer the question, say "
    "so in one sentence. Never give medical advice."
)
#: Earlier question/answer pairs shown with a question (for follow-ups).
CHAT_TURNS = 2


def build_chat_messages(
    question: str,
    facts: list[str],
    *,
    turns: list[tuple[str, str]] = (),
    problems: list[str] | None = None,
) -> list[dict[str, str]]:
    """System, the last `CHAT_TURNS` (question, answer) pairs, then the facts and the question."""
    messages = [{"role": "system", "content": CHAT_SYSTEM}]
    for q, a in list(turns)[-CHAT_TURNS:]:
        messages += [{"role": "user", "content": q}, {"role": "assistant", "content": a}]
    lines = "\n".join(f"- {f}" for f in facts)
    user = f"Facts:\n{lines}\n\nQuestion: {question}" + rejection_note(problems)
    messages.append({"role": "user", "content": user})
    return messages
