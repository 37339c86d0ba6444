"""Grounding: every number in a summary or a chat answer must be one of the facts' numbers.

A claim is a number in the text (any run of digits, even glued to letters, ``m:ss`` times, and spelled-out numbers when a unit
follows them: "twelve reps") with the unit read from the words around it ("24 reps", "13.5 reps per
minute", "12% slower", "2.1 minutes", "round 3"). Each claim must match a `Number` of a compatible
unit: counts exactly, measures within the rounding of the digits written (``0.5`` of the last
digit, against the exact value or the one-decimal value the prompt showed) plus 0.5%. A number with no unit is accepted if it matches any fact. Digits inside the
player's name, a workout's name or a no-rep reason are ignored.

What a text is checked against is a `Grounds`: the numbers, the largest valid index after "rep",
"round"... and the names whose digits are not claims. A summary's grounds are its session's
(`Grounds.of_session`); a chat answer's are the facts chosen for its question.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

from hiitpi.coach.derived import Number, SessionNumbers

log = logging.getLogger(__name__)

#: Relative slack on measured values beyond the rounding of the digits written (float noise).
RELATIVE_TOLERANCE = 0.005

_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14,
    "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20,
    "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "hundred": 100, "a dozen": 12, "dozen": 12,
}  # fmt: skip
_WORD_RE = re.compile(
    r"\b("
    + "|".join(sorted(_WORDS, key=len, reverse=True))
    + r")(?:[- ](one|two|three|four|five|six|seven|eight|nine))?\b"
)
_DIGITS_RE = re.compile(r"(?<![0-9])(?<![0-9]\.)[-+]?([0-9]+(?:\.[0-9]+)?)(st|nd|rd|th)?(?![0-9])")
_CLOCK_RE = re.compile(r"(?<![\d.:])(\d{1,2}):([0-5]\d)(?![\d:])")

_EXERCISE = (
    r"(?:reps?|repetitions?|squats?|push[- ]?ups?|press[- ]?ups?|sit[- ]?ups?|situps?|lunges?|burpees?|"
    r"(?:jumping |plank |star )?jacks?|(?:high )?knees?|crunch(?:es)?|pull[- ]?ups?|dips?|jumps?|moves?)"
)
_ADJ = r"(?:(?:more|fewer|less|extra|good|clean|valid|counted|full|complete|total|solid|further)\s+)*"
_UNIT_PATTERNS: list[tuple[str, re.Pattern]] = [
    ("pct", re.compile(r"^\s*(?:%|percent\b|per cent\b)")),
    (
        "rpm",
        re.compile(r"^\s*(?:rpm\b|" + _ADJ + _EXERCISE + r"?\s*(?:per|/|a|an|each|every)\s*min(?:ute)?s?\b)"),
    ),
    ("no_reps", re.compile(r"^\s*" + _ADJ + r"no[- ]?reps?\b")),
    ("s", re.compile(r"^\s*(?:s|secs?|seconds?)\b")),
    ("min", re.compile(r"^\s*(?:mins?|minutes?)\b")),
    ("reps", re.compile(r"^\s*" + _ADJ + _EXERCISE + r"\b")),
    ("count", re.compile(r"^\s*" + _ADJ + r"(?:rounds?|intervals?|sets?)\b")),
    ("sessions", re.compile(r"^\s*" + _ADJ + r"(?:sessions?|workouts?)\b")),
    ("faults", re.compile(r"^\s*" + _ADJ + r"(?:form\s+)?faults?\b")),
    ("days", re.compile(r"^\s*days?\b")),
]
_INDEX_BEFORE = re.compile(r"\b(rep|round|interval|set|number|no\.)\s*#?\s*$|#\s*$")


@dataclass(slots=True)
class Claim:
    """A number found in the text, its unit and the fact it matched (None: unsourced)."""

    text: str
    value: float
    decimals: int
    unit: str | None
    start: int
    matched: str | None = None


@dataclass(frozen=True, slots=True)
class Grounds:
    """What a text may state: ``numbers`` (with units), ``index_limits`` (largest valid number
    after 'rep', 'round', 'interval', 'set') and ``names`` (player, workouts, reasons, dates as
    written in the facts) whose digits are not claims."""

    numbers: tuple[Number, ...]
    index_limits: dict[str, int] = field(default_factory=dict)
    names: frozenset[str] = frozenset()

    @classmethod
    def of_session(cls, n: SessionNumbers) -> Grounds:
        names = {n.player, n.workout, *n.no_rep_reasons, *(iv.workout for iv in n.intervals)}
        return cls(tuple(n.numbers()), n.index_limits(), frozenset(names))

    @classmethod
    def union(cls, parts: Iterable[Grounds]) -> Grounds:
        numbers: list[Number] = []
        limits: dict[str, int] = {}
        names: set[str] = set()
        for g in parts:
            numbers.extend(g.numbers)
            for k, v in g.index_limits.items():
                limits[k] = max(limits.get(k, 0), v)
            names |= g.names
        return cls(tuple(numbers), limits, frozenset(names))


@dataclass(slots=True)
class CheckResult:
    ok: bool
    claims: list[Claim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _unit_after(text: str, end: int) -> str | None:
    tail = text[end : end + 48]
    for unit, pat in _UNIT_PATTERNS:
        if pat.match(tail):
            return unit
    return None


def _index_before(text: str, start: int) -> str | None:
    m = _INDEX_BEFORE.search(text[max(0, start - 16) : start])
    if not m:
        return None
    return m.group(1) or "number"


def matches(value: float, decimals: int, num: Number) -> bool:
    """Whether a number written with ``decimals`` decimals states ``num``."""
    if num.exact:
        return decimals == 0 and value == round(num.value)
    # the text may round the exact value or the one-decimal value the prompt showed
    tol = 0.5 * 10.0**-decimals + RELATIVE_TOLERANCE * abs(num.value) + 1e-9
    return any(abs(value - ref) <= tol for ref in (num.value, round(num.value, 1)))


def _blank(text: str, needle: str) -> str:
    if not needle:
        return text
    pattern = r"(?<!\w)" + re.escape(needle) + r"(?!\w)"
    return re.sub(pattern, lambda m: " " * len(m.group(0)), text)


def extract_claims(text: str, grounds: Grounds | SessionNumbers) -> list[Claim]:
    """Every number stated in ``text``, with the unit its words give it."""
    if isinstance(grounds, SessionNumbers):
        grounds = Grounds.of_session(grounds)
    # NFKC: superscript/subscript and full-width digits become 0-9 ("²" is a 2 to a reader too)
    low = unicodedata.normalize("NFKC", text).lower().replace("\u2013", "-").replace("\u2212", "-")
    for name in sorted(grounds.names, key=len, reverse=True):  # "squat jump" before "squat"
        low = _blank(low, name.lower().replace("_", " "))
    claims: list[Claim] = []
    taken: list[tuple[int, int]] = []
    for m in _CLOCK_RE.finditer(low):
        claims.append(Claim(m.group(0), int(m.group(1)) * 60 + int(m.group(2)), 0, "s", m.start()))
        taken.append(m.span())
    for m in _DIGITS_RE.finditer(low):
        if any(a <= m.start() < b for a, b in taken):
            continue
        raw = m.group(1)
        value = float(raw)
        decimals = len(raw.split(".")[1]) if "." in raw else 0
        index = _index_before(low, m.start())
        unit = "index:" + (index or "number") if m.group(2) or index else _unit_after(low, m.end())
        claims.append(Claim(m.group(0).strip("+-"), value, decimals, unit, m.start()))
    for m in _WORD_RE.finditer(low):
        unit = _unit_after(low, m.end())
        if unit is None:  # "one thing to try" is not a claim
            continue
        value = _WORDS[m.group(1)] + (_WORDS[m.group(2)] if m.group(2) else 0)
        claims.append(Claim(m.group(0), value, 0, unit, m.start()))
    claims.sort(key=lambda c: c.start)
    return claims


def check_summary(text: str, numbers: SessionNumbers) -> CheckResult:
    """Accept ``text`` only if every number in it is one of the session's numbers."""
    return check_text(text, Grounds.of_session(numbers))


