"""Teaching from a video, start to end: the one flow `hiitpi teach` and the dashboard share.

`load_demo` runs the pose model over the clip (the pose cache of the evaluations, with a
progress bar) and smooths the poses as the live pipeline does; `teach_video` learns the workout
and records its reference; `save_lesson` writes ``rules/<name>.toml`` (read back through the
rules schema) and ``rules/<name>.reference.json``; `record_for` records a reference for a workout
that exists already (a built-in one).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.errors import InputError
from hiitpi.referee.reference import Reference, reference_path, save_reference
from hiitpi.referee.rules import normalise_name
from hiitpi.schema import NAME_RE
from hiitpi.teach.learn import Demo, Taught, TeachError, count_demo, teach_hold, teach_reps
from hiitpi.teach.record import record_reference

log = logging.getLogger(__name__)


class NameTakenError(InputError):
    """The name of a workout that exists already."""


@dataclass
class Lesson:
    """A taught workout waiting for the person's yes: what was learnt, its reference, its text."""

    taught: Taught
    reference: Reference | None
    text: str  # the rules file as it will be written
    demo: Demo

    @property
    def name(self) -> str:
        return self.taught.name


#: the longest workout name (it names a rules file: a file system refuses names past 255 bytes)
MAX_NAME = 48


def check_name(name: str, rules_dir: str | Path) -> str:
    """The workout name to use (``"My Squat"`` → ``my_squat``); `NameTakenError` if a workout, an
    alias or a file of that name exists, `InputError` if it cannot be a name."""
    from hiitpi.referee.catalog import load_catalog

    key = normalise_name(name or "")
    if not key or not NAME_RE.fullmatch(key):
        raise InputError(
            f"'{name}' cannot be a workout name",
            "use letters, digits and _ (start with a letter): --name wall_push",
        )
    if len(key) > MAX_NAME:
        raise InputError(
            f"'{key[:24]}…' is too long for a workout name ({len(key)} characters, at most {MAX_NAME})",
            "choose a shorter --name: it names the rules file",
        )
    rules_dir = Path(rules_dir)
    cat = load_catalog(rules_dir)
    owner = key if key in cat.workouts else cat.aliases.get(key)
    file = rules_dir / f"{key}.toml"
    if owner is not None or file.exists():
        where = cat.workouts[owner].source if owner in cat.workouts else str(file)
        what = (
            f"'{key}' is already a workout ({where})"
            if owner == key or owner is None
            else (f"'{key}' is already a name of '{owner}' ({where})")
        )
        raise NameTakenError(
            what,
            f"choose another --name, or record a reference for it: hiitpi teach --reference-for {owner or key} VIDEO",
        )
    return key


def load_demo(
    path: str | Path, settings: Any, *, progress: bool = True, cache_dir: str | Path | None = None
) -> Demo:
    """The clip's smoothed poses (the pose model runs once per clip: cached by content and model)."""
    from hiitpi.capture.video import VideoFileSource
    from hiitpi.offline.poses import video_poses
    from hiitpi.pose.smoothing import PoseSmoother

    source = VideoFileSource(path, paced=False)
    source.open()  # not a video: one line, before the model loads
    source.close()
    poses, info = video_poses(path, settings, cache_dir=cache_dir, progress=progress)
    smoother = PoseSmoother.from_settings(settings.pose.smoothing)
    times = np.array([p.timestamp if p is not None else i / info.fps for i, p in enumerate(poses)])
    smoothed = [smoother.filter(p) if p is not None else None for p in poses]
    return Demo(smoothed, times, info.fps, source=Path(path).name)


def teach_demo(
    demo: Demo, name: str, *, reps: int | None = None, hold: bool = False, title: str = ""
) -> Lesson:
    """Learn ``name`` from a demo: the rules, the text to write and (for reps) the reference."""
    from hiitpi.teach.tomlwrite import render

    taught = teach_hold(demo, name, title=title) if hold else teach_reps(demo, name, reps=reps, title=title)
    reference = None
    if taught.kind == "reps":
        reference = record_reference(taught.rule, demo, taught.events)
    return Lesson(taught, reference, render(taught.doc, header(taught, demo), taught.comments), demo)


def header(taught: Taught, demo: Demo) -> str:
    """The rules file's opening comment: what it is and where it came from."""
    what = (
        f"{taught.count} reps found, decided on {', '.join(taught.members)}"
        if taught.kind == "reps"
        else f"a held position, recognised by {', '.join(taught.members)}"
    )
    lines = [
        f"{taught.doc['title']}: taught by demonstration with `hiitpi teach` from {demo.source or 'a clip'}",
        f"({demo.duration_s:.1f} s, seen {taught.view or 'from an unknown view'}; {what}).",
        "An ordinary rules file: edit it as you like, check it with `hiitpi rules check`.",
    ]
    if taught.kind == "reps":
        lines.append(f"Each rep is also scored against {taught.name}.reference.json next to this file.")
    return "\n".join(lines)


def teach_video(
    path: str | Path,
    settings: Any,
    name: str,
    *,
    reps: int | None = None,
    hold: bool = False,
    title: str = "",
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> Lesson:
    """`load_demo` then `teach_demo`; the name is checked first (`NameTakenError`)."""
    key = check_name(name, settings.referee.rules_dir)
    demo = load_demo(path, settings, progress=progress, cache_dir=cache_dir)
    return teach_demo(demo, key, reps=reps, hold=hold, title=title)


def save_lesson(lesson: Lesson, rules_dir: str | Path) -> tuple[Path, Path | None]:
    """Write the rules file (and the reference); the written file is read back through the schema."""
    from hiitpi.referee.rules import load_rule

    rules_dir = Path(rules_dir)
    check_name(lesson.name, rules_dir)  # nothing took the name while the person looked
    rules_dir.mkdir(parents=True, exist_ok=True)
    path = rules_dir / f"{lesson.name}.toml"
    ref_path = None
    if lesson.reference is not None:
        ref_path = save_reference(lesson.reference, reference_path(rules_dir, lesson.name))
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(lesson.text, encoding="utf-8")
    tmp.replace(path)
    load_rule(path)  # RulesError if what was written does not read back (it always should)
    log.info("taught %s: %s", lesson.name, path)
    return path, ref_path


def record_for(
    workout: str,
    path: str | Path,
    settings: Any,
    *,
    progress: bool = True,
    cache_dir: str | Path | None = None,
) -> tuple[Reference, Path, int]:
    """Record the reference of an existing workout from a clip of it: (reference, where it goes,
    reps counted). Raises `TeachError` if the referee counts fewer than two clean reps."""
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(settings.referee.rules_dir)
    rule = cat.workout(workout)  # UnknownNameError lists the known ones
    if rule.kind != "reps":
        raise InputError(
            f"'{rule.name}' is a hold: a reference scores reps", "record a reference for a rep workout"
        )
    demo = load_demo(path, settings, progress=progress, cache_dir=cache_dir)
    events = count_demo(rule, demo)
    ref = record_reference(rule, demo, events)
    if ref.reps < 2:
        raise TeachError(
            f"the {rule.title} referee counted {ref.reps} clean rep(s) in {demo.source}: too few for a reference",
            "record at least three good reps, the whole body in view",
        )
    return (
        ref,
        Path(rule.source).with_name(f"{rule.name}.reference.json"),
        sum(e.kind == "rep" for e in events),
    )
