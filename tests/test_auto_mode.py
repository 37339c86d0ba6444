"""Auto mode end to end: a real clip through the engine, a real redis-server, a real SQLite file."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from hiitpi.capture.video import VideoFileSource
from hiitpi.config import load_settings
from hiitpi.engine import Engine
from hiitpi.live.contract import LiveKeys
from hiitpi.live.reader import LiveReader

REPO = Path(__file__).resolve().parent.parent
CLIP = "jumping_jack/unknown550_jj_1.mp4"  # 11 jumping jacks, the first one ends near 1.5 s


@pytest.fixture(scope="module")
def clip(shared_data) -> Path:
    return shared_data / "clips" / CLIP


def _settings(tmp_path, model_mirror, redis_url):
    return load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path / "data"),
            ("models", "mirror"): str(model_mirror),
            ("redis", "url"): redis_url,
            ("redis", "sample_fps"): 0.0,  # every frame's pose on the bus: what the engine saw
            ("referee", "workout"): "auto",
        },
    )


def _engine(settings, clip, tmp_path, paced: bool):
    from hiitpi.store.db import Store
    from hiitpi.store.recorder import SessionRecorder

    store = Store.open(tmp_path / "h.db")
    recorder = SessionRecorder(store, flush_interval_s=0.1)
    engine = Engine(
        settings, source_factory=lambda: VideoFileSource(clip, paced=paced), recorder=recorder, player="ana"
    )
    return store, recorder, engine


def test_auto_session_starts_on_the_first_rep_and_counts_it(tmp_path, model_mirror, redis_url, clip):
    from hiitpi.store.queries import list_sessions, session_detail

    settings = _settings(tmp_path, model_mirror, redis_url)
    store, recorder, engine = _engine(settings, clip, tmp_path, paced=False)
    engine.start()
    try:
        waiting = engine.live_state()
        assert waiting.auto and waiting.phase == "waiting" and waiting.workout == ""
        assert engine.wait(timeout=120)
        st = engine.live_state()
        assert (st.workout, st.recognised) == ("jumping_jack", "jumping_jack")
        assert st.confidence is not None and st.confidence >= 0.5
        assert "jumping_jack" not in st.choices and len(st.choices) == 3
    finally:
        engine.stop()
        recorder.close()
    sessions = list_sessions(store).items
    assert len(sessions) == 1
    d = session_detail(store, sessions[0].id)
    assert d.session.workout == "jumping_jack" and [i.workout for i in d.intervals] == ["jumping_jack"]
    # the hand-picked count of this clip is 11 (hiitpi eval clips); auto mode loses none of them
    assert d.session.reps == 11
    # the session began at the first rep, not at the first frame, and that rep is in it
    assert d.t0 > 0.3
    assert d.reps[0].t_start >= d.t0 - 1e-6 and d.reps[0].t_end < 3.0
    kinds = [
        e.kind for e in LiveReader(redis_url, LiveKeys(settings.redis.prefix)).history() if e.type == "event"
    ]
    assert kinds[0] == "session_start" and kinds.count("rep") == 11
    store.close()


def test_recognised_reps_are_scored_against_the_workouts_reference(tmp_path, model_mirror, redis_url, clip):
    """A workout with a recorded reference: auto mode's reps get their form score, as a picked
    workout's do (the reference recorded from this clip, so each rep is close to it)."""
    import shutil
    import statistics

    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.reference import path_for_rule, save_reference
    from hiitpi.store.queries import list_sessions, session_detail
    from hiitpi.teach.record import record_reference
    from hiitpi.teach.session import load_demo

    rules = shutil.copytree(REPO / "rules", tmp_path / "rules")
    settings = _settings(tmp_path, model_mirror, redis_url)
    settings.referee.rules_dir = rules
    rule = load_catalog(rules).workout("jumping_jack")
    save_reference(record_reference(rule, load_demo(clip, settings, progress=False)), path_for_rule(rule))
    store, recorder, engine = _engine(settings, clip, tmp_path, paced=False)
    engine.start()
    try:
        assert engine.wait(timeout=120)
    finally:
        engine.stop()
        recorder.close()
    d = session_detail(store, list_sessions(store).items[0].id)
    assert d.session.workout == "jumping_jack" and d.session.reps == 11
    scores = [r.similarity for r in d.reps if r.valid]
    assert len(scores) == 11 and None not in scores, scores
    assert statistics.median(scores) >= 80, scores
    store.close()


