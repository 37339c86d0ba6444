"""Record a reference: the reps of a demonstration, as the referee counts them, measured on one
feature per body part (`hiitpi.teach.bank.SHAPE_KEYS`) and kept per camera view."""

from __future__ import annotations

import logging
from collections import Counter
from datetime import UTC, datetime

import numpy as np

from hiitpi.referee.events import RefEvent
from hiitpi.referee.features import make_feature
from hiitpi.referee.reference import POINTS, Reference, RefRep
from hiitpi.referee.rules import Rule
from hiitpi.referee.similarity import resample
from hiitpi.referee.view import ViewDetector
from hiitpi.teach.bank import measure, series, shape_candidates
from hiitpi.teach.learn import Demo, count_demo
from hiitpi.teach.periodic import min_range

log = logging.getLogger(__name__)

#: a feature's scale is its range over the reference reps, but at least this many times the
#: smallest range that counts as moving (`hiitpi.teach.periodic.MIN_RANGE`): a part that hardly
#: moved in the demo is not judged to the degree
SCALE_FLOOR = 1.5


def frame_views(demo: Demo, min_score: float = 0.2) -> list[str | None]:
    det = ViewDetector(min_score)
    out: list[str | None] = []
    for pose, t in zip(demo.poses, demo.times, strict=True):
        if pose is None:
            out.append(det.view)
            continue
        px = (pose.keypoints * np.array([pose.width, pose.height, 1.0], dtype=np.float32)).tolist()
        out.append(det.update(px, float(t)))
    return out


def clean_reps(events: list[RefEvent]) -> list[RefEvent]:
    """The full reps with no fault called during them: what a reference is made of."""
    faults = [e for e in events if e.kind == "fault"]
    out = []
    for e in events:
        if e.kind != "rep" or e.extra.get("full") is False or e.extra.get("hidden"):
            continue
        if any(e.t_start - 1e-6 <= f.t_end <= e.t_end + 1e-6 for f in faults):
            continue
        out.append(e)
    return out


def alternates(rule: Rule) -> bool:
    """The workout's sides alternate (its reps say which side moved)."""
    return rule.rep is not None and bool(rule.rep.alternate or rule.rep.each_side)


def record_reference(rule: Rule, demo: Demo, events: list[RefEvent] | None = None) -> Reference:
    """The reference of ``rule`` from a demo: its clean reps (``events`` from the referee, else
    counted here) with the shape features resampled to `POINTS` values each."""
    if events is None:
        events = count_demo(rule, demo)
    reps = clean_reps(events)
    cands = shape_candidates(alternates(rule))
    feats = series(demo.poses, demo.times, cands, rule.min_score)
    views = frame_views(demo, rule.min_score)
    t = demo.times
    ref = Reference(
        workout=rule.name,
        features={c.key: dict(c.spec) for c in cands},
        parts={c.key: c.part for c in cands},
        scale={},
        min_score=rule.min_score,
        source=demo.source,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    spans = []
    for e in reps:
        sel = (t >= e.t_start - 1e-6) & (t <= e.t_end + 1e-6)
        if sel.sum() < 4:
            continue
        seen = Counter(v for v, s in zip(views, sel, strict=True) if s and v is not None)
        view = seen.most_common(1)[0][0] if seen else "front"
        values = {}
        for c in cands:
            r = resample(feats[c.key][sel], POINTS)
            values[c.key] = [None] * POINTS if r is None else [float(x) for x in r]
        side = e.side if alternates(rule) else None
        ref.views.setdefault(view, []).append(RefRep(e.t_start, e.t_end, values, side))
        spans.append(sel)
    for c in cands:
        vals = np.concatenate([feats[c.key][s] for s in spans]) if spans else np.array([])
        vals = vals[~np.isnan(vals)]
        rng = float(np.percentile(vals, 95) - np.percentile(vals, 5)) if len(vals) else 0.0
        ref.scale[c.key] = max(rng, SCALE_FLOOR * min_range(c.spec))
    log.info("reference of %s: %d reps from %s", rule.name, ref.reps, demo.source or "a demo")
    return ref


def score_events(
    ref: Reference, demo: Demo, events: list[RefEvent], session: list[RefEvent] | None = None
) -> list:
    """Offline: the `Similarity` (or None) of each rep or no-rep event of a demo against ``ref``
    (the features measured as the live `RepScorer` measures them). ``session``: all the events
    ``events`` are among, in order (default ``events``): for alternating sides, what each rep is
    compared with is the side the one before it calls for."""
    from hiitpi.referee.similarity import Alternation, score_trajectory

    expected = Alternation.expected_sides(session if session is not None else events)

    min_score = ref.min_score
    specs = ref.feature_specs()
    feats = measure([make_feature(s, min_score) for s in specs.values()], demo.poses, demo.times, min_score)
    views = frame_views(demo, min_score)
    valid = {k: tuple(s.views) for k, s in specs.items()}
    t = demo.times
    out = []
    for e in events:
        sel = (t >= e.t_start - 1e-6) & (t <= e.t_end + 1e-6)
        if sel.sum() < 2:
            out.append(None)
            continue
        seen = Counter(v for v, s in zip(views, sel, strict=True) if s and v is not None)
        view = seen.most_common(1)[0][0] if seen else None
        traj = {k: feats[k][sel] for k in specs}
        out.append(score_trajectory(traj, ref, view, valid, expected.get(id(e)) if ref.alternating else None))
    return out
