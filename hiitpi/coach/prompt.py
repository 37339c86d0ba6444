"""The chat messages for the model: instructions plus the session's facts as JSON.

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
    user = f"Facts of the session (JSON):\n{facts}\n\nWrite the summary now."
    if problems:
        user += (
            "\n\nA previous draft was rejected because it stated numbers that are not in the facts: "
            + "; ".join(p.split(" (known:")[0] for p in problems[:5])
            + ". Use only the numbers in the facts."
        )
    return [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}]
