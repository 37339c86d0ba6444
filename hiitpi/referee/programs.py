"""HIIT programs as data: interval sessions in ``rules/programs/*.toml``.

A program is ``rounds`` repetitions of a list of blocks; each block is ``work_s`` seconds of one
workout (a rules name from ``rules/``) followed by ``rest_s`` seconds of rest. Tabata::

    name = "tabata_squat"
    title = "Tabata squats"
    rounds = 8

    [[blocks]]
    workout = "squat"
    work_s = 20
    rest_s = 10

A circuit lists several blocks. `Program.timeline` expands a program into its segments (work and
rest, with their round and start time) and `Program.position(elapsed_s)` says where a session is:
the segment, its round, the seconds left — what the engine switches workouts on and what the page
shows as the countdown. Every problem in a file is reported with the file, the line and the key.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from hiitpi.errors import ErrorList
from hiitpi.tomlpos import KeyPath, TomlDocument, TomlSyntaxError, load_toml

log = logging.getLogger(__name__)

NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")
MAX_ROUNDS = 100
MAX_SEGMENT_S = 3600.0
MAX_BLOCKS = 50

SegmentKind = Literal["work", "rest"]


@dataclass(frozen=True, slots=True)
class Block:
    """``work_s`` seconds of ``workout``, then ``rest_s`` seconds of rest."""

    workout: str
    work_s: float
    rest_s: float = 0.0


@dataclass(frozen=True, slots=True)
class Segment:
    """One stretch of a program: ``kind`` work (of ``workout``) or rest (before ``workout``)."""

    index: int  # 0-based over the whole program
    round: int  # 1-based
    kind: SegmentKind
    workout: str  # the workout being done (work) or coming next (rest)
    start_s: float
    duration_s: float

    @property
    def end_s(self) -> float:
        return self.start_s + self.duration_s


@dataclass(frozen=True, slots=True)
class Position:
    """Where a program is at ``elapsed_s`` seconds; ``done`` once the last segment has ended."""

    segment: Segment
    remaining_s: float
    rounds: int
    done: bool = False

    @property
    def round(self) -> int:
        return self.segment.round

    @property
    def kind(self) -> SegmentKind:
        return self.segment.kind

    @property
    def workout(self) -> str:
        return self.segment.workout


@dataclass(frozen=True)
class Program:
    name: str
    title: str
    rounds: int
    blocks: tuple[Block, ...]
    description: str = ""
    final_rest: bool = False
    source: str = ""
    timeline: tuple[Segment, ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if not self.timeline:
            object.__setattr__(self, "timeline", _expand(self))

    @property
    def workouts(self) -> tuple[str, ...]:
        """Distinct workouts in order of first use."""
        return tuple(dict.fromkeys(b.workout for b in self.blocks))

    @property
    def first_workout(self) -> str:
        return self.blocks[0].workout

    @property
    def total_s(self) -> float:
        return self.timeline[-1].end_s if self.timeline else 0.0

    @property
    def work_segments(self) -> tuple[Segment, ...]:
        return tuple(s for s in self.timeline if s.kind == "work")

    def position(self, elapsed_s: float) -> Position:
        """The segment running ``elapsed_s`` seconds after the start (the last one, done, after the end)."""
        t = max(0.0, float(elapsed_s))
        for seg in self.timeline:
            if t < seg.end_s:
                return Position(seg, seg.end_s - t, self.rounds)
        return Position(self.timeline[-1], 0.0, self.rounds, done=True)

    def describe(self) -> str:
        """'8 × (squat 20 s / rest 10 s) — 4:00'."""
        parts = []
        for b in self.blocks:
            parts.append(f"{b.workout} {b.work_s:g} s" + (f" / rest {b.rest_s:g} s" if b.rest_s else ""))
        total = round(self.total_s)
        return f"{self.rounds} × ({', '.join(parts)}) — {total // 60}:{total % 60:02d}"


def _expand(p: Program) -> tuple[Segment, ...]:
    segs: list[Segment] = []
    t = 0.0
    flat = [(r, i, b) for r in range(1, p.rounds + 1) for i, b in enumerate(p.blocks)]
    for n, (r, _i, b) in enumerate(flat):
        segs.append(Segment(len(segs), r, "work", b.workout, t, b.work_s))
        t += b.work_s
        last = n == len(flat) - 1
        if b.rest_s > 0 and (not last or p.final_rest):
            upcoming = flat[n + 1][2].workout if not last else b.workout
            segs.append(Segment(len(segs), r, "rest", upcoming, t, b.rest_s))
            t += b.rest_s
    return tuple(segs)


class ProgramError(ErrorList, ValueError):
    """A program file that cannot be used; ``errors`` lists 'file:line: key: what' lines."""


class _Checker:
    def __init__(self, doc: TomlDocument):
        self.doc = doc
        self.errors: list[str] = []

    def err(self, key: KeyPath, msg: str) -> None:
        dotted = ".".join(str(k) for k in key) if key else "(file)"
        self.errors.append(f"{self.doc.where(key)}: {dotted}: {msg}")

    def unknown(self, d: dict, key: KeyPath, allowed: set[str]) -> None:
        for k in sorted(set(d) - allowed):
            self.err((*key, k), f"unknown key '{k}'; allowed here: {', '.join(sorted(allowed))}")

    def seconds(self, d: dict, key: KeyPath, name: str, default: float | None, lo: float) -> float | None:
        if name not in d:
            if default is None:
                self.err(key, f"missing required key '{name}' (seconds)")
            return default
        v = d[name]
        if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
            self.err((*key, name), f"must be a number of seconds, got {v!r}")
            return default
        if not lo <= v <= MAX_SEGMENT_S:
            self.err((*key, name), f"{v!r} is outside {lo:g}..{MAX_SEGMENT_S:g} seconds")
            return default
        return float(v)


def parse_program(doc: TomlDocument, known_workouts: Iterable[str] | None = None) -> Program:
    """Validate one parsed program; ``known_workouts`` (rules names) are checked when given."""
    c = _Checker(doc)
    d: dict[str, Any] = doc.data
    c.unknown(d, (), {"name", "title", "description", "rounds", "blocks", "final_rest"})
    name = d.get("name", doc.path.stem)
    if not isinstance(name, str) or not NAME_RE.match(name):
        c.err(
            ("name",),
            f"{name!r} is not a valid name: lower-case letters, digits and _, starting with a letter",
        )
        name = doc.path.stem
    title = d.get("title", name)
    if not isinstance(title, str) or not title.strip():
        c.err(("title",), f"must be non-empty text, got {title!r}")
        title = name
    description = d.get("description", "")
    if not isinstance(description, str):
        c.err(("description",), f"must be text, got {description!r}")
        description = ""
    rounds = d.get("rounds", 1)
    if isinstance(rounds, bool) or not isinstance(rounds, int) or not 1 <= rounds <= MAX_ROUNDS:
        c.err(("rounds",), f"must be a whole number from 1 to {MAX_ROUNDS}, got {rounds!r}")
        rounds = 1
    final_rest = d.get("final_rest", False)
    if not isinstance(final_rest, bool):
        c.err(("final_rest",), f"must be true or false, got {final_rest!r}")
        final_rest = False
    known = None if known_workouts is None else set(known_workouts)
    blocks: list[Block] = []
    raw = d.get("blocks")
    if raw is None:
        c.err((), "missing [[blocks]]: a program needs at least one block (workout, work_s, rest_s)")
        raw = []
    elif not isinstance(raw, list) or not all(isinstance(b, dict) for b in raw):
        c.err(("blocks",), "must be an array of tables: [[blocks]]")
        raw = []
    elif not raw:
        c.err(("blocks",), "is empty: a program needs at least one block")
    elif len(raw) > MAX_BLOCKS:
        c.err(("blocks",), f"has {len(raw)} blocks; at most {MAX_BLOCKS}")
        raw = raw[:MAX_BLOCKS]
    for i, b in enumerate(raw):
        key = ("blocks", i)
        c.unknown(b, key, {"workout", "work_s", "rest_s"})
        workout = b.get("workout")
        if not isinstance(workout, str) or not workout.strip():
            c.err(
                (*key, "workout") if "workout" in b else key,
                f"needs a workout name (a file in rules/), got {workout!r}",
            )
            workout = None
        elif known is not None and workout not in known:
            c.err(
                (*key, "workout"),
                f"unknown workout '{workout}'; known: {', '.join(sorted(known)) or '(none)'}",
            )
        work = c.seconds(b, key, "work_s", None, 1.0)
        rest = c.seconds(b, key, "rest_s", 0.0, 0.0)
        if workout and work is not None and rest is not None:
            blocks.append(Block(workout, work, rest))
    if c.errors:
        raise ProgramError(c.errors)
    return Program(
        name=name,
        title=title.strip(),
        rounds=rounds,
        blocks=tuple(blocks),
        description=description.strip(),
        final_rest=final_rest,
        source=str(doc.path),
    )


def load_program(path: str | Path, known_workouts: Iterable[str] | None = None) -> Program:
    """Load and validate one program file; raises `ProgramError` naming file/line/key."""
    try:
        doc = load_toml(path)
    except TomlSyntaxError as exc:
        raise ProgramError([str(exc)]) from exc
    return parse_program(doc, known_workouts)


def programs_dir(rules_dir: str | Path) -> Path:
    """Where programs live: ``<rules_dir>/programs``."""
    return Path(rules_dir) / "programs"


def load_programs(
    rules_dir: str | Path, known_workouts: Iterable[str] | None = None
) -> tuple[dict[str, Program], list[str]]:
    """Every program in ``<rules_dir>/programs``: (programs by name, error lines).

    A broken file never stops the others; a program whose name is also a workout's is refused
    (one name must mean one thing on the page and in the command path).
    """
    folder = programs_dir(rules_dir)
    known = None if known_workouts is None else set(known_workouts)
    programs: dict[str, Program] = {}
    errors: list[str] = []
    if not folder.is_dir():
        return programs, errors
    for file in sorted(folder.glob("*.toml")):
        try:
            prog = load_program(file, known)
        except ProgramError as exc:
            errors.extend(exc.errors)
            log.warning("program file %s skipped: %d error(s)", file, len(exc.errors))
            continue
        if prog.name in programs:
            errors.append(f"{file}: name: '{prog.name}' is already defined in {programs[prog.name].source}")
            continue
        if known is not None and prog.name in known:
            errors.append(f"{file}: name: '{prog.name}' is also a workout's name; rename the program")
            continue
        programs[prog.name] = prog
    return programs, errors


class ProgramRun:
    """Drives one program through a session, for the engine.

    Call ``update(elapsed_s)`` with the seconds since the program started (once per frame): it
    returns the `Segment` that has just begun (the first call returns the first one), or None while
    the segment goes on. ``state(elapsed_s)`` gives the fields the live state hash carries so every
    viewer can show the round and the countdown: ``program``, ``program_elapsed``, ``round``,
    ``rounds``, ``segment`` (work/rest), ``remaining``.
    """

    def __init__(self, program: Program):
        self.program = program
        self.current: Segment | None = None
        self.done = False

    def update(self, elapsed_s: float) -> Segment | None:
        pos = self.program.position(elapsed_s)
        if pos.done:
            self.done = True
            return None
        if self.current is None or pos.segment.index != self.current.index:
            self.current = pos.segment
            return pos.segment
        return None

    def state(self, elapsed_s: float) -> dict[str, Any]:
        pos = self.program.position(elapsed_s)
        return {
            "program": self.program.name,
            "program_elapsed": round(max(0.0, elapsed_s), 2),
            "round": pos.round,
            "rounds": pos.rounds,
            "segment": pos.kind,
            "remaining": round(pos.remaining_s, 2),
        }
