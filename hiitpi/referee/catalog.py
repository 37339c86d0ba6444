"""The catalogue: every workout (``rules/*.toml``), alias and program (``rules/programs/*.toml``),
loaded in one place and looked up by name in one place.

`load_catalog` reads a rules folder; a broken file never stops the others, and with ``previous``
(a reload) a file that no longer loads keeps its last good version, the error saying so. Names
are matched as `normalise_name` makes them (``"Plank Jacks"`` is ``plank_jacks``), aliases lead to
their workout, and a program's blocks must name workouts that exist. `CatalogLoader` keeps a
catalogue fresh for a long-running process (the page), reloading when a file changes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from hiitpi.errors import ErrorList, InputError, did_you_mean
from hiitpi.referee.programs import ANY, Program, ProgramError, load_program, programs_dir
from hiitpi.referee.rules import Rule, RulesError, load_rule, normalise_name

log = logging.getLogger(__name__)

T = TypeVar("T", Rule, Program)


class UnknownNameError(InputError, KeyError):
    """A workout or program name the catalogue does not have; the message lists the known ones."""

    def __init__(self, name: str, known: list[str], what: str = "workout rules"):
        self.name = name
        self.known = known
        super().__init__(
            f"no {what} named '{name}'{did_you_mean(name, known)}; known: {', '.join(known) or '(none loaded)'}",
            "see `hiitpi rules list`",
        )


@dataclass(frozen=True)
class Choice:
    """One entry of the page's picker."""

    value: str  # the name sent in the start command
    label: str
    kind: str  # workout | program


@dataclass
class Catalog:
    """Workouts by name, aliases (normalised alias → workout name), programs by name, and the
    error lines of the files that did not load."""

    rules_dir: Path
    workouts: dict[str, Rule] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    programs: dict[str, Program] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    #: workouts whose file does not load (by the file's name) → the file
    broken: dict[str, str] = field(default_factory=dict)

    def names(self) -> list[str]:
        """Every name that can be started: workouts, then programs (aliases aside)."""
        return [*sorted(self.workouts), *sorted(self.programs)]

    def workout(self, name: str) -> Rule:
        """The workout called ``name`` or one of its aliases; `UnknownNameError` otherwise."""
        key = normalise_name(name)
        real = key if key in self.workouts else self.aliases.get(key)
        if real is None:
            raise UnknownNameError(name, sorted(self.workouts))
        return self.workouts[real]

    def program(self, name: str) -> Program | None:
        return self.programs.get(normalise_name(name))

    def resolve(self, name: str) -> tuple[Rule | None, Program | None]:
        """A workout or a program by name: (the rule to start with, the program or None); the rule
        is None for a free circuit that starts on whatever is done (a first block of `ANY`)."""
        program = self.program(name)
        if program is not None:
            first = program.first_workout
            return (None if first == ANY else self.workout(first)), program
        try:
            return self.workout(name), None
        except UnknownNameError:
            raise UnknownNameError(name, self.names(), "workout or program") from None

    def title(self, name: str | None) -> str:
        """What people read for a workout, alias or program name: its title, else the name made
        readable (a workout whose file is gone still reads well in the history)."""
        if not name:
            return "–"
        key = normalise_name(name)
        found = self.programs.get(key) or self.workouts.get(self.aliases.get(key, key))
        return found.title if found is not None else pretty_name(name)

    def choices(self) -> list[Choice]:
        """What the page offers: workouts by title, then programs by title with their length."""
        out = [Choice(r.name, r.title, "workout") for r in sorted(self.workouts.values(), key=_by_title)]
        out += [
            Choice(p.name, f"{p.title} — {p.describe().split(' — ')[-1]}", "program")
            for p in sorted(self.programs.values(), key=_by_title)
        ]
        return out


def pretty_name(name: str) -> str:
    """A name for people when there is no title: ``jumping_jack`` → ``Jumping jack``."""
    words = " ".join(name.replace("_", " ").split())
    return words[:1].upper() + words[1:] if words else "–"


def phase_title(state: str | None) -> str:
    """A referee state's name for the page: ``deep_squat`` → ``Deep squat``; none yet → ``–``."""
    if not state or state == "-":
        return "–"
    return pretty_name(state)


def _by_title(item: Rule | Program) -> str:
    return item.title.lower()


