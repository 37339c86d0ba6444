"""The adaptive referee on synthetic movement: calibration to the person, camera views, states
decided by margin, frame rate, clips that start mid-rep, the two counting conventions."""

from __future__ import annotations

import math
from itertools import pairwise
from pathlib import Path

import pytest

from hiitpi.referee.calibrate import CalibrateSpec, Calibrator
from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.machine import Referee
from hiitpi.referee.rules import load_rule
from hiitpi.referee.synth import Figure, standing_figure
from hiitpi.referee.view import ViewDetector, body_ratios, classify

REPO = Path(__file__).resolve().parent.parent

#: a knee-bend rule on the knee's own travel: up within 30 % of the way, down past 70 %
TRAVEL_RULE = """\
name = "knee_travel"
min_score = 0.3
min_dwell_s = 0.1

[features]
knee = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean" }

[[states]]
name = "up"
when = [{ feature = "knee", below = 0.3 }]

[[states]]
name = "down"
when = [{ feature = "knee", above = 0.7 }]

[rep]
start = "up"
sequence = ["down"]
partial = { feature = "knee", above = 0.45 }
partial_reason = "not low enough"
min_s = 0.3
max_s = 4.0
"""

#: the same movement on absolute thresholds, as rules were before calibration
ABSOLUTE_RULE = TRAVEL_RULE.replace("below = 0.3", "above = 155").replace("above = 0.7", "below = 105")
ABSOLUTE_RULE = ABSOLUTE_RULE.replace("above = 0.45", "below = 140").replace("knee_travel", "knee_absolute")

KNEE_CAL = CalibrateSpec(start=175, far=90, min_travel=30, max_travel=120)


def with_features(rule, **changes):
    """``rule`` with some features' keys changed."""
    feats = dict(rule.features)
    for name, kw in changes.items():
        feats[name] = feats[name].model_copy(update=kw)
    return rule.model_copy(update={"features": feats})


@pytest.fixture()
def travel_rule(tmp_path):
    p = tmp_path / "knee_travel.toml"
    p.write_text(TRAVEL_RULE)
    return with_features(load_rule(p), knee={"calibrate": KNEE_CAL})


@pytest.fixture()
def absolute_rule(tmp_path):
    p = tmp_path / "knee_absolute.toml"
    p.write_text(ABSOLUTE_RULE)
    return load_rule(p)


def squats(
    n: int,
    bottom: float,
    fps: float = 30.0,
    period_s: float = 2.0,
    t0: float = 0.0,
    lead_s: float = 1.0,
    facing: float = 0.0,
):
    """Standing ``lead_s``, then ``n`` squats to ``bottom`` degrees of knee, standing 1 s after."""
    angles = [178.0] * round(lead_s * fps)
    for _ in range(n):
        m = int(period_s * fps)
        angles += [178.0 - (0.5 - 0.5 * math.cos(2 * math.pi * i / m)) * (178.0 - bottom) for i in range(m)]
    angles += [178.0] * int(fps)
    return [standing_figure(Figure(knee_deg=a, facing=facing), t0 + i / fps) for i, a in enumerate(angles)]


def run(ref: Referee, poses) -> list:
    events = []
    for p in poses:
        events += ref.update(p)
    return events + ref.finish()


# ---------------------------------------------------------------------------------------------
# calibration


def test_a_deeper_and_a_shallower_person_are_both_counted(travel_rule, absolute_rule):
    for bottom in (60.0, 125.0):  # a deep squatter, and one whose knees stop at 125 degrees
        ref = Referee(travel_rule)
        run(ref, squats(6, bottom))
        assert (ref.count, ref.no_reps) == (6, 0), bottom
    # absolute thresholds fitted to the deep squatter never see the shallow one go down
    ref = Referee(absolute_rule)
    run(ref, squats(6, 125.0))
    assert ref.count == 0


def test_calibration_follows_the_person_and_keeps_its_floor():
    cal = Calibrator(KNEE_CAL)
    t = 0.0
    for _ in range(6):  # squats from 175 to 95 degrees: 80 degrees of travel
        for a in (175.0, 150.0, 120.0, 95.0, 120.0, 150.0):
            cal.update(a, t)
            t += 0.2
    assert cal.rest == pytest.approx(175.0, abs=1.0)
    assert cal.travel == pytest.approx(80.0, abs=2.0)
    # a person who barely moves (10 degrees) is never scaled below the floor: their wobble is
    # not a full rep
    cal = Calibrator(KNEE_CAL)
    us = []
    for i in range(100):
        us.append(cal.update(175.0 - 10.0 * (i % 2), i * 0.2))
    assert cal.travel == 30.0 and max(us) < 0.5


