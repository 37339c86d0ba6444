"""Choose the facts for one question: a small scoring function over named facts, within a budget.

A fact scores 2 for each of its topic words in the question and 0.5 for each weak one ("why",
"how many", "second"); a workout named in the question keeps only that workout's facts (+4), a week
named ("this week", "last week") only that week's (+3). The best facts go to the model, the
session's headline (or, on the history page, the last session) always with them, until
`MAX_FACTS` or the token budget is reached; the plain answer says the best one to three of them.
A question that matches no topic ("how did I do?") gets the headline facts and the suggestion.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

from hiitpi.coach.chatfacts import ChatContext, Fact, stem, terms, topic_set

log = logging.getLogger(__name__)

#: Facts shown to the model at most.
MAX_FACTS = 6
#: Facts a plain answer says at most.
PLAIN_MAX = 3
#: Tokens the facts may take in the prompt (TinyLlama's context is 2,048 for everything).
FACT_BUDGET_TOKENS = 420
_WORD_RE = re.compile(r"[a-z0-9]+")
#: A question that goes on from the previous one ("and last week?", "what about push-ups?").
FOLLOW_UP = re.compile(r"^\s*(?:and|also|then|so|what about|how about|same for)\b", re.I)
#: Topic words that say little about which fact is wanted.
WEAK = topic_set(
    "why how+many many much rep up down time long second first set start end take took call number "
    "result score help try change so+far week this+week last+week total"
)


_PIECE_RE = re.compile(r"[A-Za-z]+|\d+|[^\sA-Za-z\d]")


def estimate_tokens(text: str) -> int:
    """An upper estimate of the Llama tokenizer's count for ``text`` as a fact line ("- " and a
    newline included): a word is a token per 4 letters or part, every digit is one (after a
    space of its own), every punctuation mark one. A test holds it against the real tokenizer."""
    n = 2
    for m in _PIECE_RE.finditer(text):
        w = m.group(0)
        n += 1 + len(w) // 4 if w.isalpha() else len(w) + 1 if w.isdigit() else 1
    return n


def _squash(words: Sequence[str]) -> str:
    return stem("".join(words))


def mentioned_workouts(question: str, workouts: Sequence[str]) -> list[str]:
    """Workouts named in the question ("push-ups" → pushup, "jumping jacks" → jumping_jack); a
    many-word name also by its first word of five letters or more ("tabata" → tabata_squat)."""
    words = _WORD_RE.findall(question.lower().replace("-", ""))
    grams = {_squash(words[i : i + k]) for k in (1, 2, 3) for i in range(len(words) - k + 1)}
    exact, partial = [], []
    for w in workouts:
        parts = [p for p in w.lower().split("_") if p]
        if _squash(parts) in grams or "".join(parts) in grams:
            exact.append(w)
        elif len(parts) > 1 and len(parts[0]) >= 5 and stem(parts[0]) in grams:
            partial.append(w)
    return exact or partial


def question_period(t: frozenset[str]) -> str | None:
    if "last week" in t:
        return "last_week"
    if t & {"week", "weekly", "so far"}:
        return "this_week"
    return None


@dataclass(frozen=True, slots=True)
class Selection:
    """The facts for the model (best first), those a plain answer says, and whether any topic
    matched (else they are the defaults)."""

    facts: list[Fact]
    plain: list[Fact]
    matched: bool
    workouts: list[str]


def select_facts(
    question: str,
    facts: Sequence[Fact],
    ctx: ChatContext,
    *,
    previous_question: str | None = None,
    budget_tokens: int = FACT_BUDGET_TOKENS,
) -> Selection:
    """The facts that answer ``question``; ``previous_question`` lends its topic and workout to a
    follow-up ("and last week?" after "how many push-ups this week?") that names none of its own."""
    t = terms(question)
    named = mentioned_workouts(question, ctx.workouts)
    if previous_question and FOLLOW_UP.match(question):
        if not any(f.topics & t for f in facts):
            t = t | terms(previous_question)
        if not named:
            named = mentioned_workouts(previous_question, ctx.workouts)
    period = question_period(t)
    if period:  # "last week" is a week, not the last session
        t = t - {"last", "this"}
    if ctx.session is not None:
        focus = {ctx.session.workout, *(iv.workout for iv in ctx.session.intervals)}
    else:
        focus = set(ctx.workouts[:2])
    scored: list[tuple[float, int, Fact]] = []
    for order, f in enumerate(facts):
        if f.workout is not None:
            if named and f.workout not in named:
                continue
            # "no sessions of lunge" only when lunges are asked about
            if not named and (f.workout not in focus or not f.grounds.numbers):
                continue
        if period and f.period and f.period != period:
            continue
        hits = f.topics & t
        score = sum(0.5 if h in WEAK else 2.0 for h in hits)
        if score and named and f.workout in named:
            score += 4.0
        if score and period and f.period == period:
            score += 3.0
        scored.append((score, order, f))
    ranked = [f for s, _o, f in sorted((x for x in scored if x[0] > 0), key=lambda x: (-x[0], x[1]))]
    matched = bool(ranked)
    if matched:
        top = max(s for s, _o, _f in scored)
        plain = [f for s, _o, f in sorted(scored, key=lambda x: (-x[0], x[1])) if s > top / 2][:PLAIN_MAX]
    else:
        defaults = [f for _s, _o, f in scored if f.core]
        if ctx.session is not None:
            defaults += [f for _s, _o, f in scored if f.key == "session.suggestion"]
        plain = defaults[:PLAIN_MAX]
    chosen: list[Fact] = []
    used = 0
    core = [f for _s, _o, f in scored if f.core]
    for f in [*plain, *core, *ranked]:
        if f in chosen or len(chosen) >= MAX_FACTS:
            continue
        cost = estimate_tokens(f.text)
        if chosen and used + cost > budget_tokens:
            continue
        chosen.append(f)
        used += cost
    log.debug("question %r: facts %s", question, [f.key for f in chosen])
    return Selection(chosen, [f for f in plain if f in chosen], matched, named)
