"""The session controller on its own: the one policy for start/stop/switch, programs on the clock,
and what it tells its sinks. Synthetic poses from `hiitpi.referee.synth`; no camera, no Redis."""

from __future__ import annotations

from pathlib import Path

import pytest

from hiitpi.config import load_settings
from hiitpi.engine.pipeline import PoseStage
from hiitpi.engine.replies import answer
from hiitpi.engine.session import SessionController, SessionRefused
from hiitpi.engine.sessionstate import SessionChange
from hiitpi.live.contract import LiveCommand
from hiitpi.referee.synth import squat_sequence

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture()
def rules_dir(tmp_path) -> Path:
    rules = tmp_path / "rules"
    (rules / "programs").mkdir(parents=True)
    for f in (REPO / "rules").glob("*.toml"):
        (rules / f.name).symlink_to(f)
    (rules / "programs" / "duo.toml").write_text(
        'name = "duo"\ntitle = "Duo"\nrounds = 1\n\n'
        '[[blocks]]\nworkout = "squat"\nwork_s = 4.0\nrest_s = 2.0\n\n'
        '[[blocks]]\nworkout = "jumping_jack"\nwork_s = 3.0\n'
    )
    return rules


@pytest.fixture()
def controller(tmp_path, rules_dir):
    settings = load_settings(
        None,
        env={},
        overrides={("general", "data_dir"): str(tmp_path), ("referee", "rules_dir"): str(rules_dir)},
    )
    changes: list[SessionChange] = []
    resets: list[int] = []
    c = SessionController(
        settings, on_change=changes.append, clock=lambda: 0.0, reset_pose=lambda: resets.append(1)
    )
    c.reload()
    c.changes, c.resets = changes, resets  # what the sinks would have seen
    return c


def feed(c: SessionController, poses) -> list:
    stage = PoseStage(None, None)
    events = []
    for p in poses:
        events += c.on_pose(stage, p, p.timestamp)
    return events


def test_a_session_counts_and_stops_with_its_totals(controller):
    s = controller.start("ana", "squats")  # an alias
    assert s.workout == "squat" and controller.resets == [1]
    events = feed(controller, squat_sequence(3))
    assert [e.kind for e in events].count("rep") == 3
    st = controller.state()
    assert (st.running, st.player, st.reps, st.total_reps) == (True, "ana", 3, 3)
    controller.stop()
    assert controller.session is None
    ended = controller.state()
    assert (ended.running, ended.player, ended.total_reps, ended.phase) == (False, "ana", 3, "")
    kinds = [c.kind for c in controller.changes]
    assert kinds == ["session_start", "session_stop"]
    assert controller.changes[-1].data["total_reps"] == 3


def test_one_session_per_camera_a_start_while_someone_trains_names_them(controller):
    controller.start("ben", "squat")
    with pytest.raises(SessionRefused, match=r"ben is training \(squat\)"):
        controller.start("ana", "jumping_jack")
    ok, msg = answer(controller, LiveCommand(id="1-0", action="start", player="ana", workout="squat"))
    assert not ok and msg.startswith("ben is training")
    assert controller.session.player == "ben"


def test_commands_that_cannot_run_say_why(controller):
    assert answer(controller, LiveCommand(id="1-0", action="stop")) == (
        False,
        "no session is running: there is nothing to stop",
    )
    ok, msg = answer(controller, LiveCommand(id="2-0", action="start", player="ana", workout="squatt"))
    assert not ok and "no workout or program named 'squatt'" in msg
    ok, msg = answer(controller, LiveCommand(id="3-0", action="jump"))
    assert not ok and "unknown action" in msg
    assert controller.changes == []


def test_a_program_switches_rests_and_finishes_on_the_clock(controller):
    controller.start("cleo", "duo")
    feed(controller, squat_sequence(4, period_s=2.0))  # 1 s standing + 8 s of squats + 1 s: 10 s
    kinds = [c.kind for c in controller.changes]
    assert kinds == ["session_start", "rest_start", "interval_end", "interval_start", "session_stop"]
    interval_end = controller.changes[2]
    # squats before the rest (4 s of clip time: 1 s standing, then 3 s = 1.5 reps) count in round 1
    assert interval_end.data["workout"] == "squat" and interval_end.data["reps"] == 1
    stop = controller.changes[-1].data
    assert stop["total_reps"] == 1  # nothing is counted while resting, nor as jumping jacks
    assert controller.session is None