def test_a_glitch_does_not_stretch_the_travel_past_real_reps(travel_rule):
    ref = Referee(travel_rule)
    poses = squats(8, 110.0)
    # one frame whose knee reads 20 degrees (a detection error), before the reps start
    glitch = standing_figure(Figure(knee_deg=20.0), poses[5].timestamp)
    poses[5] = glitch
    run(ref, poses)
    assert ref.count == 8


def test_a_lazy_first_rep_does_not_lower_the_bar(travel_rule):
    # the first rep stops at 160 degrees (18 of travel: under 70 % of the 30-degree floor): not a
    # rep, and the deep reps after it still are
    ref = Referee(travel_rule)
    lazy = squats(1, 160.0)
    deep = squats(4, 90.0, t0=lazy[-1].timestamp + 1 / 30)
    run(ref, lazy + deep)
    assert ref.count == 4


def knee_track(parts, fps: float = 30.0) -> list:
    """Knee angles: standing 1 s, then for each (reps, bottom, period_s, pause_s) that many bends to
    ``bottom`` degrees, each followed by ``pause_s`` standing; standing 1 s at the end."""
    angles = [178.0] * int(fps)
    for reps, bottom, period_s, pause_s in parts:
        m = int(period_s * fps)
        for _ in range(reps):
            angles += [
                178.0 - (0.5 - 0.5 * math.cos(2 * math.pi * i / m)) * (178.0 - bottom) for i in range(m)
            ]
            angles += [178.0] * int(pause_s * fps)
    return angles + [178.0] * int(fps)


def knee_poses(angles, fps: float = 30.0) -> list:
    return [standing_figure(Figure(knee_deg=a), i / fps) for i, a in enumerate(angles)]


def test_a_stale_travel_is_relearnt_from_a_steady_rhythm(travel_rule):
    # two very deep squats (the travel is learnt at its 120-degree ceiling), then a set of twelve
    # shallow ones (38 degrees) at a steady 1.2 s: their turning points never come back half of
    # 120 degrees, but after four steady cycles the travel is theirs and the rest are counted
    for counting in ("attempts", "judge"):
        ref = Referee(travel_rule, counting=counting)
        events = run(ref, knee_poses(knee_track([(2, 30.0, 2.0, 0.0), (12, 140.0, 1.2, 0.0)])))
        cal = ref._features[ref._fidx["knee"]].calibrator
        assert cal.relearnt == 1
        assert cal.travel == pytest.approx(38.0, abs=3.0)
        # the cycles of the rhythm it was re-learnt from, measured again on the new travel, count
        # too (late, marked): all but the one under way when it was re-learnt
        reps = [e for e in events if e.kind == "rep"]
        late = [e for e in reps if e.extra.get("recounted")]
        assert (ref.count, len(late), ref.no_reps) == (2 + 12 - 1, 3, 0), counting
        assert [e.count for e in reps] == list(range(1, 14))
        # each shallow squat once: no two reps overlap in time
        spans = sorted((e.t_start, e.t_end) for e in reps)
        assert all(b[0] >= a[1] - 1e-9 for a, b in pairwise(spans))
        assert late[0].t_start >= 5.0 and late[-1].t_end < 10.0
        assert ref.pace > 0 and list(ref.pace_meter._times) == sorted(ref.pace_meter._times)
    # without the deep ones nothing is stale: all twelve count and nothing is re-learnt
    ref = Referee(travel_rule, counting="attempts")
    run(ref, knee_poses(knee_track([(12, 140.0, 1.2, 0.0)])))
    assert (ref.count, ref._features[ref._fidx["knee"]].calibrator.relearnt) == (12, 0)


def test_fidgets_without_a_rhythm_do_not_relearn_the_travel():
    # six squats to 90 degrees, then small knee wiggles (32 degrees, just over the floor) at
    # irregular times: not a set, so the travel stays the squats' and the wiggles are not reps
    cal = Calibrator(KNEE_CAL)
    angles = knee_track([(6, 90.0, 2.0, 0.0)])
    for pause_s in (0.2, 3.0, 0.5, 4.0, 0.3, 2.5, 0.4, 3.5, 0.2, 3.0):
        angles += knee_track([(1, 146.0, 0.6, pause_s)])[30:-30]
    us = [cal.update(a, i / 30.0) for i, a in enumerate(angles)]
    assert cal.relearnt == 0
    assert cal.travel == pytest.approx(88.0, abs=3.0)
    assert max(us[-400:]) < 0.5
    # the same wiggles in a steady rhythm are a set of shallow reps: re-learnt
    cal = Calibrator(KNEE_CAL)
    for i, a in enumerate(knee_track([(6, 90.0, 2.0, 0.0), (10, 146.0, 0.6, 0.5)])):
        cal.update(a, i / 30.0)
    assert cal.relearnt == 1 and cal.travel == pytest.approx(32.0, abs=3.0)


