"""A free circuit (program blocks of workout "any"): real RepCount-A poses of two exercises, joined
with a rest, through the session controller, its store sink and a real SQLite file."""

from __future__ import annotations

from pathlib import Path

import pytest

from hiitpi.config import load_settings
from hiitpi.engine.pipeline import PoseStage
from hiitpi.engine.session import SessionController, SessionRefused
from hiitpi.engine.sessionstate import SessionChange
from hiitpi.engine.sinks import RecorderSink
from hiitpi.live.contract import LiveState
from hiitpi.recognition.data import pose_index_sequences, rules_resolver
from hiitpi.recognition.evaluate import Segment, joined
from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.machine import Referee
from hiitpi.referee.programs import ANY, ProgramError, load_program

REPO = Path(__file__).resolve().parent.parent
JACKS, SQUATS = "stu3_20.mp4", "stu5_62.mp4"  # 21 s of jumping jacks, 52 s of squats
REST_S = 8.0  # between the two in the poses: the program's rest is shorter, its clock starts later


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(REPO / "rules")


@pytest.fixture(scope="module")
def segments(shared_data, catalog) -> dict[str, Segment]:
    smoothing = load_settings(None, env={}).pose.smoothing
    folder = shared_data / "repcount_pose"
    out = {}
    for seq, poses in pose_index_sequences(
        folder / "index.csv", folder / "poses", "repcount", rules_resolver(catalog), smoothing
    ):
        if seq.name in (JACKS, SQUATS):
            out[seq.name] = Segment(seq.name, seq.exercise, poses, list(seq.t))
    return out


def _rules(tmp_path: Path, program: str) -> Path:
    rules = tmp_path / "rules"
    (rules / "programs").mkdir(parents=True)
    for f in (REPO / "rules").glob("*.toml"):
        (rules / f.name).symlink_to(f)
    (rules / "programs" / "free.toml").write_text(program)
    return rules


FREE = (
    'name = "free"\nrounds = 1\n\n[[blocks]]\nworkout = "any"\nwork_s = 20\nrest_s = 6\n\n'
    '[[blocks]]\nworkout = "Any"\nwork_s = 50\n'
)


def _controller(tmp_path: Path, program: str, on_change):
    settings = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path),
            ("referee", "rules_dir"): str(_rules(tmp_path, program)),
        },
    )
    c = SessionController(settings, on_change=on_change, clock=lambda: 0.0)
    c.reload()
    return c


def _by_hand(catalog, seg: Segment, until: float = 1e9) -> int:
    ref = Referee(catalog.workout(seg.exercise))
    for p, t in zip(seg.poses, seg.times, strict=True):
        if t < until:
            ref.update(p, t)
    return ref.count


