"""The facts a chat answer may use: named sentences the appliance computes, each with its numbers.

A `Fact` is one or two sentences ("Your pace dropped from 22 reps per minute in the first half to
18.6 in the second (15% slower).") with the `Grounds` of the numbers it states, the question words
(``topics``) it answers, and the workout and week it is about. The model is shown the facts chosen
for a question (`hiitpi.coach.retrieve`); a plain answer *is* those sentences; the fact check
accepts exactly their numbers.

The registry is a list of functions, one per kind of fact. Adding a fact is one entry::

    @fact_source
    def similarity(ctx: ChatContext) -> Iterator[Fact]:
        s = ctx.session
        if s is None or s.similarity is None:       # where the facts have no such number
            return
        yield ctx.fact(
            "session.similarity",
            f"Your reps matched the reference movement by {s.similarity:.0f}% on average.",
            [Number("similarity_pct", s.similarity, "pct")],
            topics="similar similarity score match reference technique form",
        )
"""

from __future__ import annotations

import dataclasses
import itertools
import logging
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property

from hiitpi.coach.derived import Number, SessionNumbers, derive
from hiitpi.coach.factcheck import Grounds, check_text, matches
from hiitpi.coach.facts import HistoryFacts, PastSession, SessionFacts
from hiitpi.coach.template import (
    fmt_duration,
    fmt_num,
    fmt_secs,
    intervals_sentence,
    pace_sentence,
    plural,
    record_sentence,
    suggestion_sentence,
    timing_sentence,
    what_sentence,
)

log = logging.getLogger(__name__)


def stem(word: str) -> str:
    """A crude English stem, the same for questions and topics: squats→squat, counted→count."""
    for suffix, repl in (("ies", "y"), ("ing", ""), ("ed", ""), ("es", "e"), ("s", "")):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3 and not word.endswith("ss"):
            return word[: len(word) - len(suffix)] + repl
    return word


def terms(text: str) -> frozenset[str]:
    """The stemmed words of ``text`` and its two-word phrases ("no rep", "last week")."""
    words = [stem(w) for w in re.findall(r"[a-z]+", text.lower())]
    return frozenset(words) | frozenset(f"{a} {b}" for a, b in itertools.pairwise(words))


def topic_set(words: str) -> frozenset[str]:
    """Topics written as one string: single words and ``+``-joined phrases ("no+rep last+week")."""
    out = set()
    for w in words.split():
        out.add(" ".join(stem(p) for p in w.lower().split("+")))
    return frozenset(out)


@dataclass(frozen=True, slots=True)
class Fact:
    """One named fact: its sentence(s), what it states, what questions it answers."""

    key: str
    text: str
    grounds: Grounds
    topics: frozenset[str]
    #: the workout (or program) it is about; None: the session as a whole, or all workouts
    workout: str | None = None
    #: "this_week" / "last_week" for weekly totals
    period: str | None = None
    #: worth saying even when no topic matches (the session's headline, the last session)
    core: bool = False

    def to_dict(self) -> dict:
        return {"key": self.key, "text": self.text}


@dataclass
class ChatContext:
    """What a conversation is about: a session (with the player's history) or a player's history."""

    history: HistoryFacts
    session: SessionFacts | None = None
    #: workout and program names this appliance knows (to spot one in a question)
    known_workouts: Sequence[str] = ()

    @property
    def player(self) -> str:
        return self.history.player

    @cached_property
    def numbers(self) -> SessionNumbers | None:
        return derive(self.session) if self.session is not None else None

    @cached_property
    def session_grounds(self) -> Grounds | None:
        return Grounds.of_session(self.numbers) if self.numbers is not None else None

    @cached_property
    def workouts(self) -> tuple[str, ...]:
        """Every workout and program name in the facts, newest use first."""
        seen: dict[str, None] = {}
        if self.session is not None:
            seen[self.session.workout] = None
            for iv in self.session.intervals:
                seen[iv.workout] = None
        for s in self.history.recent:
            seen[s.workout] = None
        for w in self.history.weeks:
            seen[w.workout] = None
        for b in self.history.bests:
            seen[b.workout] = None
        for w in self.known_workouts:
            seen.setdefault(w, None)
        return tuple(seen)

    def fact(
        self,
        key: str,
        text: str,
        numbers: Iterable[Number],
        *,
        topics: str,
        workout: str | None = None,
        period: str | None = None,
        core: bool = False,
        index_limits: dict[str, int] | None = None,
    ) -> Fact:
        names = {self.player, *self.workouts}
        if self.session is not None:
            names |= set(self.session.no_rep_reasons)
        grounds = Grounds(tuple(numbers), dict(index_limits or {}), frozenset(n for n in names if n))
        return Fact(key, text, grounds, topic_set(topics), workout, period, core)

    def session_fact(self, key: str, text: str, *, topics: str, core: bool = False) -> Fact:
        """A fact whose sentence was written from the session's numbers (by the template's
        sentence builders): it states the session numbers its sentence matches."""
        g = self.session_grounds
        check = check_text(text, g)
        if not check.ok:  # a sentence builder wrote a number it should not have: a bug, never shown
            raise ValueError(f"fact {key}: {check.problems}")
        # every session number the sentence's numbers can be read as ("3 attempts" has no unit)
        numbers = [n for n in g.numbers if any(matches(c.value, c.decimals, n) for c in check.claims)]
        limits = g.index_limits if any(c.unit and c.unit.startswith("index:") for c in check.claims) else {}
        return self.fact(key, text, numbers, topics=topics, core=core, index_limits=limits)