# ---------------------------------------------------------------------------------------------
# frame rate, start and end of a clip


@pytest.mark.parametrize("workout", ["squat", "knee_travel"])
def test_30_and_60_fps_of_the_same_movement_count_the_same(workout, travel_rule):
    rule = travel_rule if workout == "knee_travel" else load_catalog(REPO / "rules").workout(workout)
    out = {}
    for fps in (30.0, 60.0):
        ref = Referee(rule)
        events = run(ref, squats(5, 85.0, fps=fps, period_s=1.6))
        out[fps] = [e.t_end for e in events if e.kind == "rep"]
    assert len(out[30.0]) == len(out[60.0]) == 5
    assert all(abs(a - b) <= 1 / 30 + 1e-6 for a, b in zip(out[30.0], out[60.0], strict=True))


def test_a_clip_that_starts_mid_rep(travel_rule):
    # first seen at the bottom: that half rep is not counted, the full ones after it are
    ref = Referee(travel_rule)
    poses = [standing_figure(Figure(knee_deg=90.0), i / 30) for i in range(10)]
    poses += squats(3, 90.0, t0=10 / 30, lead_s=0.0)
    for i in range(10):  # rising from that bottom
        poses.insert(10 + i, standing_figure(Figure(knee_deg=90.0 + 8.5 * (i + 1)), (10 + i) / 30))
    for i, p in enumerate(poses):
        p.timestamp = i / 30
    run(ref, poses)
    assert ref.count == 3


def test_finish_counts_a_rep_on_its_way_back_when_the_clip_ends(travel_rule):
    ref = Referee(travel_rule)
    poses = squats(2, 90.0)
    t = poses[-1].timestamp
    # a third squat: down to the bottom and half-way back up when the clip ends
    for i, a in enumerate([*[175 - 8.5 * k for k in range(1, 11)], *[90 + 5.0 * k for k in range(1, 9)]]):
        poses.append(standing_figure(Figure(knee_deg=a), t + (i + 1) / 30))
    for p in poses:
        ref.update(p)
    assert ref.count == 2
    (ev,) = ref.finish()
    assert ev.kind == "rep" and ref.count == 3
    # counting attempts (cycles, as RepCount-A and Countix label them) a cycle without its end
    # is not one: the same set ends at two
    ref = Referee(travel_rule, counting="attempts")
    for p in poses:
        ref.update(p)
    assert ref.count == 2 and ref.finish() == [] and (ref.count, ref.attempts) == (2, 2)
    # still at the bottom when the clip ends: not counted
    ref = Referee(travel_rule)
    for p in poses[: len(poses) - 8]:
        ref.update(p)
    assert ref.finish() == [] and ref.count == 2


# ---------------------------------------------------------------------------------------------
# counting conventions


def test_judge_calls_short_reps_and_attempts_counts_them_with_a_fault(travel_rule):
    def session(ref):
        poses = squats(3, 85.0)
        poses += squats(2, 125.0, t0=poses[-1].timestamp + 1 / 30, lead_s=0.3)
        poses += squats(1, 85.0, t0=poses[-1].timestamp + 1 / 30, lead_s=0.3)
        return run(ref, poses)

    judge = Referee(travel_rule)
    events = session(judge)
    assert (judge.count, judge.no_reps, judge.attempts) == (4, 2, 6)
    assert [e.reason for e in events if e.kind == "no_rep"] == ["not low enough"] * 2
    attempts = Referee(travel_rule, counting="attempts")
    events = session(attempts)
    assert (attempts.count, attempts.no_reps, attempts.attempts) == (6, 0, 6)
    short = [e for e in events if e.kind == "rep" and e.extra.get("full") is False]
    assert len(short) == 2
    assert [e.reason for e in events if e.kind == "fault"] == ["not low enough"] * 2
    with pytest.raises(ValueError, match="counting"):
        Referee(travel_rule, counting="every")


def test_attempts_do_not_count_fidgeting_after_the_set(travel_rule):
    ref = Referee(travel_rule, counting="attempts")
    poses = squats(3, 85.0)
    poses += squats(2, 125.0, t0=poses[-1].timestamp + 1 / 30, lead_s=0.3)  # then half-way dips
    run(ref, poses)
    assert ref.count == 3


# ---------------------------------------------------------------------------------------------
# states decided by margin, not by the order they are listed in

OVERLAP_RULE = """\
name = "overlap"
min_score = 0.3
min_dwell_s = 0.0

[features]
knee = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean" }
bend = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean" }

# 'up' is listed first and holds down to 120 degrees; 'down' holds from 135: between them both do
[[states]]
name = "up"
when = [{ feature = "knee", above = 120 }]

[[states]]
name = "down"
when = [{ feature = "bend", below = 135 }]

[rep]
start = "up"
sequence = ["down"]
min_s = 0.2
"""


