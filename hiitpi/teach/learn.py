"""Teach by demonstration: a demo's poses → an ordinary rules file (and the reps it found).

1. Every candidate feature (`hiitpi.teach.bank`) is measured on the demo; the ones that move
   enough are cut into swings (`hiitpi.teach.periodic`) and ranked by how many others, on other
   body parts, turn at the same moments.
2. The best-ranked candidate and up to two that agree with it (other body parts) become
   calibrated features (`calibrate = {start, far, min_travel, max_travel}` from the demo's own
   turning points: the person's travel, with a floor and a ceiling around what they showed), and
   their mean decides two states, the start and the far position, as in the built-in rules.
3. The rep's timing limits come from the demo's cycles, the views from the camera view the demo
   was seen in, and the result is run through the real referee on the demo itself: the reps it
   counts there are the reps the person is shown. With ``reps`` (how many the person did) the
   first candidate whose rule counts that many on the demo is taken.

A demo without a repeating movement is taught as a hold (``hold=True``): the features that stay
still become a state with a band around their held value, and the clock runs while the body is in it.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hiitpi.errors import InputError
from hiitpi.pose.types import Pose
from hiitpi.referee.events import RefEvent
from hiitpi.referee.machine import Referee
from hiitpi.referee.rules import Rule
from hiitpi.referee.view import ViewDetector
from hiitpi.teach.bank import BY_KEY, CANDIDATES, Candidate, series
from hiitpi.teach.periodic import CORE_PARTS, Swings, align, clearly_seen, orient, rank, swings
from hiitpi.teach.sides import moving_side, sided_found

log = logging.getLogger(__name__)

#: at most this many features make the taught movement
MAX_MEMBERS = 3
#: the calibration's floor and ceiling around the travel the demo showed
FLOOR_SHARE = 0.35
CEILING_SHARE = 1.6
#: how many of the ranked candidates are tried as the primary feature
TRY_PRIMARIES = 6


class TeachError(InputError):
    """A demonstration nothing can be learnt from; the message says why, the hint what to do."""


@dataclass
class Demo:
    """A demonstration: smoothed poses with their times, the frame rate and where it came from."""

    poses: list[Pose | None]
    times: np.ndarray
    fps: float
    source: str = ""
    #: the demo ends at the person's start position (False: a clip cut short, mid-movement)
    ends_at_rest: bool = True

    @property
    def duration_s(self) -> float:
        return float(self.times[-1] - self.times[0]) if len(self.times) > 1 else 0.0

    def clearly_seen(self) -> tuple[float, float]:
        """From when until when the person is clearly seen (`hiitpi.teach.periodic.clearly_seen`)."""
        scores = np.array([0.0 if p is None else p.score for p in self.poses])
        return clearly_seen(self.times, scores)

    def seen_share(self) -> float:
        return sum(p is not None for p in self.poses) / max(len(self.poses), 1)


@dataclass
class Taught:
    """What was learnt: the rules document (a dict in the rules format), the rule it validates to,
    the features it decides on, the reps the referee found in the demo, the plotted signal."""

    name: str
    kind: str
    doc: dict
    rule: Rule
    members: list[str]
    view: str | None
    events: list[RefEvent]
    signal: np.ndarray  # the plotted feature over the demo (the primary, in its own units)
    signal_name: str
    times: np.ndarray
    notes: list[str] = field(default_factory=list)
    comments: dict[str, str] = field(default_factory=dict)
    #: a hold: the seconds the clock ran on the demo
    held_s: float = 0.0

    @property
    def reps(self) -> list[RefEvent]:
        return [e for e in self.events if e.kind == "rep"]

    @property
    def count(self) -> int:
        return len(self.reps)


# --------------------------------------------------------------------------------------------


def demo_view(demo: Demo, min_score: float = 0.2) -> str | None:
    """The camera view the demo was mostly seen in (None: too little of the body was seen)."""
    det = ViewDetector(min_score)
    views: Counter = Counter()
    for pose, t in zip(demo.poses, demo.times, strict=True):
        if pose is None:
            continue
        px = (pose.keypoints * np.array([pose.width, pose.height, 1.0], dtype=np.float32)).tolist()
        v = det.update(px, float(t))
        if v is not None:
            views[v] += 1
    return views.most_common(1)[0][0] if views else None


#: a cue names the demo's up when this share of its poses vote, and this share of the votes say upright
UP_CUE_VOTING = 0.5
UP_CUE_UPRIGHT = 0.9


def demo_up_cue(demo: Demo, min_score: float = 0.2) -> str:
    """How the body shows which way is up in the demonstrated exercise (`hiitpi.referee.orientation`):
    the first cue — standing, hands under the shoulders, knees bent up or sitting up — that most of
    the demo's poses read and that reads it upright; "none" when none does (the taught rules then do
    not read a camera on its side)."""
    from hiitpi.referee.orientation import CUES

    pxs = [
        (p.keypoints * np.array([p.width, p.height, 1.0], dtype=np.float32)).tolist()
        for p in demo.poses
        if p is not None
    ]
    for cue in ("standing", "hands", "knees"):
        votes = [v for v in (CUES[cue](px, min_score) for px in pxs) if v is not None]
        if pxs and len(votes) >= UP_CUE_VOTING * len(pxs) and votes.count(0) >= UP_CUE_UPRIGHT * len(votes):
            return cue
    return "none"


def check_person(demo: Demo, source: str) -> None:
    if not demo.poses or demo.seen_share() < 0.3:
        raise TeachError(
            f"no person found in {source}: a body was seen in {100 * demo.seen_share():.0f}% of the frames",
            "film the whole body, well lit, about 2-4 m from the camera",
        )


def _round(v: float, unit: float) -> float:
    return float(round(v / unit) * unit)


def _units(spec: dict) -> float:
    """The rounding step of a feature's values in the written file."""
    if spec["type"] in ("angle", "tilt"):
        return 1.0
    return 0.01


