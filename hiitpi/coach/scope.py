"""Which questions the coach answers: training and health basics yes; medical questions get "see a
professional"; anything else a short, polite refusal. Keyword rules over stemmed words, checked
in this order:

1. a medical word (pain, injury, medication, a condition...) → ``medical``;
2. a task that is not coaching (a poem, a story, code, a translation) → ``refusal``; an off-topic
   word (weather, news, recipe...) and no training word → ``refusal``;
3. a training word, a fact's specific topic (pace, no-rep, timing...) or a workout's name → ``answer``;
4. a general word ("improve", "best", "how did I do") said about oneself (I, my, me) → ``answer``;
5. a short follow-up ("why?", "and the second half?") to an answered question → ``answer``;
6. anything else → ``refusal``.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Literal

from hiitpi.coach.chatfacts import Fact, terms, topic_set

log = logging.getLogger(__name__)

Scope = Literal["answer", "medical", "refusal"]

MEDICAL = topic_set(
    "pain painful hurt ache aching injury injure injured sprain sprained torn swollen swelling dizzy "
    "faint numb tingling chest+pain medication medicine meds pill pills drug ibuprofen paracetamol "
    "painkiller doctor diagnose diagnosis medical asthma diabetes diabetic arthritis pregnant pregnancy "
    "surgery operation illness sick disease fracture broken+bone concussion migraine blood+pressure "
    "heart+attack heart+condition health+condition physio physiotherapist symptom"
)
OFF_TOPIC = topic_set(
    "weather rain capital country president election politics news stock stocks bitcoin crypto "
    "movie film song music lyrics recipe cook cooking homework math password wifi"
)
#: Things to write or do that are not coaching, whatever they are about.
TASKS = topic_set("poem story joke essay song lyrics translate translation code python javascript rap haiku")
TRAINING = topic_set(
    "train training exercise workout fitness fit muscle strength strong cardio hiit stamina endurance "
    "form technique coach gym movement squat pushup push+up situp sit+up lunge burpee jack plank "
    "rep norep no+rep interval round tabata pace warm stretch rest recovery sleep water hydrate "
    "breathe breathing calorie"
)
#: Topic words too common to make a question about training on their own.
GENERIC = topic_set(
    "up down start end time long help try change many much how+many best number result score call "
    "wrong why fail take took last before first second set top most max ever week this+week "
    "last+week total record better work+on should next+time focus tip advice improve compare "
    "usually half drop finish quick so+far break daily every+day often fast slow faster slower "
    "speed do did go went done perform performance progress session history previous recent when"
)
PERSONAL = topic_set("i my me mine we our us myself")
#: A follow-up is at most this many words.
FOLLOW_UP_WORDS = 5

MEDICAL_ANSWER = (
    "I can't help with pain, injuries, medication or health conditions: please see a professional, "
    "such as a doctor or a physiotherapist. If something hurts, stop the exercise."
)
REFUSAL_ANSWER = (
    "Sorry, I can only help with your training: your reps, no-reps, pace and rep timing, your "
    "history and bests, and basic training tips."
)


def classify(
    question: str,
    facts: Iterable[Fact],
    *,
    workouts_mentioned: bool = False,
    previous_answered: bool = False,
) -> Scope:
    """``answer``, ``medical`` or ``refusal`` for ``question`` (see the module docstring)."""
    t = terms(question)
    if t & MEDICAL:
        return "medical"
    topics = frozenset().union(*(f.topics for f in facts))
    strong = (t & TRAINING) or (t & (topics - GENERIC)) or workouts_mentioned
    if t & TASKS or (t & OFF_TOPIC and not strong):
        return "refusal"
    if strong:
        return "answer"
    if t & GENERIC and t & PERSONAL:
        return "answer"
    if previous_answered and len(question.split()) <= FOLLOW_UP_WORDS:
        return "answer"
    return "refusal"