def test_overlapping_states_are_decided_by_margin(tmp_path):
    p = tmp_path / "overlap.toml"
    p.write_text(OVERLAP_RULE)
    ref = Referee(load_rule(p))
    t = 0.0
    for a in [*[178.0] * 10, *[178 - 5.0 * k for k in range(1, 11)], *[124.0] * 10]:
        ref.update(standing_figure(Figure(knee_deg=a), t))
        t += 1 / 30
    # at 124 degrees both hold: 'up' by 4 degrees, 'down' by 11; the larger margin wins
    assert ref.phase == "down"
    for a in [*[124 + 5.0 * k for k in range(1, 11)], *[178.0] * 10]:
        ref.update(standing_figure(Figure(knee_deg=a), t))
        t += 1 / 30
    assert ref.count == 1


# ---------------------------------------------------------------------------------------------
# camera views


def test_the_view_is_read_from_the_body():
    def view_of(facing: float) -> str:
        det = ViewDetector()
        for i in range(30):
            pose = standing_figure(Figure(facing=facing), i / 30)
            det.update((pose.keypoints * [pose.width, pose.height, 1.0]).tolist(), i / 30)
        return det.view

    assert view_of(0.0) == "front"
    assert view_of(65.0) == "oblique"
    assert view_of(88.0) == "side"
    # boundaries have hysteresis: a ratio just past one keeps the current view
    assert classify(0.26, 1.0, "side") == "side" and classify(0.26, 1.0, None) == "oblique"
    assert classify(0.7, 0.3) == "above"
    lateral, torso = body_ratios([[0.0, 0.0, 0.0]] * 17, 0.2)
    assert lateral is None and torso is None


VIEW_RULE = (
    TRAVEL_RULE
    + """
[[checks]]
feature = "hips"
reach_above = 5.0
reason = "hips not seen square"
"""
)


def test_a_feature_decides_only_in_the_views_it_is_valid_in(tmp_path):
    p = tmp_path / "view.toml"
    p.write_text(
        VIEW_RULE.replace(
            'knee = { type = "angle"',
            'hips = { type = "distance", points = ["left_hip", "right_hip"] }\nknee = { type = "angle"',
        )
    )
    rule = with_features(load_rule(p), knee={"calibrate": KNEE_CAL}, hips={"views": ("side",)})

    def session(facing: float) -> Referee:
        ref = Referee(rule)
        run(ref, squats(3, 85.0, facing=facing))
        return ref

    # side on, the check (a width that can never reach 5 torso lengths) fails every rep; from the
    # front the feature is not valid and the reps count
    side = session(88.0)
    assert side.view == "side" and (side.count, side.no_reps) == (0, 3)
    front = session(0.0)
    assert front.view == "front" and (front.count, front.no_reps) == (3, 0)


def test_the_posture_that_gates_calibration_uses_only_the_features_valid_in_the_view(tmp_path):
    # both states need the hips seen overlapping (side on), a feature valid only side on: from the
    # front it neither decides a state nor stops the travel being learnt
    p = tmp_path / "posture.toml"
    p.write_text(
        TRAVEL_RULE.replace(
            'knee = { type = "angle"',
            'hips = { type = "distance", points = ["left_hip", "right_hip"] }\nknee = { type = "angle"',
        )
        .replace("below = 0.3 }]", 'below = 0.3 }, { feature = "hips", below = 0.3 }]')
        .replace("above = 0.7 }]", 'above = 0.7 }, { feature = "hips", below = 0.3 }]')
    )
    rule = with_features(load_rule(p), knee={"calibrate": KNEE_CAL}, hips={"views": ("side",)})
    # three squats to 85 degrees, then two to 150 (28 degrees: under a third of the learnt travel,
    # though most of the 30-degree floor a travel never learnt would have)
    for facing in (88.0, 0.0):
        ref = Referee(rule)
        deep = squats(3, 85.0, facing=facing)
        run(ref, deep + squats(2, 150.0, facing=facing, t0=deep[-1].timestamp + 1 / 30, lead_s=0.0))
        assert ref.view == ("side" if facing else "front")
        assert ref.count == 3, facing


def test_the_counting_convention_is_a_setting(tmp_path):
    from hiitpi.config import ConfigError, load_settings

    assert load_settings(None, env={}).referee.counting == "judge"
    cfg = tmp_path / "hiitpi.toml"
    cfg.write_text('[referee]\ncounting = "attempts"\n')
    assert load_settings(cfg, env={}).referee.counting == "attempts"
    cfg.write_text('[referee]\ncounting = "every"\n')
    with pytest.raises(ConfigError, match=r"hiitpi\.toml:2: referee\.counting"):
        load_settings(cfg, env={})