def _calibrate(sw: Swings, spec: dict) -> dict:
    u = _units(spec)
    start, far = sw.start_value, sw.far_value
    travel = max(abs(far - start), u)
    cal = {
        "start": _round(start, u),
        "far": _round(far, u),
        "min_travel": _round(max(FLOOR_SHARE * travel, u), u),
        "max_travel": _round(CEILING_SHARE * travel, u),
    }
    if cal["start"] == cal["far"]:
        cal["far"] = cal["start"] + (u if far > start else -u)
    return cal


STATE_NAMES = {
    # type: (start is the high end, start is the low end)
    "angle": (("straight", "bent"), ("bent", "straight")),
    "height": (("up", "down"), ("down", "up")),
    "distance": (("apart", "together"), ("together", "apart")),
    "tilt": (("leaning", "upright"), ("upright", "leaning")),
    "offset": (("low", "high"), ("high", "low")),
}


def _cycles(sw: Swings) -> list[float]:
    """Durations of the demo's cycles: between consecutive far turning points (of each side, for
    a movement taught per side)."""
    if sw.sides is not None:
        return [c for side in sw.sides for c in _cycles(side)]
    return [b - a for a, b in zip(sw.far_t[:-1], sw.far_t[1:], strict=True)]


def build_reps_doc(
    name: str, primary: Swings, members: list[Swings], view: str | None, title: str = "", up_cue: str = "none"
) -> tuple[dict, dict[str, str]]:
    """The rules document of a taught rep workout, and the comment for each feature key."""
    features: dict[str, dict] = {}
    comments: dict[str, str] = {}
    for sw in members:
        cand = BY_KEY[sw.key]
        spec = dict(cand.spec)
        spec["calibrate"] = _calibrate(sw, spec)
        features[sw.key] = spec
        what = cand.what if sw.sides is None else _each_side(cand.what)
        comments[sw.key] = (
            f"{what}: {_fmt(sw.start_value)} at the start, {_fmt(sw.far_value)} at the far "
            f"position in the demo (calibrated: measured in the person's own travel)"
        )
    deciding = members[0].key
    if len(members) > 1:
        deciding = "move"
        features["move"] = {"type": "mean", "of": [m.key for m in members]}
        comments["move"] = "the movement's travel: the mean of the calibrated features above"
    ptype = BY_KEY[primary.key].spec["type"]
    start_name, far_name = STATE_NAMES[ptype][0 if primary.start_high else 1]
    cycles = _cycles(primary) or [primary.coverage and 2.0]
    shortest, longest = min(cycles), max(cycles)
    part = BY_KEY[primary.key].part
    doc = _doc(
        name, title, "reps", f"Taught by demonstration: {len(primary.far_t)} reps, {part} leading.", view, up_cue,
        min_dwell_s=round(min(0.1, max(0.04, 0.08 * shortest)), 2),
        features=features,
        states=[
            {"name": start_name, "when": [{"feature": deciding, "below": 0.35}]},
            {"name": far_name, "when": [{"feature": deciding, "above": 0.65}]},
        ],
        rep={
            "start": start_name,
            "sequence": [far_name],
            "partial": {"feature": deciding, "above": 0.5},
            "partial_reason": f"not the full movement ({part})",
            "min_s": round(min(0.6, max(0.2, 0.2 * shortest)), 2),
            "max_s": round(min(60.0, max(4.0, 3.0 * longest)), 1),
            "rom": {"feature": deciding, "start": 0.0, "full": 1.0},
        } | ({"each_side": True, "alternate": True} if primary.sides is not None else {}),
    )  # fmt: skip
    calibrated = ", ".join(m.key for m in members)
    comments["states"] = (
        f"{calibrated} {'is' if len(members) == 1 else 'are'} calibrated (`calibrate`): measured in the "
        f"person's own travel, 0 at their {start_name} position, 1 at their {far_name} position. "
        f"{start_name}: back within 35 % of the way; {far_name}: past 65 %."
    )
    if primary.sides is not None:
        comments["states"] += (
            " The sides alternated in the demo: one machine per side (each_side), each side in its own travel."
        )
    comments["rep"] = (
        f"timing from the demo's reps ({shortest:.2f} s to {longest:.2f} s): no longer than min_s is noise, "
        "a rep that has not reached the far position within max_s is dropped"
    )
    return doc, comments