def check_text(text: str, grounds: Grounds) -> CheckResult:
    """Accept ``text`` only if every number in it is one of ``grounds``' numbers."""
    facts = list(grounds.numbers)
    limits = grounds.index_limits
    claims = extract_claims(text, grounds)
    problems: list[str] = []
    for c in claims:
        if c.unit and c.unit.startswith("index:"):
            kind = c.unit.split(":", 1)[1]
            limit = limits.get(kind, max(limits.values(), default=0))
            if kind == "number":
                limit = max(limits.values(), default=0)
            if c.decimals == 0 and 1 <= c.value <= limit:
                c.matched = f"{kind} {int(c.value)} of {limit}"
            else:
                problems.append(f"'{c.text}' is not a valid {kind} number (1..{limit})")
            continue
        pool = facts if c.unit is None else [f for f in facts if f.unit == c.unit]
        hit = next((f for f in pool if matches(c.value, c.decimals, f)), None)
        if hit is not None:
            c.matched = hit.key
            continue
        if c.unit is None:
            problems.append(f"'{c.text}' matches none of the facts' numbers")
        else:
            known = ", ".join(f"{f.key}={_fmt(f.value)}" for f in pool[:6]) or "none"
            problems.append(f"'{c.text}' ({c.unit}) matches no fact with that unit (known: {known})")
    result = CheckResult(ok=not problems, claims=claims, problems=problems)
    if problems:
        log.info("fact check rejected a text: %s", "; ".join(problems))
    return result


def _fmt(x: float) -> str:
    return str(int(x)) if math.isclose(x, round(x)) else f"{x:.2f}"