def test_stopping_on_the_way_up_counts_that_rep_and_hands_it_to_the_sinks(controller):
    """The set is over when the person presses Stop: a rep past the bottom and on its way back
    counts (as at the end of a clip), and the sinks get it with the stop, before the session closes."""
    poses = squat_sequence(3, period_s=2.0)
    n_rest, n_rep = 30, 60
    cut = n_rest + 2 * n_rep + int(0.8 * n_rep)  # the third squat is on its way up
    controller.start("dee", "squat")
    events = feed(controller, poses[:cut])
    assert [e.kind for e in events].count("rep") == 2
    controller.stop()
    stop = controller.changes[-1]
    assert stop.kind == "session_stop" and [e.kind for e in stop.events] == ["rep"]
    assert stop.data["total_reps"] == 3 and controller.state().total_reps == 3


def test_the_counting_setting_reaches_the_session_referee(tmp_path, rules_dir):
    settings = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path),
            ("referee", "rules_dir"): str(rules_dir),
            ("referee", "counting"): "attempts",
        },
    )
    c = SessionController(settings, on_change=lambda ch: None, clock=lambda: 0.0)
    c.reload()
    s = c.start("eve", "squat")
    assert s.referee.counting == "attempts" and c.state().counting == "attempts"
    feed(c, squat_sequence(2))
    assert c.state().attempts == 2 and c.state().total_attempts == 2


def test_the_page_chooses_the_counting_per_session_and_it_is_validated(controller):
    ok, msg = answer(
        controller, LiveCommand(id="1-0", action="start", player="eve", workout="squat", counting="attempts")
    )
    assert ok and controller.session.counting == "attempts"
    assert controller.session.referee.counting == "attempts" and controller.state().counting == "attempts"
    assert controller.changes[0].data["counting"] == "attempts"
    controller.stop()
    ok, msg = answer(
        controller, LiveCommand(id="2-0", action="start", player="eve", workout="squat", counting="loose")
    )
    assert not ok and msg == "counting must be one of judge, attempts, not 'loose'"
    assert controller.session is None
    ok, _ = answer(
        controller, LiveCommand(id="3-0", action="start", player="eve", workout="duo", counting="attempts")
    )
    feed(controller, squat_sequence(4, period_s=2.0))  # through the program: every interval keeps it
    assert controller.changes[-1].kind == "session_stop"
    assert [c.session.referee.counting for c in controller.changes if c.kind == "interval_start"] == [
        "attempts"
    ]


def test_start_and_stop_messages_name_the_title_and_the_history_id(controller):
    controller.on_change = lambda ch: (  # what the store sink does: the session gets its id
        setattr(ch.session, "store_id", 42) if ch.kind == "session_start" else None
    )
    ok, msg = answer(controller, LiveCommand(id="1-0", action="start", player="ana", workout="duo"))
    assert (ok, msg) == (True, "Started Duo for ana (session 42).")
    ok, msg = answer(controller, LiveCommand(id="2-0", action="stop"))
    assert (ok, msg) == (True, "Stopped: session 42 saved, 0 reps.")
    assert controller.state().store_id == 42  # the page links the result to it


def test_pace_decays_in_a_rest_and_is_zero_after_stop_the_average_stays(controller):
    from hiitpi.pose.types import Pose

    controller.start("cleo", "duo")  # 4 s of squats, 2 s of rest, 3 s of jumping jacks
    poses = squat_sequence(4, period_s=1.0)  # quick squats: 1 s standing, reps at 2, 3, 4... s
    feed(controller, [p for p in poses if p.timestamp < 3.9])
    working = controller.state()
    assert working.pace > 0 and working.segment == "work"
    still = poses[0]  # standing still through the rest: the referee is not fed, the clock runs
    feed(
        controller,
        [Pose(still.keypoints, still.score, 5.9, still.width, still.height) for _ in range(1)],
    )
    resting = controller.state()
    assert resting.segment == "rest" and resting.phase == "rest"
    assert resting.pace < working.pace  # the window moves on without reps
    assert resting.avg_pace is None  # under 10 s: no average yet
    controller.stop()
    ended = controller.state()
    assert ended.pace == 0.0 and not ended.running
    controller.start("cleo", "squat")
    feed(controller, squat_sequence(6, period_s=2.0))  # 14 s
    st = controller.state()
    assert st.avg_pace == pytest.approx(6 * 60.0 / st.elapsed, abs=0.01) and st.pace > 0
    controller.stop()
    assert controller.state().avg_pace == st.avg_pace and controller.state().pace == 0.0