def _each_side(what: str) -> str:
    """A candidate's description for a rule counted per side: "knee bend, each side on its own"."""
    for both in ("both legs averaged", "both sides averaged", "both averaged"):
        if both in what:
            return what.replace(both, "each side on its own")
    return f"{what} (each side on its own)"


def _doc(
    name: str, title: str, kind: str, description: str, view: str | None, up_cue: str = "none", **rest: Any
) -> dict:
    """A taught rules document: its header (the view the demo was seen in, when known; how the body
    shows which way is up, when it does), then ``rest``."""
    doc: dict[str, Any] = {
        "name": name,
        "title": title or name.replace("_", " ").capitalize(),
        "kind": kind,
        "description": description,
    }
    if view:
        doc["views"] = [view]
    doc["min_score"] = 0.2
    if up_cue != "none":
        doc["up_cue"] = up_cue
    return doc | rest


def _fmt(v: float) -> str:
    return f"{v:.0f}" if abs(v) >= 10 else f"{v:.2f}"


def _members(primary: Swings, ranked: list[Swings]) -> list[Swings]:
    """The primary and up to two candidates that agree with it, each on another body part, all
    turned the same way round (the start end decided by their vote)."""
    agreeing = [sw for sw in ranked if sw.key in primary.agrees_with]
    primary = orient(primary, agreeing)
    out = [primary]
    parts = {BY_KEY[primary.key].part}
    core = BY_KEY[primary.key].part in CORE_PARTS
    for sw in ranked:
        if len(out) >= MAX_MEMBERS:
            break
        if sw.key == primary.key or sw.key not in primary.agrees_with:
            continue
        part = BY_KEY[sw.key].part
        if part in parts or (core and part not in CORE_PARTS):
            continue
        if (sw.sides is None) != (primary.sides is None):
            continue  # a movement taught per side is decided on per-side features only
        out.append(align(primary, sw))
        parts.add(part)
    return out


def count_demo(rule: Rule, demo: Demo) -> list[RefEvent]:
    """The referee of ``rule`` over the demo's (already smoothed) poses, finished."""
    return run_demo(rule, demo)[0]


