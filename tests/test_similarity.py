"""The similarity score's properties: a rep against itself is 100, a slower or unevenly paced rep of
the same shape scores alike (time-warped), a shallow rep scores lower and names the part that fell
short, the view decides which reference reps are compared, and the referee's hook scores reps as
they are called. The trajectories are one real rep of the shared squat clip, measured by MoveNet."""

from __future__ import annotations

import numpy as np
import pytest

from hiitpi.referee.reference import Reference, RefRep, load_reference, save_reference
from hiitpi.referee.similarity import RepScorer, dtw, resample, score_trajectory

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def squat(tmp_path_factory, model_mirror, shared_data):
    """The built-in squat's reference from the wahoo clip, and the clip's raw rep trajectories."""
    from hiitpi.config import load_settings
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.features import make_feature
    from hiitpi.teach.bank import measure
    from hiitpi.teach.learn import count_demo
    from hiitpi.teach.record import clean_reps, record_reference
    from hiitpi.teach.session import load_demo
    from tests.conftest import REPO

    tmp = tmp_path_factory.mktemp("sim")
    settings = load_settings(
        None, env={}, overrides={("general", "data_dir"): str(tmp), ("models", "mirror"): str(model_mirror)}
    )
    demo = load_demo(shared_data / "clips" / "squat/wahoo_squats_trim.mp4", settings, progress=False)
    rule = load_catalog(REPO / "rules").workout("squat")
    events = count_demo(rule, demo)
    reps = clean_reps(events)
    ref = record_reference(rule, demo, reps)
    specs = ref.feature_specs()
    feats = measure(
        [make_feature(s, ref.min_score) for s in specs.values()], demo.poses, demo.times, ref.min_score
    )
    trajs = []
    for e in reps:
        sel = (demo.times >= e.t_start) & (demo.times <= e.t_end)
        trajs.append({k: v[sel] for k, v in feats.items()})
    valid = {k: tuple(s.views) for k, s in specs.items()}
    return {"ref": ref, "trajs": trajs, "valid": valid, "demo": demo, "rule": rule, "events": events}


def _one_rep_reference(ref: Reference, traj: dict) -> Reference:
    """A reference made of this one rep only."""
    values = {k: [float(x) for x in resample(np.asarray(v, float), ref.points)] for k, v in traj.items()}
    return Reference(ref.workout, ref.features, ref.parts, ref.scale, {"side": [RefRep(0.0, 1.0, values)]})


def test_a_rep_against_itself_scores_100(squat):
    traj = squat["trajs"][0]
    ref = _one_rep_reference(squat["ref"], traj)
    sim = score_trajectory(traj, ref, "side", squat["valid"])
    assert sim is not None and sim.score >= 99.9 and sim.distance < 1e-6


def test_tempo_does_not_count_against_form(squat):
    """The same rep twice as slow, and with a slow way down and a fast way up, scores alike."""
    traj = squat["trajs"][0]
    ref = _one_rep_reference(squat["ref"], traj)
    n = len(next(iter(traj.values())))
    slow = {k: np.interp(np.linspace(0, n - 1, 2 * n), np.arange(n), v) for k, v in traj.items()}
    # uneven: the first half of the rep stretched over 70 % of the time
    u = np.linspace(0, 1, 2 * n)
    warp = np.where(u < 0.7, u / 0.7 * 0.5, 0.5 + (u - 0.7) / 0.3 * 0.5) * (n - 1)
    uneven = {k: np.interp(warp, np.arange(n), v) for k, v in traj.items()}
    for variant in (slow, uneven):
        assert score_trajectory(variant, ref, "side", squat["valid"]).score >= 95


def test_a_shallow_rep_scores_lower_and_says_where(squat):
    traj = squat["trajs"][0]
    ref = _one_rep_reference(squat["ref"], traj)
    full = score_trajectory(traj, ref, "side", squat["valid"]).score
    # half the depth: knees and standing height go only half the way from where the rep started
    shallow = dict(traj)
    for k in ("knee", "stand", "hip"):
        v = np.asarray(traj[k], float)
        shallow[k] = v[0] + 0.5 * (v - v[0])
    sim = score_trajectory(shallow, ref, "side", squat["valid"])
    assert sim.score < full - 10
    assert sim.deviation in ("knees", "hips", "body height")


def test_the_view_decides_what_is_compared(squat):
    traj = squat["trajs"][0]
    ref = _one_rep_reference(squat["ref"], traj)  # recorded from the side
    assert score_trajectory(traj, ref, "oblique", squat["valid"]) is not None  # a neighbouring view
    assert score_trajectory(traj, ref, "front", squat["valid"]) is None  # no reference from the front
    assert score_trajectory(traj, ref, "above", squat["valid"]) is None


def test_dtw_aligns_a_shifted_peak():
    t = np.linspace(0, 1, 40)
    a = np.exp(-(((t - 0.4) / 0.1) ** 2))[:, None]
    b = np.exp(-(((t - 0.5) / 0.1) ** 2))[:, None]
    warped, _ = dtw(a, b)
    straight = float(np.mean((a - b) ** 2))
    assert warped < 0.2 * straight


def test_the_referee_hook_scores_reps_as_they_are_called(squat, tmp_path):
    """`Referee.scorer`: the live path (a buffer of features, scored at each rep event) gives the
    clip's own reps 100 against a reference of the clip; the reference survives a save and load."""
    from hiitpi.referee.machine import Referee

    path = save_reference(squat["ref"], tmp_path / "squat.reference.json")
    ref = load_reference(path)
    referee = Referee(squat["rule"])
    referee.scorer = RepScorer(ref)
    events = []
    for pose, t in zip(squat["demo"].poses, squat["demo"].times, strict=True):
        events += referee.update(pose, float(t))
    events += referee.finish()
    reps = [e for e in events if e.kind == "rep"]
    assert len(reps) == 10
    assert all(e.similarity is not None and e.similarity >= 95 for e in reps), [e.similarity for e in reps]
    assert all(e.deviation for e in reps)
    assert "similarity" in reps[0].to_dict()


def test_a_broken_reference_is_one_line(tmp_path):
    from hiitpi.referee.reference import ReferenceError

    bad = tmp_path / "x.reference.json"
    bad.write_text('{"workout": "x", "version": 1}')
    with pytest.raises(ReferenceError, match="not a usable reference"):
        load_reference(bad)
    bad.write_text("{")
    with pytest.raises(ReferenceError, match="not JSON"):
        load_reference(bad)