FactSource = Callable[[ChatContext], Iterable[Fact]]
#: Every kind of fact, in the order a plain answer says them when they score the same.
REGISTRY: list[FactSource] = []


def fact_source(fn: FactSource) -> FactSource:
    """Register a function that yields the facts of one kind for a context."""
    REGISTRY.append(fn)
    return fn


def all_facts(ctx: ChatContext) -> list[Fact]:
    """Every fact the registry finds for ``ctx``."""
    out: list[Fact] = []
    for source in REGISTRY:
        out.extend(source(ctx))
    return out


# --- wording ----------------------------------------------------------------------------------


def title(workout: str) -> str:
    return workout.replace("_", " ")


def local_day(dt: datetime) -> date:
    return dt.astimezone().date()


def days_between(earlier: datetime, later: datetime) -> int:
    return max(0, (local_day(later) - local_day(earlier)).days)


def days_ago(days: int) -> str:
    return "today" if days == 0 else "yesterday" if days == 1 else f"{days} days ago"


def _days_numbers(key: str, days: int) -> list[Number]:
    return [Number(key, days, "days", exact=True)] if days > 1 else []


# --- the session's facts ------------------------------------------------------------------------

_COUNT = "rep count many much total number result score how+many"
_NO_REPS = "no+rep norep count didn invalid miss reason why fail wrong call attempt not+count"
_PACE = (
    "pace speed fast faster slow slower tempo rhythm tire tired fatigue half second+half first+half "
    "second+set first+set drop end finish start"
)
_TIMING = (
    "time timing long longer took take second tempo down up lower lowering lift lifting rep+time "
    "each+rep a+rep per+rep rep+take"
)
_INTERVALS = "round interval set tabata block strongest weakest worst circuit best"
_RECORD = "record previous before improve better progress pb personal beat compare last+time"
_SUGGEST = "improve work+on focus next+time tip advice should better suggestion help change try"


@fact_source
def session_overview(ctx: ChatContext) -> Iterator[Fact]:
    if ctx.numbers is None:
        return
    you = dataclasses.replace(ctx.numbers, player="You")
    yield ctx.session_fact("session.overview", what_sentence(you), topics=_COUNT, core=True)