def run_demo(rule: Rule, demo: Demo) -> tuple[list[RefEvent], Referee]:
    """The referee of ``rule`` over the demo, finished: its events and the referee (its hold time)."""
    ref = Referee(rule)
    events: list[RefEvent] = []
    for pose, t in zip(demo.poses, demo.times, strict=True):
        events.extend(ref.update(pose, float(t)))
    events.extend(ref.finish())
    return events, ref


def teach_reps(
    demo: Demo,
    name: str,
    *,
    reps: int | None = None,
    title: str = "",
    candidates: tuple[Candidate, ...] = CANDIDATES,
    strict: bool = False,
) -> Taught:
    """Learn a rep workout from a demo (see the module doc). Raises `TeachError`.

    A primary feature is taken only if features on at least two other body parts agree with it;
    without ``strict``, one other part will do when no candidate has two."""
    from hiitpi.teach.tomlwrite import parse_text, render

    source = demo.source or "the demonstration"
    check_person(demo, source)
    feats = series(demo.poses, demo.times, candidates)
    found = {}
    seen = demo.clearly_seen()
    for c in candidates:
        sw = swings(c.key, c.spec, demo.times, feats[c.key], use_end=demo.ends_at_rest, seen=seen)
        if sw is not None and sw.count >= 1:
            found[c.key] = sw
    if not found:
        raise TeachError(
            f"no periodic movement found in {source}: nothing on the body moved back and forth",
            "do at least three full reps facing the camera; for a held position (a plank, a yoga "
            "pose) teach a hold instead (--hold)",
        )
    sided = sided_found(demo, candidates)
    if sided:
        log.info("%s: the sides alternate (%s): taught per side", source, ", ".join(sided))
        found.update(sided)
    ranked = rank(found, {c.key: c.part for c in candidates})
    view = demo_view(demo)
    up_cue = demo_up_cue(demo)
    parts = {c.key: c.part for c in candidates}

    def other_parts(sw: Swings) -> int:
        return len({parts[k] for k in sw.agrees_with} - {parts[sw.key]})

    tried: list[tuple[int, Taught]] = []
    need = 2 if strict or any(other_parts(sw) >= 2 for sw in ranked[:TRY_PRIMARIES]) else 1
    # an alternating movement is decided on the part whose sides are most clearly opposed
    primaries = [found[k] for k in sided] if sided else ranked[:TRY_PRIMARIES]
    for primary in primaries:
        if primary.count < 2 or (other_parts(primary) < need and not sided):
            continue
        members = _members(primary, ranked)
        doc, comments = build_reps_doc(name, members[0], members, view, title, up_cue)
        signal = feats[primary.key]
        if members[0].sides is not None:
            signal = moving_side(BY_KEY[primary.key], demo, members[0].start_high)
        rule = parse_text(render(doc, name, comments), f"<taught {name}>")
        events = count_demo(rule, demo)
        taught = Taught(
            name, "reps", doc, rule, [m.key for m in members], view, events,
            signal, primary.key, demo.times, comments=comments,
        )  # fmt: skip
        log.debug(
            "teach %s: primary %s members %s → %d reps", name, primary.key, taught.members, taught.count
        )
        if reps is None:
            if taught.count >= 2:
                return taught
            tried.append((abs(taught.count - primary.count), taught))
            continue
        if taught.count == reps:
            return taught
        tried.append((abs(taught.count - reps), taught))
    if tried:
        tried.sort(key=lambda x: x[0])
        best = tried[0][1]
        if best.count >= 2:
            if reps is not None:
                best.notes.append(f"found {best.count} reps in the demo, not the {reps} you said")
            return best
    raise TeachError(
        f"no periodic movement found in {source}: no part of the body went back and forth at "
        "least twice in step with another",
        "do at least three full, steady reps with the whole body in view; for a held position (a "
        "plank, a yoga pose) teach a hold instead (--hold)",
    )


# --------------------------------------------------------------------------------------------
# holds

#: the features a held position is recognised by: angles and a tilt, which do not depend on
#: how far the person is from the camera
HOLD_KEYS: tuple[str, ...] = ("torso", "body_line", "hip", "knee", "elbow", "arm_raise")
#: the band around a held value: at least this many degrees either side
HOLD_TOLERANCE_DEG = 20.0
#: a feature that moves more than this (degrees, 10th to 90th percentile) is not held still
HOLD_MAX_SPREAD_DEG = 25.0
#: a part that moves more than this while the pose is "held" means the demo is no hold at all
HOLD_MOVING_DEG = 45.0


