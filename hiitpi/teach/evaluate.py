"""`hiitpi eval teach`: how well taught rules count, measured on a clips manifest.

- **Another clip** (``clips``, ``mae``, ``obo``, ``per_exercise``): for every exercise with two or
  more rep clips, rules are taught from each clip (told how many reps it shows, as a person would
  say) and count every *other* clip of the exercise: every ordered pair is one result. The
  hand-written rules file is never read.
- **The first reps** (``first_reps``): rules taught from the shortest start of a clip in which
  the teacher finds three reps (the start grows a second at a time: nothing after it is seen),
  then the referee runs over the whole clip; the prediction is the three taught reps plus the
  reps it counts after that start. Clips of three reps or fewer are listed, not scored.
- **Holds** (``holds``): a hold taught from each hold clip, timed on it.
- **Similarity** (``similarity``): with the workouts' own rules, each clip's clean reps (full, no
  fault) are the reference: every clean rep is scored against the others (leave one out), every
  no-rep and faulted rep against all of them, and every clean rep against all of them (``self``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

import numpy as np

from hiitpi.referee.datasets import ManifestRow
from hiitpi.referee.evaluate import ClipResult, summarize
from hiitpi.teach.learn import Demo, TeachError, count_demo, teach_hold, teach_reps

log = logging.getLogger(__name__)

FIRST_REPS = 3
#: the first-reps mode grows the clip's start by this much at a time (seconds)
GROW_S = 1.0
#: when more than the reps asked for came within one step (a fast movement), the steps in between
FINE_S = 0.25


@dataclass
class TeachRun:
    """One clip taught: the rules (or why not), the reps found, the features chosen."""

    file: str
    exercise: str
    gt: int
    taught: Any = None
    error: str | None = None

    def to_dict(self) -> dict:
        d: dict[str, Any] = {"file": self.file, "exercise": self.exercise, "gt": self.gt}
        if self.taught is not None:
            d.update(found=self.taught.count, features=self.taught.members, view=self.taught.view)
        if self.error:
            d["error"] = self.error
        return d


def _count(rule, demo: Demo) -> tuple[int, int]:
    events = count_demo(rule, demo)
    return sum(e.kind == "rep" for e in events), sum(e.kind == "no_rep" for e in events)


def teach_all(rows: list[ManifestRow], demos: dict[str, Demo], tell_reps: bool = True) -> dict[str, TeachRun]:
    runs = {}
    for row in rows:
        if row.is_hold or row.file not in demos:
            continue
        run = TeachRun(row.file, row.exercise, row.gt)
        try:
            run.taught = teach_reps(
                demos[row.file], "taught_" + row.exercise, reps=row.gt if tell_reps else None
            )
        except TeachError as exc:
            run.error = exc.message
        runs[row.file] = run
    return runs


def other_clip(
    rows: list[ManifestRow], demos: dict[str, Demo], runs: dict[str, TeachRun]
) -> list[ClipResult]:
    """Every target clip counted by the rules taught from every other clip of its exercise."""
    by_ex: dict[str, list[ManifestRow]] = defaultdict(list)
    for row in rows:
        if not row.is_hold and row.file in demos:
            by_ex[row.exercise].append(row)
    results = []
    for ex, clips in by_ex.items():
        if len(clips) < 2:
            continue
        for target in clips:
            for teacher in clips:
                if teacher is target:
                    continue
                res = ClipResult(
                    target.file, ex, target.gt, None, target.gt_min, target.gt_max, source=teacher.file
                )
                run = runs[teacher.file]
                if run.taught is None:
                    res.error = f"nothing taught from {teacher.file}: {run.error}"
                else:
                    res.pred, res.no_reps = _count(run.taught.rule, demos[target.file])
                    res.attempts = res.pred + res.no_reps
                results.append(res)
    return results


def prefix(demo: Demo, t_end: float) -> Demo:
    keep = demo.times <= t_end
    n = int(keep.sum())
    return Demo(demo.poses[:n], demo.times[:n], demo.fps, demo.source, ends_at_rest=False)


def _period(taught) -> float:
    reps = taught.reps
    return float(np.median([e.duration_s for e in reps])) if reps else 0.0


def first_n(demo: Demo, n: int, name: str) -> tuple[float, Any, float] | None:
    """(seconds, taught, cut) for the shortest start of ``demo`` in which the teacher (strict: three
    body parts agreeing) finds ``n`` reps; the reps after ``cut`` are the ones still to count. The
    start grows a second at a time; when one second brings more than ``n`` (a fast movement), the
    lengths in between are tried a quarter second apart, and if none holds exactly ``n`` the
    longer start is taught and ``cut`` is the end of its ``n``-th rep. A faster part of the
    movement reaches ``n`` first (the hips of a burpee bend twice in each one), so the start keeps
    growing up to three times as long, and a movement with reps at least 1.6 times as long that
    reaches ``n`` there is taken instead: a rep is the longest cycle the body repeats."""
    t0, t_last = float(demo.times[0]), float(demo.times[-1])

    def taught_at(length: float):
        try:
            return teach_reps(prefix(demo, t0 + length), name, strict=True)
        except TeachError:
            return None

    def at(length: float):
        taught = taught_at(length)
        return taught if taught is not None and taught.count == n else None

    length = 2.0
    first = cut = None
    while first is None and t0 + length <= t_last + GROW_S:
        taught = taught_at(length)
        if taught is not None and taught.count == n:
            first = taught
        elif taught is not None and taught.count > n:
            first, fine = _between(at, length - GROW_S, length)
            if first is not None:
                length = fine
            else:
                first, cut = taught, taught.reps[n - 1].t_end
        else:
            length += GROW_S
    if first is None:
        return None
    period = _period(first)
    longer = length + GROW_S
    while longer <= 3.0 * length and t0 + longer <= t_last + GROW_S:
        other = at(longer)
        if other is not None and other.signal_name != first.signal_name and _period(other) >= 1.6 * period:
            return longer, other, t0 + longer
        longer += GROW_S
    return length, first, t0 + length if cut is None else cut


def _between(at, lo: float, hi: float) -> tuple[Any, float]:
    """The first start length after ``lo`` (FINE_S apart, before ``hi``) ``at`` accepts: (taught, length)."""
    length = lo + FINE_S
    while length < hi - 1e-9:
        if length >= 1.0 and (taught := at(length)) is not None:
            return taught, length
        length += FINE_S
    return None, hi


def first_reps(row: ManifestRow, demo: Demo, n: int = FIRST_REPS) -> tuple[ClipResult | None, dict]:
    """Teach from the shortest start of the clip with ``n`` reps; predict n + the reps after it.
    None (and why, in the info) for a clip of ``n`` reps or fewer: nothing is left to count."""
    res = ClipResult(row.file, row.exercise, row.gt, None, row.gt_min, row.gt_max)
    info: dict[str, Any] = {"file": row.file}
    if row.gt_max <= n:
        info["skipped"] = f"{row.gt} reps: nothing left after the first {n}"
        return None, info
    found = first_n(demo, n, "taught_" + row.exercise)
    if found is None:
        res.error = f"no {n} reps found in any start of the clip"
        return res, info
    length, taught, cut = found
    events = count_demo(taught.rule, demo)
    later = sum(e.kind == "rep" and e.t_end > cut for e in events)
    res.pred = n + later
    res.no_reps = sum(e.kind == "no_rep" and e.t_end > cut for e in events)
    res.attempts = res.pred + res.no_reps
    res.source = f"first {length:g} s"
    info.update(learnt_from_s=round(length, 2), features=taught.members, counted_after_s=round(cut, 2))
    return res, info


def holds(rows: list[ManifestRow], demos: dict[str, Demo]) -> list[ClipResult]:
    out = []
    for row in rows:
        if not row.is_hold or row.file not in demos:
            continue
        res = ClipResult(
            row.file, row.exercise, 0, None, gt_hold_s=row.gt_hold_s, source="taught from itself"
        )
        try:
            taught = teach_hold(demos[row.file], "taught_" + row.exercise)
            res.pred_hold_s = taught.held_s
        except TeachError as exc:
            res.error = exc.message
        out.append(res)
    return out


def similarity(rows: list[ManifestRow], demos: dict[str, Demo], catalog: Any) -> dict:
    """Scores of clean reps (leave one out), of no-reps and faulted reps, and of the clip against itself."""
    from hiitpi.teach.record import clean_reps, record_reference, score_events

    clips = []
    all_full: list[float] = []
    all_flagged: list[float] = []
    self_min = None
    for row in rows:
        if row.is_hold or row.file not in demos:
            continue
        try:
            rule = catalog.workout(row.exercise)
        except KeyError:
            continue
        demo = demos[row.file]
        events = count_demo(rule, demo)
        clean = clean_reps(events)
        flagged = [e for e in events if e.kind == "no_rep"] + [
            e for e in events if e.kind == "rep" and e not in clean
        ]
        if len(clean) < 2:
            continue
        ref = record_reference(rule, demo, clean)
        selfs = [s.score for s in score_events(ref, demo, clean, events) if s is not None]
        full = []
        for c in clean:
            others = record_reference(rule, demo, [x for x in clean if x is not c])
            s = score_events(others, demo, [c], events)[0]
            if s is not None:
                full.append(s.score)
        flag = []
        for e, s in zip(flagged, score_events(ref, demo, flagged, events), strict=True):
            if s is not None:
                flag.append(
                    {"score": s.score, "deviation": s.deviation, "kind": e.kind, "reason": _reason(e, events)}
                )
        d: dict[str, Any] = {
            "file": row.file,
            "self_min": min(selfs) if selfs else None,
            "full": sorted(round(x, 1) for x in full),
        }
        if flag:
            d["flagged"] = flag
        clips.append(d)
        all_full += full
        if selfs:
            self_min = min(selfs) if self_min is None else min(self_min, min(selfs))
        if flag:
            all_flagged += [f["score"] for f in flag]
    flagged_clips = [c for c in clips if c.get("flagged")]
    return {
        "self_min": self_min,
        "full_median": _median(all_full),
        "flagged_median": _median(all_flagged),
        "flagged_clips": [
            {
                "file": c["file"],
                "full_median": _median(c["full"]),
                "flagged_median": _median([f["score"] for f in c["flagged"]]),
                "lower": _median([f["score"] for f in c["flagged"]]) < _median(c["full"]),
            }
            for c in flagged_clips
        ],
        "clips": clips,
    }


def _reason(e, events) -> str | None:
    if e.reason:
        return e.reason
    faults = [f.reason for f in events if f.kind == "fault" and e.t_start - 1e-6 <= f.t_end <= e.t_end + 1e-6]
    return faults[0] if faults else None


def _median(xs) -> float | None:
    return None if not len(xs) else round(float(np.median(xs)), 1)


def evaluate(
    rows: list[ManifestRow],
    demos: dict[str, Demo],
    catalog: Any = None,
    *,
    tell_reps: bool = True,
    progress: bool = False,
) -> dict:
    """The whole report (see the module doc)."""
    from tqdm import tqdm

    runs = teach_all(rows, demos, tell_reps)
    report = summarize(other_clip(rows, demos, runs), key="file")
    report["teachers"] = [r.to_dict() for r in runs.values()]
    first, infos = [], []
    for row in tqdm(
        [r for r in rows if not r.is_hold and r.file in demos],
        desc="first reps",
        disable=not progress,
        leave=False,
    ):
        res, info = first_reps(row, demos[row.file])
        if res is not None:
            first.append(res)
        infos.append(info)
    report["first_reps"] = summarize(first, key="file")
    report["first_reps"]["learnt_from"] = infos
    hold = summarize(holds(rows, demos), key="file")
    report["holds"] = hold.get("holds")
    report["hold_clips"] = hold["clips"]
    if catalog is not None:
        report["similarity"] = similarity(rows, demos, catalog)
    return report


def format_report(report: dict) -> str:
    from hiitpi.referee.evaluate import format_table

    lines = [
        "Rules taught from another clip of the same exercise (every ordered pair):",
        format_table({k: v for k, v in report.items() if k != "holds"}),  # the holds: their own line below
    ]
    fr = report["first_reps"]
    lines += ["", f"Rules taught from the first {FIRST_REPS} reps of the same clip:", format_table(fr)]
    h = report.get("holds")
    if h:
        lines.append(
            f"taught holds: {h['n']} clip(s), mean error {h['mean_err_s']:.2f} s ({100 * h['mean_rel_err']:.1f} %)"
        )
    sim = report.get("similarity")
    if sim:
        lines += [
            "",
            f"similarity: clips against themselves, lowest {sim['self_min']}; clean reps (leave one out) "
            f"median {sim['full_median']}; no-reps and faulted reps median {sim['flagged_median']}",
        ]
        for c in sim["flagged_clips"]:
            lines.append(
                f"  {c['file']}: clean median {c['full_median']}, flagged median {c['flagged_median']}"
                f" ({'lower' if c['lower'] else 'NOT lower'})"
            )
    return "\n".join(lines)