def test_a_free_circuit_records_whatever_is_done_in_each_block(tmp_path, segments, catalog):
    from hiitpi.store.db import Store
    from hiitpi.store.queries import list_sessions, session_detail
    from hiitpi.store.recorder import SessionRecorder

    store = Store.open(tmp_path / "h.db")
    recorder = SessionRecorder(store, flush_interval_s=0.1)
    sink = RecorderSink(recorder)
    changes: list[SessionChange] = []

    def on_change(ch: SessionChange) -> None:
        changes.append(ch)
        sink.on_session(ch, LiveState())

    c = _controller(tmp_path, FREE, on_change)
    waiting = c.start("ana", "free")
    assert not waiting.started and c.state().phase == "waiting" and c.state().program == "free"
    poses, times, b_start = joined(segments[JACKS], segments[SQUATS], REST_S)
    stage = PoseStage(None, None)
    phases = set()
    for p, t in zip(poses, times, strict=True):
        if c.session is None:
            break
        events = c.on_pose(stage, p, t)
        for e in events:
            sink.recorder.record(e)
        phases.add((c.state().segment, c.state().phase))
    assert c.session is None  # the program's clock ended it
    recorder.close()
    kinds = [ch.kind for ch in changes]
    assert kinds[:4] == ["session_start", "rest_start", "interval_end", "interval_start"]
    assert kinds[-1] == "session_stop"
    # the session (and the program's clock) began at the first jumping jack, not at the first frame
    assert changes[0].t < 2.0 and changes[0].data["program"] == "free"
    # the second block watched before anything was recognised in it
    assert ("work", "waiting") in phases and ("rest", "rest") in phases
    d = session_detail(store, list_sessions(store).items[0].id)
    assert d.session.program == "free"
    # the person pauses for 12 s in the middle of the squats: rest is rest, then a new interval
    assert [(i.workout, i.round) for i in d.intervals] == [("jumping_jack", 1), ("squat", 1), ("squat", 1)]
    t0 = changes[0].t
    jacks, squats = d.intervals[0].reps, d.intervals[1].reps + d.intervals[2].reps
    # the first block's 20 s of jumping jacks counted as if picked by hand (within one rep)
    assert abs(jacks - _by_hand(catalog, segments[JACKS], until=t0 + 20.0)) <= 1
    # the squats after the rest, up to the program's end, are the second block's (within one rep
    # per interval)
    end = t0 + 20.0 + 6.0 + 50.0 - b_start
    assert abs(squats - _by_hand(catalog, segments[SQUATS], until=end)) <= 2 and squats >= 20
    assert d.session.reps == jacks + squats
    # nothing done in the rest is credited: every rep of the second interval is after b's start
    assert all(r.t_start >= b_start - t0 - 1e-6 for r in d.reps if r.interval_index == 2)
    store.close()


def test_a_correction_in_a_free_block_opens_its_interval_and_a_rest_refuses_one(tmp_path, segments):
    changes: list[SessionChange] = []
    c = _controller(tmp_path, FREE, changes.append)
    c.start("ana", "free")
    poses, times, b_start = joined(segments[JACKS], segments[SQUATS], REST_S)
    stage = PoseStage(None, None)
    it = iter(zip(poses, times, strict=True))
    for p, t in it:
        c.on_pose(stage, p, t)
        if c.state().segment == "rest":
            break
    with pytest.raises(SessionRefused, match="resting"):
        c.correct("squat")
    for p, t in it:  # into the second block, before any squat
        c.on_pose(stage, p, t)
        if c.state().segment == "work":
            break
    assert c.session.watching and t < b_start
    c.correct("lunge")  # the person says what comes: the block's interval opens as lunges
    kinds = [ch.kind for ch in changes]
    assert kinds[-3:] == ["interval_end", "interval_start", "interval_relabel"]
    assert changes[-1].data == {"workout": "lunge", "was": ""} and c.session.workout == "lunge"
    assert not c.session.watching and changes[-2].data == {"workout": "lunge", "round": 1}


def test_any_is_a_block_workout_and_a_free_circuit_resolves_to_no_first_rule(tmp_path, catalog):
    p = tmp_path / "free_mix.toml"
    p.write_text(
        'rounds = 2\n[[blocks]]\nworkout = "ANY"\nwork_s = 30\n\n[[blocks]]\nworkout = "squat"\nwork_s = 20\n'
    )
    prog = load_program(p, known_workouts=list(catalog.workouts))
    assert [s.workout for s in prog.work_segments] == [ANY, "squat", ANY, "squat"]
    assert prog.workouts == ("squat",) and prog.first_workout == ANY
    rule, program = catalog.resolve("free_circuit")  # the shipped one
    assert rule is None and program.first_workout == ANY
    p.write_text('[[blocks]]\nworkout = "anything"\nwork_s = 30\n')
    with pytest.raises(ProgramError) as exc:
        load_program(p, known_workouts=list(catalog.workouts))
    assert "free_mix.toml:2: blocks.0.workout" in str(exc.value) and '(or "any")' in str(exc.value)