def teach_hold(demo: Demo, name: str, *, title: str = "") -> Taught:
    """Learn a timed hold from a demo of a static pose: the clock runs while every feature that
    stayed still in the demo is within a band around its held value. Raises `TeachError`."""
    from hiitpi.teach.tomlwrite import parse_text, render

    source = demo.source or "the demonstration"
    check_person(demo, source)
    cands = [BY_KEY[k] for k in HOLD_KEYS]
    feats = series(demo.poses, demo.times, cands)
    held: list[tuple[str, float, float, float]] = []  # key, median, spread, coverage
    moving: list[tuple[str, float]] = []
    for c in cands:
        x = feats[c.key]
        ok = ~np.isnan(x)
        if ok.mean() < 0.7:
            continue
        p10, med, p90 = np.percentile(x[ok], [10, 50, 90])
        spread = float(p90 - p10)
        if spread <= HOLD_MAX_SPREAD_DEG:
            held.append((c.key, float(med), spread, float(ok.mean())))
        elif spread > HOLD_MOVING_DEG:
            moving.append((c.part, spread))
    if moving:
        part, spread = max(moving, key=lambda m: m[1])
        raise TeachError(
            f"no held position found in {source}: the {part} moved {spread:.0f} degrees",
            "hold the position still for the whole clip; for a movement that repeats, teach reps (leave out --hold)",
        )
    if not held:
        raise TeachError(
            f"no held position found in {source}: every joint moved more than "
            f"{HOLD_MAX_SPREAD_DEG:.0f} degrees",
            "hold the position still for the whole clip, with the whole body in view; for a "
            "movement that repeats, teach reps (leave out --hold)",
        )
    held = held[:4]
    view = demo_view(demo)
    features: dict[str, dict] = {}
    comments: dict[str, str] = {}
    when, off = [], []
    for key, med, spread, _cov in held:
        cand = BY_KEY[key]
        features[key] = dict(cand.spec)
        tol = max(HOLD_TOLERANCE_DEG, 1.5 * spread)
        hi_limit = 90.0 if cand.spec["type"] == "tilt" else 180.0
        lo, hi = round(max(med - tol, 0.0)), round(min(med + tol, hi_limit))
        cond: dict[str, Any] = {"feature": key}
        if lo > 0:
            cond["above"] = lo
        if hi < hi_limit:
            cond["below"] = hi
        if len(cond) == 1:
            continue  # a band over the whole range says nothing
        when.append(cond)
        if lo > 0:
            off.append({"feature": key, "below": max(lo - 10, 1)})
        if hi < hi_limit:
            off.append({"feature": key, "above": min(hi + 10, hi_limit - 1)})
        comments[key] = f"{cand.what}: held at {med:.0f} in the demo (it moved {spread:.0f} while held)"
    if not when:
        raise TeachError(
            f"no held position found in {source}: the pose cannot be told from any other",
            "hold a clear position (a plank, a wall sit, a yoga pose) with the whole body in view",
        )
    states = [{"name": "hold", "when": when}]
    if off:
        states.append({"name": "off", "any": off})
    doc = _doc(
        name, title, "hold", f"Taught by demonstration: a held position ({', '.join(k for k, *_ in held)}).",
        view, demo_up_cue(demo), min_dwell_s=0.1, features=features, states=states, hold={"state": "hold", "tick_s": 1.0},
    )  # fmt: skip
    comments["states"] = (
        "the clock runs while every feature is within its band around the demonstrated pose; the band is "
        f"at least {HOLD_TOLERANCE_DEG:.0f} degrees either side"
    )
    rule = parse_text(render(doc, name, comments), f"<taught {name}>")
    events, referee = run_demo(rule, demo)
    key = held[0][0]
    return Taught(
        name, "hold", doc, rule, [k for k, *_ in held], view, events, feats[key], key, demo.times,
        comments=comments, held_s=referee.hold_s,
    )  # fmt: skip
