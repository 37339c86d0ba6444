"""What can be started: workouts from ``rules/*.toml`` and programs from ``rules/programs/*.toml``.

Reloaded when a file in the folder changes (checked at most every ``recheck_s``), so a rules file
edited on the appliance shows in the picker without a restart; a file that breaks keeps its last
good version (and the programs that use it), and its errors are kept for the page.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from hiitpi.referee.programs import Program, load_programs
from hiitpi.referee.rules import load_rule_set, normalise_name

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Choice:
    value: str  # the name sent in the start command
    label: str
    kind: str  # workout | program


@dataclass
class Catalog:
    workouts: dict[str, str] = field(default_factory=dict)  # name -> title
    aliases: dict[str, str] = field(default_factory=dict)
    programs: dict[str, Program] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def choices(self) -> list[Choice]:
        out = [
            Choice(n, t, "workout") for n, t in sorted(self.workouts.items(), key=lambda kv: kv[1].lower())
        ]
        out += [
            Choice(p.name, f"{p.title} — {p.describe().split(' — ')[-1]}", "program")
            for p in sorted(self.programs.values(), key=lambda p: p.title.lower())
        ]
        return out

    def resolve(self, name: object) -> tuple[str, str]:
        """('workout'|'program', canonical name) or `ValueError` with a message fit for the page."""
        if not isinstance(name, str) or not name.strip():
            raise ValueError("Pick a workout first.")
        if len(name) > 64:
            raise ValueError(f"Unknown workout (a {len(name)}-character name): pick one from the list.")
        key = normalise_name(name)
        if key in self.programs:
            return "program", key
        if key in self.workouts:
            return "workout", key
        if key in self.aliases:
            return "workout", self.aliases[key]
        known = ", ".join(sorted(self.workouts)) or "(none loaded)"
        raise ValueError(f"Unknown workout '{name.strip()[:64]}': pick one from the list ({known}).")


class CatalogLoader:
    def __init__(self, rules_dir: Path, *, recheck_s: float = 2.0):
        self.rules_dir = Path(rules_dir)
        self.recheck_s = recheck_s
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._checked = 0.0
        self._catalog = Catalog()
        self._rules = None  # the last RuleSet: a file that breaks keeps its last good version

    def _fingerprint(self) -> tuple:
        files = sorted(self.rules_dir.glob("*.toml")) + sorted((self.rules_dir / "programs").glob("*.toml"))
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
            rs = self._rules = load_rule_set(self.rules_dir, previous=self._rules)
            programs, perrors = load_programs(self.rules_dir, known_workouts=set(rs.rules) | set(rs.aliases))
            self._catalog = Catalog(
                workouts={n: r.title for n, r in rs.rules.items()},
                aliases=dict(rs.aliases),
                programs=programs,
                errors=[*rs.errors, *perrors],
            )
            self._stamp = stamp
            if self._catalog.errors:
                log.warning("rules folder %s: %d problem(s)", self.rules_dir, len(self._catalog.errors))
            return self._catalog