def test_a_wrong_guess_is_corrected_with_one_command_and_the_reps_move(
    tmp_path, model_mirror, redis_url, clip
):
    from hiitpi.capture.video import open_video
    from hiitpi.pose.types import Pose
    from hiitpi.recognition.auto import REPLAY_MARGIN_S
    from hiitpi.referee.catalog import load_catalog
    from hiitpi.referee.machine import Referee
    from hiitpi.store.queries import list_sessions, session_detail

    settings = _settings(tmp_path, model_mirror, redis_url)
    store, recorder, engine = _engine(settings, clip, tmp_path, paced=True)
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    engine.start()
    try:
        deadline = time.monotonic() + 30
        while engine.live_state().recognised != "jumping_jack" and time.monotonic() < deadline:
            time.sleep(0.05)
        before = engine.live_state()
        assert before.recognised == "jumping_jack" and before.reps >= 1
        # "that was toe taps": one tap on the phone is one command
        answer = reader.wait_command(reader.send_command("correct", workout="toe_tap"), timeout_s=10)
        assert answer is not None and answer[0], answer
        after = engine.live_state()
        assert after.workout == "toe_tap" and after.recognised == "toe_tap"
        bad = reader.wait_command(reader.send_command("correct", workout="no_such_thing"), timeout_s=10)
        assert bad is not None and not bad[0] and "no workout rules named" in bad[1]
        assert engine.wait(timeout=60)
        final = engine.live_state()
        # the poses the engine saw (a paced camera drops frames on a busy machine)
        seen = [e for e in reader.history() if e.type == "sample"]
    finally:
        engine.stop()
        recorder.close()
        reader.close()
    d = session_detail(store, list_sessions(store).items[0].id)
    # the interval, its reps and the session are the corrected workout's now, counted by its referee;
    # and what was taken for jumping jacks stays toe taps after a pause (a busy machine drops frames)
    assert d.session.workout == "toe_tap" and {i.workout for i in d.intervals} == {"toe_tap"}
    assert d.session.reps == final.total_reps == sum(i.reps for i in d.intervals)
    cap, info = open_video(clip)
    cap.release()
    by_hand = Referee(load_catalog(REPO / "rules").workout("toe_tap"))
    assert len(seen) > info.frames / 4
    # from where the replay began: the first recognised rep's start less the replay margin
    for e in [e for e in seen if e.ts >= d.t0 - REPLAY_MARGIN_S]:
        kp = None if e.keypoints is None else np.asarray(e.keypoints, dtype=np.float32)
        by_hand.update(None if kp is None else Pose(kp, e.score or 0.0, e.ts, info.width, info.height), e.ts)
    # each interval is counted by a fresh referee from its first recognised rep: within one rep per
    # interval of the poses the engine saw from there, counted by hand, and one more for the bus's
    # rounded keypoints (toe taps on jumping jacks sit near the rule's thresholds)
    assert d.session.reps >= 5
    assert abs(d.session.reps - by_hand.count) <= len(d.intervals) + 1
    assert [r.index for r in d.reps] == list(range(1, len(d.reps) + 1))
    store.close()


def test_analyze_workout_auto_lists_the_recognised_intervals(clip, model_mirror, tmp_path):
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "hiitpi",
            "analyze",
            str(clip),
            "--workout",
            "auto",
            "--json",
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "HIITPI_MODEL_MIRROR": str(model_mirror),
            "HIITPI_DATA_DIR": str(tmp_path),
        },
    )
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["workout"] == "auto" and d["reps"] == 11
    assert [iv["workout"] for iv in d["intervals"]] == ["jumping_jack"]
    assert d["intervals"][0]["reps"] == 11 and d["intervals"][0]["start"] < 1.5
    assert len(d["rep_events"]) == 11
