"""Does a summary read like the language it was asked for? The fact check (`factcheck`) looks at
numbers only; a model that writes noise — or words of three alphabets run together — passes it.

A summary is asked for in English, so it must be made of sentences (words, spaces and sentence
ends, not one endless token), written mostly in one script (Latin: at least `MIN_SCRIPT_SHARE` of
its letters), with enough of English's most common words to be English at all, and it must name
the workout and the rep count. Each failure is a problem in plain words: the regeneration is told
them, and the page says why the template was used.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

from hiitpi.coach.derived import SessionNumbers

#: Of the letters, at least this share in the expected script.
MIN_SCRIPT_SHARE = 0.9
#: Of the words, at least this share among English's common words (real summaries: 0.3 to 0.5).
MIN_COMMON_SHARE = 0.15
#: A word longer than this is not a word.
MAX_WORD = 24
#: Fewer words than this is not a summary.
MIN_WORDS = 8
EXPECTED_SCRIPT = "LATIN"

#: English's most frequent words, and the ones a workout summary uses anyway.
COMMON = frozenset(
    """a about after again all also an and any are as at be been before but by can did do does done
    down each every first for from good great had has have he her his how i if in into is it its
    just keep last less more most much my next no not now of on one or other our out over same she
    so some than that the their them then there these they this time to too try up very was way we
    well were what when which while who will with would you your reps rep session pace minute
    minutes seconds second half start end faster slower steady strong nice""".split()  # noqa: SIM905 (a word list reads better as text)
)
_WORD_RE = re.compile(r"[^\W\d_]+(?:['’-][^\W\d_]+)*")
_NUMBER_WORDS = {
    1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven", 8: "eight", 9: "nine",
    10: "ten", 11: "eleven", 12: "twelve", 13: "thirteen", 14: "fourteen", 15: "fifteen", 16: "sixteen",
    17: "seventeen", 18: "eighteen", 19: "nineteen", 20: "twenty",
}  # fmt: skip


def script_of(ch: str) -> str | None:
    """The Unicode script of a letter, from its name (``LATIN``, ``CYRILLIC``, ``CJK``...)."""
    if not ch.isalpha():
        return None
    try:
        return unicodedata.name(ch).split(" ", 1)[0]
    except ValueError:
        return "UNKNOWN"


def workout_words(workout: str) -> set[str]:
    """Words that name a workout in a text: 'Tabata squats' → tabata, squat, squats."""
    out: set[str] = set()
    for w in re.split(r"[\s_\-]+", workout.lower()):
        if len(w) >= 3:
            out |= {w, w.rstrip("s"), w + "s"}
    return out


def check_language(text: str, numbers: SessionNumbers) -> list[str]:
    """What is wrong with ``text`` as an English summary of ``numbers`` ([] when nothing)."""
    problems: list[str] = []
    letters = [s for s in map(script_of, text) if s is not None]
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if len(words) < MIN_WORDS:
        return [f"it is not a summary: {len(words)} words"]
    if letters:
        share = Counter(letters)[EXPECTED_SCRIPT] / len(letters)
        if share < MIN_SCRIPT_SHARE:
            scripts = ", ".join(s.title() for s, _ in Counter(letters).most_common(3))
            problems.append(f"it mixes alphabets ({scripts}) instead of plain English")
    tokens = text.split()
    if any(len(t.strip(".,;:!?\"'()")) > MAX_WORD for t in tokens):
        problems.append("it has runs of letters too long to be words")
    if not re.search(r"[A-Za-z][^.!?]*[.!?](\s|$)", text):
        problems.append("it has no sentence that ends")
    common = sum(w in COMMON for w in words) / len(words)
    if common < MIN_COMMON_SHARE:
        problems.append("it does not read as English")
    lowered = set(words)
    if not (workout_words(numbers.workout) & lowered):
        problems.append(f"it does not name the workout ({numbers.workout})")
    if numbers.reps > 0:
        said = re.search(rf"(?<![\d.]){numbers.reps}(?![\d])", text) or (
            _NUMBER_WORDS.get(numbers.reps, "\0") in lowered
        )
        if not said:
            problems.append(f"it does not give the rep count ({numbers.reps})")
    return problems