@fact_source
def session_duration(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None:
        return
    text = f"The session lasted {fmt_duration(n.duration_s)}"
    if n.hold_s is None or n.reps:
        text += f", with {plural(n.reps, 'rep')} counted"
    yield ctx.session_fact(
        "session.duration",
        text + ".",
        topics="how+long duration lasted last+for the+session session+take minute long+was whole+session",
    )


@fact_source
def session_no_reps(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None:
        return
    if not n.no_reps:
        text = "Every attempt counted: there were no no-reps."
        if n.reps:
            text = f"Every attempt counted: {plural(n.reps, 'rep')} and no no-reps."
        yield ctx.session_fact("session.no_reps", text, topics=_NO_REPS)
        return
    reasons = sorted(n.no_rep_reasons.items(), key=lambda kv: -kv[1])
    text = (
        f"{plural(n.no_reps, 'attempt')} did not count ({plural(n.no_reps, 'no-rep')}): "
        + ", ".join(f"{c} for '{r}'" for r, c in reasons)
        + "."
    )
    numbers = [
        Number("no_reps", n.no_reps, "no_reps", exact=True),
        Number("attempts", n.attempts, "reps", exact=True),
        *(Number(f"no_rep_reasons.{r}", c, "no_reps", exact=True) for r, c in reasons),
    ]
    if n.success_pct is not None:
        text += f" {round(n.success_pct)}% of your attempts counted."
        numbers.append(Number("success_pct", n.success_pct, "pct"))
    yield ctx.fact("session.no_reps", text, numbers, topics=_NO_REPS)


@fact_source
def session_pace(ctx: ChatContext) -> Iterator[Fact]:
    if ctx.numbers is None:
        return
    text = pace_sentence(ctx.numbers)
    if text is None and ctx.numbers.pace_rpm is not None:
        text = f"Your average pace was {fmt_num(ctx.numbers.pace_rpm)} reps per minute."
    if text:
        yield ctx.session_fact("session.pace", text, topics=_PACE)


@fact_source
def session_timing(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None:
        return
    text = timing_sentence(n)
    if text:
        yield ctx.session_fact("session.timing", text, topics=_TIMING)
    if n.fastest_rep_s is not None and n.slowest_rep_s is not None and n.reps >= 2:
        yield ctx.session_fact(
            "session.extremes",
            f"Your fastest rep took {fmt_secs(n.fastest_rep_s)} and your slowest {fmt_secs(n.slowest_rep_s)}.",
            topics="fastest slowest quick quickest longest shortest rep+time took",
        )


@fact_source
def session_intervals(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None or len(n.intervals) < 2:
        return
    parts = []
    for iv in n.intervals:
        label = f"round {iv.round}" if iv.round is not None else f"interval {iv.index}"
        part = f"{label} ({title(iv.workout)}): {plural(iv.reps, 'rep')}"
        if iv.no_reps:
            part += f" and {plural(iv.no_reps, 'no-rep')}"
        parts.append(part)
    text = "; ".join(parts) + "."
    text = text[0].upper() + text[1:]
    best = intervals_sentence(n)
    if best:
        text += " " + best
    yield ctx.session_fact("session.intervals", text, topics=_INTERVALS)


@fact_source
def session_record(ctx: ChatContext) -> Iterator[Fact]:
    if ctx.numbers is None:
        return
    text = record_sentence(ctx.numbers)
    if text:
        yield ctx.session_fact("session.record", text, topics=_RECORD + " best ever")


@fact_source
def session_hold(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None or n.hold_s is None:
        return
    yield ctx.session_fact(
        "session.hold",
        f"You held the position for {fmt_duration(n.hold_s)} in all.",
        topics="hold held plank long wall+sit position",
    )


@fact_source
def session_faults(ctx: ChatContext) -> Iterator[Fact]:
    s = ctx.session
    if s is None:
        return
    text = (
        f"The referee called {plural(s.faults, 'form fault')} during the session."
        if s.faults
        else "The referee called no form faults during the session."
    )
    numbers = [Number("faults", s.faults, "faults", exact=True)] if s.faults else []
    yield ctx.fact("session.faults", text, numbers, topics="fault form technique posture mistake")


@fact_source
def session_similarity(ctx: ChatContext) -> Iterator[Fact]:
    n = ctx.numbers
    if n is None or n.similarity_pct is None:
        return
    text = (
        f"Your reps matched the reference movement by {n.similarity_pct:.0f}% on average "
        f"(the furthest one {n.similarity_low_pct:.0f}%)."
    )
    if n.deviation:
        text += f" Where they differed most from it: the {n.deviation}."
    yield ctx.fact(
        "session.similarity",
        text,
        [
            Number("similarity_pct", n.similarity_pct, "pct"),
            Number("similarity_low_pct", n.similarity_low_pct, "pct"),
        ],
        topics="similar similarity score match reference technique form shape deviate deviation knee hip "
        "elbow arm hand feet torso",
    )


@fact_source
def session_suggestion(ctx: ChatContext) -> Iterator[Fact]:
    if ctx.numbers is None:
        return
    yield ctx.session_fact("session.suggestion", suggestion_sentence(ctx.numbers), topics=_SUGGEST)


@fact_source
def session_previous(ctx: ChatContext) -> Iterator[Fact]:
    """This session against the player's previous session of the same workout or program."""
    s = ctx.session
    if s is None:
        return
    prev = next((p for p in ctx.history.recent if p.workout == s.workout), None)
    if prev is None:
        yield ctx.fact(
            "session.previous",
            f"This was your first recorded session of {title(s.workout)}.",
            [],
            topics=_RECORD + " first last session last+session",
        )
        return
    days = days_between(prev.started_at, s.started_at)
    when = "earlier the same day" if days == 0 else "the day before" if days == 1 else f"{days} days before"
    diff = s.reps - prev.reps
    how = (
        f"{plural(abs(diff), 'rep')} more"
        if diff > 0
        else f"{plural(abs(diff), 'rep')} fewer"
        if diff < 0
        else "the same number"
    )
    text = (
        f"Your previous session of {title(s.workout)}, {when}, had {plural(prev.reps, 'rep')}; "
        f"this one had {plural(s.reps, 'rep')} ({how})."
    )
    numbers = [
        Number("previous.reps", prev.reps, "reps", exact=True),
        Number("reps", s.reps, "reps", exact=True),
        Number("previous.diff", abs(diff), "reps", exact=True),
        *_days_numbers("previous.days_before", days),
    ]
    yield ctx.fact("session.previous", text, numbers, topics=_RECORD + " last session last+session")


# --- the player's history -----------------------------------------------------------------------

_RECENT = "last previous recent before history progress trend compare improve lately usually session"
_WEEK = "week weekly total so+far this+week last+week many much many+session"
_BEST = "best record most max maximum highest top ever pb personal"


def _focus_workouts(ctx: ChatContext) -> list[str]:
    if ctx.session is not None:
        return [ctx.session.workout, *(iv.workout for iv in ctx.session.intervals)]
    return list(ctx.workouts)


def _session_phrase(p: PastSession, now: datetime) -> tuple[str, list[Number]]:
    d = days_between(p.started_at, now)
    text = f"{plural(p.reps, 'rep')} {days_ago(d)}"
    return text, [
        Number(f"recent[{p.session_id}].reps", p.reps, "reps", exact=True),
        *_days_numbers(f"recent[{p.session_id}].days_ago", d),
    ]


@fact_source
def history_recent(ctx: ChatContext) -> Iterator[Fact]:
    """The last (up to) three earlier sessions of each workout or program."""
    now = ctx.history.now
    for workout in dict.fromkeys(_focus_workouts(ctx)):
        past = [p for p in ctx.history.recent if p.workout == workout][:3]
        if not past:
            continue
        phrases, numbers = [], []
        for p in past:
            t, ns = _session_phrase(p, now)
            phrases.append(t)
            numbers += ns
        if len(past) == 1:
            text = f"Before this, your last session of {title(workout)} had {phrases[0]}."
            if ctx.session is None:
                text = f"Your last session of {title(workout)} had {phrases[0]}."
        else:
            text = (
                f"Your last {plural(len(past), 'session')} of {title(workout)}: " + ", ".join(phrases) + "."
            )
            numbers.append(Number(f"recent.{workout}.shown", len(past), "sessions", exact=True))
        yield ctx.fact(f"history.recent.{workout}", text, numbers, topics=_RECENT, workout=workout)


@fact_source
def history_last(ctx: ChatContext) -> Iterator[Fact]:
    """The player's newest session (on the history page, the headline)."""
    if ctx.session is not None or not ctx.history.recent:
        return
    p = ctx.history.recent[0]
    d = days_between(p.started_at, ctx.history.now)
    text = f"Your last session was {title(p.workout)}, {days_ago(d)}: {plural(p.reps, 'rep')}"
    text += f" and {plural(p.no_reps, 'no-rep')}" if p.no_reps else ""
    text += f" in {fmt_duration(p.duration_s)}."
    numbers = [
        Number("last.reps", p.reps, "reps", exact=True),
        Number("last.no_reps", p.no_reps, "no_reps", exact=True),
        Number("last.duration_s", round(p.duration_s), "s"),
        Number("last.duration_min", p.duration_s / 60.0, "min"),
        *_days_numbers("last.days_ago", d),
    ]
    yield ctx.fact(
        "history.last", text, numbers, topics="last latest recent when session last+session", core=True
    )


def _week_label(monday: date, this_monday: date) -> tuple[str, str]:
    return ("this_week", "This week") if monday == this_monday else ("last_week", "Last week")


@fact_source
def history_weeks(ctx: ChatContext) -> Iterator[Fact]:
    h = ctx.history
    this_monday = h.this_week
    for monday in (this_monday, this_monday - timedelta(weeks=1)):
        period, label = _week_label(monday, this_monday)
        n = h.week_sessions.get(monday, 0)
        reps = h.week_reps.get(monday, 0)
        text = (
            f"{label} you did {plural(n, 'session')} in all, with {plural(reps, 'rep')}."
            if n
            else f"{label} you did no sessions."
        )
        numbers = [Number(f"{period}.sessions", n, "sessions", exact=True)] if n else []
        numbers += [Number(f"{period}.reps", reps, "reps", exact=True)] if n else []
        yield ctx.fact(f"week.{period}.all", text, numbers, topics=_WEEK, period=period, core=not ctx.session)
        done = {w.workout for w in h.weeks if w.week == monday}
        for workout in (w for w in _done_ever(ctx) if w not in done):
            yield ctx.fact(
                f"week.{period}.{workout}",
                f"{label} you did no sessions of {title(workout)}.",
                [],
                topics=_WEEK,
                workout=workout,
                period=period,
            )
        for w in (w for w in h.weeks if w.week == monday):
            text = (
                f"{label} you did {plural(w.sessions, 'session')} of {title(w.workout)}: "
                f"{plural(w.reps, 'rep')} and {plural(w.no_reps, 'no-rep')} in {fmt_duration(w.active_s)} of work."
            )
            p = f"{period}.{w.workout}"
            numbers = [
                Number(f"{p}.sessions", w.sessions, "sessions", exact=True),
                Number(f"{p}.reps", w.reps, "reps", exact=True),
                Number(f"{p}.no_reps", w.no_reps, "no_reps", exact=True),
                Number(f"{p}.active_s", round(w.active_s), "s"),
                Number(f"{p}.active_min", w.active_s / 60.0, "min"),
            ]
            yield ctx.fact(f"week.{p}", text, numbers, topics=_WEEK, workout=w.workout, period=period)


def _done_ever(ctx: ChatContext) -> list[str]:
    seen = dict.fromkeys(b.workout for b in ctx.history.bests)
    seen.update(dict.fromkeys(p.workout for p in ctx.history.recent))
    if ctx.session is not None:
        seen[ctx.session.workout] = None
    return list(seen)


@fact_source
def history_bests(ctx: ChatContext) -> Iterator[Fact]:
    now = ctx.history.now
    for b in ctx.history.bests:
        d = days_between(b.best_reps_at, now)
        text = (
            f"In {plural(b.sessions, 'session')} of {title(b.workout)}, your best is "
            f"{plural(b.best_reps, 'rep')} ({days_ago(d)})"
        )
        p = f"best.{b.workout}"
        numbers = [
            Number(f"{p}.sessions", b.sessions, "sessions", exact=True),
            Number(f"{p}.reps", b.best_reps, "reps", exact=True),
            *_days_numbers(f"{p}.days_ago", d),
        ]
        if b.best_pace_rpm is not None:
            text += f" and your best pace {fmt_num(b.best_pace_rpm)} reps per minute"
            numbers.append(Number(f"{p}.pace_rpm", b.best_pace_rpm, "rpm"))
        if b.longest_hold_s is not None:
            text += f"; your longest hold {fmt_duration(b.longest_hold_s)}"
            numbers += [
                Number(f"{p}.hold_s", round(b.longest_hold_s), "s"),
                Number(f"{p}.hold_min", b.longest_hold_s / 60.0, "min"),
            ]
        yield ctx.fact(f"history.best.{b.workout}", text + ".", numbers, topics=_BEST, workout=b.workout)


@fact_source
def history_none(ctx: ChatContext) -> Iterator[Fact]:
    """Workouts the appliance knows that the player has never done."""
    done = set(_done_ever(ctx))
    for w in ctx.known_workouts:
        if w not in done:
            yield ctx.fact(
                f"history.none.{w}",
                f"You have no recorded sessions of {title(w)} yet.",
                [],
                topics=_RECENT + " " + _BEST + " " + _WEEK,
                workout=w,
            )


# --- basics (no numbers) ------------------------------------------------------------------------

BASICS: dict[str, tuple[str, str]] = {
    "warm_up": (
        "warm warm+up warmup stretch stretching prepare before mobility",
        "Start with a few minutes of easy movement (marching on the spot, arm circles, slow squats) "
        "before you go hard, and stretch gently afterwards.",
    ),
    "rest": (
        "rest recover recovery sore soreness day+off often frequency every+day daily break",
        "Muscles get stronger while you rest: leave a day between hard sessions of the same workout, "
        "and stop a set when your form breaks down.",
    ),
    "fuel": (
        "water drink hydrate hydration eat food diet protein sleep",
        "Drink water before and after training, eat normally and sleep well; for a diet plan, ask a "
        "dietitian.",
    ),
    "breathing": (
        "breathe breath breathing",
        "Breathe out on the effort (standing up, pushing up) and in on the way down; never hold your breath.",
    ),
    "not_measured": (
        "calorie kcal burn heart heart+rate bpm weight kg body+fat",
        "HIIT PI does not measure calories, heart rate or body weight: it counts your reps and no-reps "
        "and times them.",
    ),
}


@fact_source
def basics(ctx: ChatContext) -> Iterator[Fact]:
    for name, (topics, text) in BASICS.items():
        yield ctx.fact(f"basics.{name}", text, [], topics=topics)
