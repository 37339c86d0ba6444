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

A circuit lists several blocks. A *free circuit* names no workout: a block's ``workout = "any"``
(`ANY`) records whatever is done in its work time, recognised as auto mode does
(`hiitpi.recognition`); the engine's controller follows it. `Program.timeline` expands a program into its segments (work and
rest, with their round and start time) and `Program.position(elapsed_s)` says where a session is:
the segment, its round, the seconds left — what the engine switches workouts on and what the page
shows as the countdown. Every problem in a file is reported with the file, the line and the key.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from hiitpi.errors import ErrorList, did_you_mean
from hiitpi.schema import (
    NAME_RE,
    FileModel,
    Flag,
    Internal,
    Name,
    Number,
    Ref,
    Tables,
    Text,
    WholeNumber,
    validate_document,
)
from hiitpi.tomlpos import TomlDocument, TomlSyntaxError, load_toml

log = logging.getLogger(__name__)

MAX_ROUNDS = 100
MAX_SEGMENT_S = 3600.0
MAX_BLOCKS = 50
#: a block's workout that names none: whatever is done is recognised (a free circuit)
ANY = "any"

SegmentKind = Literal["work", "rest"]


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


class Block(FileModel):
    """`work_s` seconds of `workout`, then `rest_s` seconds of rest."""

    model_config = ConfigDict(frozen=True, title="Block")

    workout: Ref = Field(
        title="Workout",
        description='The workout done in this block: a name (or alias) from rules/*.toml, or "any" '
        "(a free circuit: whatever is done is recognised and recorded).",
    )
    work_s: Number(1.0, MAX_SEGMENT_S, unit="seconds") = Field(title="Work", description="Seconds of work.")
    rest_s: Number(0.0, MAX_SEGMENT_S, unit="seconds") = Field(
        0.0, title="Rest", description="Seconds of rest after the work (0: none)."
    )

    @field_validator("workout")
    @classmethod
    def _workout_exists(cls, workout: str, info: ValidationInfo) -> str:
        if workout.strip().lower() == ANY:
            return ANY
        context = info.context or {}
        known, broken = context.get("workouts"), context.get("broken") or {}
        if workout in broken:
            raise ValueError(f"workout '{workout}' did not load: fix {broken[workout]} first")
        if known is not None and workout not in known:
            names = sorted(set(known.values()))
            raise ValueError(
                f"unknown workout '{workout}'{did_you_mean(workout, names)}; known: {', '.join(names) or '(none)'} (or \"{ANY}\")"
            )
        return workout


class Program(FileModel):
    """A HIIT program: `rounds` times through `blocks`."""

    model_config = ConfigDict(
        frozen=True,
        title="HIIT PI program",
        json_schema_extra={
            "description": "An interval session for HIIT PI: rules/programs/<name>.toml. `rounds` times "
            "through the `[[blocks]]`, each some seconds of one workout and then of rest."
        },
    )

    name: Name = Field(
        "",
        title="Name",
        description="The program's name (default: the file's name); it must not be a workout's name.",
    )
    title: Text = Field("", title="Title", description="What the page shows (default: the name).")
    description: Text = Field("", title="Description", description="One or two sentences for the page.")
    rounds: WholeNumber(1, MAX_ROUNDS) = Field(
        1, title="Rounds", description="How many times the blocks are done, in order."
    )
    final_rest: Flag = Field(
        False, title="Final rest", description="Keep the last block's rest at the very end (a cool-down)."
    )
    blocks: Tables(Block, "blocks", max_items=MAX_BLOCKS) = Field(
        (),
        validate_default=True,
        title="Blocks",
        description="`[[blocks]]`: workout, work_s, rest_s; a circuit lists several.",
    )
    source: Internal[str] = ""
    timeline: Internal[tuple[Segment, ...]] = ()

    @field_validator("title", "description")
    @classmethod
    def _strip(cls, v: str, info: ValidationInfo) -> str:
        if info.field_name == "title" and v and not v.strip():
            raise ValueError(f"must be non-empty text, got {v!r}")
        return v.strip()

    @field_validator("blocks")
    @classmethod
    def _some_blocks(cls, blocks: tuple[Block, ...]) -> tuple[Block, ...]:
        if not blocks:
            raise ValueError(
                "missing [[blocks]]: a program needs at least one block (workout, work_s, rest_s)"
            )
        return blocks

    @model_validator(mode="after")
    def _fill_in(self, info: ValidationInfo) -> Program:
        context = info.context or {}
        if not self.name:
            stem = str(context.get("default_name", ""))
            if not NAME_RE.match(stem):
                raise ValueError(f'needs a name = "...": the file\'s name {stem!r} is not lower_snake_case')
            self._fill(name=stem)
        self._fill(title=self.title or self.name, source=str(context.get("source", "")))
        self._fill(timeline=_expand(self))
        return self

    @property
    def workouts(self) -> tuple[str, ...]:
        """Distinct workouts in order of first use (`ANY` aside)."""
        return tuple(dict.fromkeys(b.workout for b in self.blocks if b.workout != ANY))

    @property
    def first_workout(self) -> str:
        """The first block's workout (`ANY` for a free circuit that starts on whatever is done)."""
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


def parse_program(
    doc: TomlDocument,
    known_workouts: Iterable[str] | Mapping[str, str] | None = None,
    broken_workouts: Mapping[str, str] | None = None,
) -> Program:
    """Check one parsed program; a block's workout must be one of ``known_workouts`` when given
    (names, or a mapping of every name and alias to its workout's name), and not one of
    ``broken_workouts`` (names of workouts whose file does not load → that file)."""
    known = known_workouts
    if known is not None and not isinstance(known, Mapping):
        known = {k: k for k in known}
    context = {
        "source": str(doc.path),
        "default_name": doc.path.stem,
        "workouts": known,
        "broken": broken_workouts,
    }
    return validate_document(Program, doc, error=ProgramError, context=context)


def load_program(
    path: str | Path,
    known_workouts: Iterable[str] | Mapping[str, str] | None = None,
    broken_workouts: Mapping[str, str] | None = None,
) -> Program:
    """Load and check one program file; raises `ProgramError` naming file/line/key."""
    try:
        doc = load_toml(path)
    except TomlSyntaxError as exc:
        raise ProgramError([str(exc)]) from exc
    return parse_program(doc, known_workouts, broken_workouts)


def programs_dir(rules_dir: str | Path) -> Path:
    """Where programs live: ``<rules_dir>/programs``."""
    return Path(rules_dir) / "programs"


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