def load_folder(
    folder: Path,
    load: Callable[[Path], T],
    error: type[ErrorList],
    last_good: dict[str, T],
) -> tuple[dict[str, T], list[str]]:
    """Every ``*.toml`` in ``folder`` through ``load``: (items by name, error lines). A file that
    fails keeps its version in ``last_good`` (by source path) if there is one."""
    items: dict[str, T] = {}
    errors: list[str] = []
    for file in sorted(folder.glob("*.toml")) if folder.is_dir() else ():
        try:
            item = load(file)
        except error as exc:
            errors.extend(exc.errors)
            kept = last_good.get(str(file))
            if kept is None:
                log.debug("%s skipped: %d error(s)", file, len(exc.errors))
                continue
            errors.append(f"{file}: keeping the last good version of '{kept.name}' until the file is fixed")
            log.debug("%s broken (%d error(s)): keeping its last good version", file, len(exc.errors))
            item = kept
        if item.name in items:
            errors.append(f"{file}: name: '{item.name}' is already defined in {items[item.name].source}")
            continue
        items[item.name] = item
    return items, errors


def _aliases(workouts: dict[str, Rule]) -> tuple[dict[str, str], list[str]]:
    aliases: dict[str, str] = {}
    errors: list[str] = []
    for rule in workouts.values():
        for alias in rule.aliases:
            a = normalise_name(alias)
            if a in workouts and a != rule.name:
                errors.append(f"{rule.source}: aliases: '{alias}' is the name of another rule")
            elif a in aliases and aliases[a] != rule.name:
                errors.append(f"{rule.source}: aliases: '{alias}' is also an alias of '{aliases[a]}'")
            else:
                aliases[a] = rule.name
    return aliases, errors


def load_catalog(rules_dir: str | Path, previous: Catalog | None = None) -> Catalog:
    """Every workout, alias and program of ``rules_dir``. With ``previous`` (a reload), a file that
    no longer loads keeps its last good version, and the error says so."""
    rules_dir = Path(rules_dir)
    cat = Catalog(rules_dir)
    if not rules_dir.is_dir():
        cat.errors.append(f"{rules_dir}: rules folder not found (set [referee] rules_dir)")
        return cat
    old_rules = {r.source: r for r in previous.workouts.values()} if previous else {}
    old_programs = {p.source: p for p in previous.programs.values()} if previous else {}
    cat.workouts, errors = load_folder(rules_dir, load_rule, RulesError, old_rules)
    cat.aliases, alias_errors = _aliases(cat.workouts)
    known = {**{n: n for n in cat.workouts}, **cat.aliases}
    # a workout whose file does not load is not unknown: a program using it is told which file to fix
    files = {Path(line.split(":", 1)[0]) for line in errors}
    cat.broken = {f.stem: str(f) for f in sorted(files) if f.suffix == ".toml" and f.stem not in known}
    cat.programs, program_errors = load_programs_of(rules_dir, known, old_programs, cat.broken)
    cat.errors = [*errors, *alias_errors, *program_errors]
    return cat


def load_programs_of(
    rules_dir: Path,
    known: dict[str, str] | None,
    last_good: dict[str, Program],
    broken: dict[str, str] | None = None,
) -> tuple[dict[str, Program], list[str]]:
    """The programs of ``rules_dir``; with ``known`` (every workout name and alias → the workout),
    their blocks are checked against it and a program may not take a workout's name. ``broken``:
    names of workouts whose file does not load → that file."""
    programs, errors = load_folder(
        programs_dir(rules_dir), lambda f: load_program(f, known, broken), ProgramError, last_good
    )
    for name in [n for n in programs if known is not None and n in known]:
        errors.append(f"{programs[name].source}: name: '{name}' is also a workout's name; rename the program")
        del programs[name]
    return programs, errors


class CatalogLoader:
    """The catalogue of a rules folder, read again when a file in it changes (looked at most
    every ``recheck_s``), so an edited rules file shows without a restart."""

    def __init__(self, rules_dir: str | Path, *, recheck_s: float = 2.0):
        self.rules_dir = Path(rules_dir)
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._catalog = Catalog(self.rules_dir)

    def _fingerprint(self) -> tuple:
        files = sorted(self.rules_dir.glob("*.toml")) + sorted(programs_dir(self.rules_dir).glob("*.toml"))
        out = []
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            out.append((str(f), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def get(self) -> Catalog:
        now = time.monotonic()
        with self._lock:
            if self._stamp is not None and now - self._checked < self.recheck_s:
                return self._catalog
            self._checked = now
            stamp = self._fingerprint()
            if stamp == self._stamp:
                return self._catalog
            self._catalog = load_catalog(self.rules_dir, previous=self._catalog)
            self._stamp = stamp
            if self._catalog.errors:
                log.warning("rules folder %s: %d problem(s)", self.rules_dir, len(self._catalog.errors))
            return self._catalog
