"""Teaching by demonstration on the real clips (MoveNet on the shared videos): a taught rules file is
an ordinary one (`hiitpi rules check` passes, the catalogue ignores its reference) and counts a
*different* clip of the exercise; a held pose is taught as a hold and timed on the plank clip; the
teacher says why when there is nothing to learn. Poses are computed once per test session (a pose
cache of its own)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hiitpi.errors import InputError
from hiitpi.pose.upright import pose_in_picture
from hiitpi.referee.machine import Referee
from hiitpi.teach.learn import TeachError, count_demo, teach_hold, teach_reps
from hiitpi.teach.tomlwrite import render

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demos(tmp_path_factory, model_mirror, shared_data):
    """Clip name → its smoothed demo, each clip through the pose model once."""
    from hiitpi.config import load_settings
    from hiitpi.teach.session import load_demo

    tmp = tmp_path_factory.mktemp("teach")
    settings = load_settings(
        None,
        env={},
        overrides={("general", "data_dir"): str(tmp / "data"), ("models", "mirror"): str(model_mirror)},
    )
    cache = tmp / "poses"
    got: dict = {}

    def get(clip: str):
        if clip not in got:
            got[clip] = load_demo(shared_data / "clips" / clip, settings, progress=False, cache_dir=cache)
        return got[clip]

    get.settings = settings
    return get


def _reps(rule, demo) -> int:
    return sum(e.kind == "rep" for e in count_demo(rule, demo))


def test_taught_squat_is_a_checked_rules_file_that_counts_another_clip(demos, tmp_path, capsys):
    from hiitpi.cli import main
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.teach.session import save_lesson, teach_demo

    lesson = teach_demo(demos("squat/wahoo_squats_trim.mp4"), "deep_squat", reps=10)
    assert lesson.taught.count == 10
    assert lesson.reference is not None and lesson.reference.reps == 10
    path, ref_path = save_lesson(lesson, tmp_path)
    text = path.read_text()
    assert text.startswith("# Deep squat: taught by demonstration") and "calibrate = {" in text
    assert main(["rules", "check", str(tmp_path)]) == 0
    assert "1 workout(s) loaded" in capsys.readouterr().out
    cat = load_catalog(tmp_path)  # the reference next to it is not a workout
    assert list(cat.workouts) == ["deep_squat"] and not cat.errors
    assert json.loads(ref_path.read_text())["workout"] == "deep_squat"
    rule = cat.workout("deep_squat")
    # other people, other rooms: 3 squats (side), 5-6 (front, bad form first), 2 (front)
    assert _reps(rule, demos("squat/yuyoujiang_squat.mp4")) == 3
    assert 5 <= _reps(rule, demos("squat/apurvo_squats_form.mp4")) <= 6
    assert _reps(rule, demos("squat/calimiro_squat_19.mp4")) == 2


def test_taught_jumping_jack_counts_another_clip(demos):
    taught = teach_reps(demos("jumping_jack/unknown550_jj_1.mp4"), "star_jump_taught", reps=11)
    assert taught.count == 11 and taught.view == "front"
    assert _reps(taught.rule, demos("jumping_jack/ahmedlila_jj_12.mp4")) == 12


def test_a_held_pose_is_taught_as_a_hold(demos, shared_data):
    from hiitpi.referee.datasets import read_manifest

    row = next(r for r in read_manifest(shared_data / "clips" / "manifest.csv") if r.is_hold)
    taught = teach_hold(demos(row.file), "forearm_plank")
    assert taught.rule.kind == "hold" and taught.rule.hold.state == "hold"
    held = taught.held_s
    assert abs(held - row.gt_hold_s) <= 0.10 * row.gt_hold_s, (held, row.gt_hold_s)


def test_a_still_pose_has_no_reps_to_teach(demos):
    with pytest.raises(TeachError, match="no periodic movement found") as err:
        teach_reps(demos("plank/venkat_plank_forearm_gym.mp4"), "plank_reps")
    assert "--hold" in err.value.hint


def test_a_moving_clip_is_no_hold(demos):
    with pytest.raises(TeachError, match="no held position found"):
        teach_hold(demos("jumping_jack/unknown550_jj_1.mp4"), "jack_hold")


def test_reference_for_a_built_in_workout_scores_its_reps(demos, tmp_path):
    """`--reference-for`: the built-in rules segment the clip; the same clip against itself scores 100."""
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.teach.record import clean_reps, record_reference, score_events
    from tests.conftest import REPO

    rule = load_catalog(REPO / "rules").workout("push_up")
    demo = demos("push_up/deepanshu_pushup_home.mp4")
    events = count_demo(rule, demo)
    ref = record_reference(rule, demo, events)
    assert ref.reps == 5 and set(ref.views) == {"side"}
    scores = score_events(ref, demo, clean_reps(events))
    assert all(s is not None and s.score >= 95 for s in scores), scores
    # another person's push-ups against it: lower, and a body part named
    other = demos("push_up/calimiro_pushups_videoplayback.mp4")
    theirs = [s for s in score_events(ref, other, clean_reps(count_demo(rule, other))) if s is not None]
    assert theirs and max(s.score for s in theirs) < 95 and all(s.deviation for s in theirs)


def test_no_reps_score_lower_than_full_reps_of_the_same_clip(demos):
    """Plank jacks: the referee calls three no-reps (feet not wide enough); against the clip's clean
    reps they score below every clean rep scored against the others (leave one out)."""
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.teach.record import clean_reps, record_reference, score_events
    from tests.conftest import REPO

    rule = load_catalog(REPO / "rules").workout("plank_jack")
    demo = demos("plank_jack/apurvo_plank_jacks.mp4")
    events = count_demo(rule, demo)
    clean = clean_reps(events)
    no_reps = [e for e in events if e.kind == "no_rep"]
    assert len(no_reps) == 3 and len(clean) == 5
    full = [
        score_events(record_reference(rule, demo, [x for x in clean if x is not c]), demo, [c])[0].score
        for c in clean
    ]
    flagged = [s.score for s in score_events(record_reference(rule, demo, clean), demo, no_reps)]
    assert np.median(flagged) < np.median(full), (flagged, full)


def test_alternating_high_knees_are_taught_per_side(demos):
    """Fast high knees (60 fps): the knees' and hips' sides move in antiphase, so the rule runs one
    machine per side and counts every lift, here and on the slow march of another person (whose
    lifts the pose model often puts on both legs at once)."""
    taught = teach_reps(demos("high_knees/venkat_high_knees_gym.mp4"), "fast_knees", reps=19)
    assert taught.doc["rep"].get("each_side") is True and taught.doc["rep"].get("alternate") is True
    assert 18 <= taught.count <= 20
    assert {e.side for e in taught.reps} == {"left", "right"}
    # the plotted knee is the side that moved: it bends in every rep (the mean of both would not)
    for e in taught.reps:
        sel = (taught.times >= e.t_start) & (taught.times <= e.t_end)
        assert np.nanmax(taught.signal[sel]) - np.nanmin(taught.signal[sel]) > 40, (e.t_start, e.t_end)
    assert 15 <= _reps(taught.rule, demos("high_knees/apurvo_high_knees_march_trim.mp4")) <= 17
    # a squat's sides move together: no per-side rule
    squat = teach_reps(demos("squat/wahoo_squats_trim.mp4"), "deep_squat", reps=10)
    assert "each_side" not in squat.doc["rep"]


@pytest.mark.parametrize(
    "clip", ["high_knees/venkat_high_knees_gym.mp4", "mountain_climber/venkat_mountain_climbers_side.mp4"]
)
def test_first_three_reps_of_a_fast_alternating_clip_count_the_rest(demos, shared_data, clip):
    from hiitpi.referee.datasets import read_manifest
    from hiitpi.teach.evaluate import first_reps

    row = next(r for r in read_manifest(shared_data / "clips" / "manifest.csv") if r.file == clip)
    res, info = first_reps(row, demos(clip))
    assert res is not None and res.pred is not None, info
    assert row.gt_min - 1 <= res.pred <= row.gt_max + 1, (res.pred, info)
    assert info["learnt_from_s"] <= 3.0


def test_a_same_side_twice_scores_lower_than_the_clean_reps(demos):
    """Slow high knees with the built-in rules: the reps called "same side twice" are compared with
    the reference reps of the side that was due, and score lower than the clean reps (leave one out)."""
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.teach.record import clean_reps, record_reference, score_events
    from tests.conftest import REPO

    rule = load_catalog(REPO / "rules").workout("high_knees")
    demo = demos("high_knees/apurvo_high_knees_march_trim.mp4")
    events = count_demo(rule, demo)
    clean = clean_reps(events)
    faulted = [e for e in events if e.kind == "rep" and e not in clean]
    assert len(faulted) >= 4 and len(clean) >= 4
    ref = record_reference(rule, demo, clean)
    assert ref.alternating and "knee_left" in ref.features
    full = [
        score_events(record_reference(rule, demo, [x for x in clean if x is not c]), demo, [c], events)[
            0
        ].score
        for c in clean
    ]
    flagged = [s.score for s in score_events(ref, demo, faulted, events)]
    assert np.median(flagged) < np.median(full), (flagged, full)


def test_teach_from_the_camera_through_an_engine_sink(tmp_path, model_mirror, redis_url, shared_data):
    """The dashboard's "record a few reps in front of the camera": the real engine (MoveNet on a clip
    played as a camera would deliver it) hands its poses to a `PoseTap`; 12 s of jumping jacks are
    recorded and taught."""
    import time

    from hiitpi.capture.video import VideoFileSource
    from hiitpi.engine import Engine
    from hiitpi.teach.live import PoseTap
    from hiitpi.teach.session import teach_demo
    from tests.test_engine import make_settings

    settings = make_settings(tmp_path, model_mirror, redis_url)
    clip = shared_data / "clips" / "jumping_jack/unknown550_jj_4.mp4"  # 15 jacks in 15.8 s
    tap = PoseTap()
    engine = Engine(settings, source_factory=lambda: VideoFileSource(clip, paced=False), sinks=(tap,))
    with pytest.raises(InputError, match="nothing recorded"):
        tap.take()
    tap.start(12)
    engine.start()
    try:
        deadline = time.monotonic() + 120
        while tap.status()["state"] == "recording" and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        engine.stop()
    st = tap.status()
    assert st["state"] == "done" and st["elapsed"] >= 12 and st["seen"] > 0.9 * st["frames"]
    lesson = teach_demo(tap.take(), "camera_jack")
    assert tap.status()["state"] == "idle"
    assert 10 <= lesson.taught.count <= 13, lesson.taught.count  # about 11.4 jacks in the first 12 s


def test_taught_rules_read_a_camera_on_its_side_as_the_built_in_ones_do(demos):
    from hiitpi.teach.learn import demo_up_cue

    # the demo says how the body shows which way is up: standing, hands under the shoulders
    assert demo_up_cue(demos("squat/wahoo_squats_trim.mp4")) == "standing"
    assert demo_up_cue(demos("push_up/calimiro_pushups_videoplayback.mp4")) == "hands"
    taught = teach_reps(demos("jumping_jack/unknown550_jj_1.mp4"), "star_jump_up", reps=11)
    assert taught.rule.up_cue == "standing" and 'up_cue = "standing"' in render(taught.doc, "x")
    # the taught jacks, turned a quarter, are read upright and counted as before
    demo = demos("jumping_jack/ahmedlila_jj_12.mp4")
    turned = [pose_in_picture(p, 90) for p in demo.poses]
    ref = Referee(taught.rule, counting="judge")
    for p, t in zip(turned, demo.times, strict=True):
        ref.update(p, float(t))
    ref.finish()
    assert ref.turn == 90 and ref.count == 12
