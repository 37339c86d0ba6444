"""HIIT programs: the shipped files load, timelines are right, every error names file/line/key."""

from __future__ import annotations

from pathlib import Path

import pytest

from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.programs import ProgramError, load_program

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str, name: str = "p.toml") -> Path:
    (tmp_path / "programs").mkdir(exist_ok=True)
    path = tmp_path / "programs" / name
    path.write_text(text, encoding="utf-8")
    return path


def test_shipped_programs_load_and_use_known_workouts():
    cat = load_catalog(REPO / "rules")
    assert cat.errors == []
    assert {"tabata_squat", "circuit_full_body"} <= set(cat.programs)
    for prog in cat.programs.values():
        for name in prog.workouts:
            assert cat.workout(name), f"{prog.source} uses {name}, which has no rules file"
    # every program file loads on its own too (no workouts given: not checked against any)
    alone = {p.name for p in map(load_program, sorted((REPO / "rules" / "programs").glob("*.toml")))}
    assert alone == set(cat.programs)


def test_tabata_is_eight_rounds_of_20_work_10_rest():
    tabata = load_program(REPO / "rules" / "programs" / "tabata_squat.toml")
    work = tabata.work_segments
    assert len(work) == 8
    assert all(s.duration_s == 20 for s in work)
    rests = [s for s in tabata.timeline if s.kind == "rest"]
    assert len(rests) == 8 and all(s.duration_s == 10 for s in rests)
    assert tabata.total_s == 240
    assert [s.round for s in work] == list(range(1, 9))


def test_position_walks_the_timeline():
    tabata = load_program(REPO / "rules" / "programs" / "tabata_squat.toml")
    p = tabata.position(0)
    assert (p.kind, p.round, p.remaining_s) == ("work", 1, 20)
    p = tabata.position(25.5)
    assert (p.kind, p.round, p.remaining_s) == ("rest", 1, 4.5)
    p = tabata.position(30)
    assert (p.kind, p.round, p.remaining_s) == ("work", 2, 20)
    p = tabata.position(239.9)
    assert p.round == 8 and not p.done
    assert tabata.position(240).done


def test_circuit_switches_workout_and_rest_names_the_next_one(tmp_path):
    prog = load_program(
        write(
            tmp_path,
            """
name = "c"
rounds = 2
[[blocks]]
workout = "squat"
work_s = 30
rest_s = 15
[[blocks]]
workout = "push_up"
work_s = 30
rest_s = 15
""",
        )
    )
    kinds = [(s.kind, s.workout, s.round) for s in prog.timeline]
    assert kinds == [
        ("work", "squat", 1),
        ("rest", "push_up", 1),
        ("work", "push_up", 1),
        ("rest", "squat", 1),
        ("work", "squat", 2),
        ("rest", "push_up", 2),
        ("work", "push_up", 2),
    ]  # no final rest unless asked
    assert prog.total_s == 4 * 30 + 3 * 15
    assert prog.position(50).workout == "push_up"
    assert prog.workouts == ("squat", "push_up")


def test_errors_name_file_line_and_key(tmp_path):
    path = write(
        tmp_path,
        """name = "bad"
rounds = 0
colour = "red"

[[blocks]]
workout = "squat"
work_s = -5

[[blocks]]
workout = "nope"
work_s = 20
rest_s = "ten"
""",
    )
    with pytest.raises(ProgramError) as exc:
        load_program(path, known_workouts={"squat", "push_up"})
    errors = exc.value.errors
    text = "\n".join(errors)
    assert f"{path}:2: rounds: must be a whole number" in text
    assert f"{path}:3: colour: unknown key 'colour'" in text
    assert f"{path}:7: blocks.0.work_s: -5 is outside" in text
    assert f"{path}:10: blocks.1.workout: unknown workout 'nope'" in text
    assert f"{path}:12: blocks.1.rest_s: must be a number of seconds" in text
    assert len(errors) == 5


def test_missing_blocks_and_syntax_error(tmp_path):
    with pytest.raises(ProgramError, match="missing \\[\\[blocks\\]\\]"):
        load_program(write(tmp_path, 'name = "x"\nrounds = 2\n'))
    with pytest.raises(ProgramError, match=r"p.toml:2: TOML syntax error"):
        load_program(write(tmp_path, 'name = "x"\nrounds = = 2\n'))


def test_a_broken_file_does_not_stop_the_others(tmp_path):
    write(tmp_path, 'name = "good"\n[[blocks]]\nworkout = "squat"\nwork_s = 20\n', "good.toml")
    write(tmp_path, 'name = "Bad Name"\n[[blocks]]\nworkout = "squat"\nwork_s = 20\n', "bad.toml")
    write(tmp_path, 'name = "squat"\n[[blocks]]\nworkout = "squat"\nwork_s = 20\n', "clash.toml")
    (tmp_path / "squat.toml").write_text((REPO / "rules" / "squat.toml").read_text())
    cat = load_catalog(tmp_path)
    assert list(cat.programs) == ["good"]
    assert any("bad.toml:1: name:" in e for e in cat.errors)
    assert any("clash.toml: name: 'squat' is also a workout's name" in e for e in cat.errors)


def test_program_run_reports_each_segment_once_then_done():
    from hiitpi.referee.programs import ProgramRun

    tabata = load_program(REPO / "rules" / "programs" / "tabata_squat.toml")
    run = ProgramRun(tabata)
    begun = []
    t = 0.0
    while t < 245:
        seg = run.update(t)
        if seg is not None:
            begun.append((seg.kind, seg.round, seg.start_s))
        t += 1 / 30
    assert len(begun) == 16
    assert begun[0] == ("work", 1, 0.0) and begun[1] == ("rest", 1, 20.0) and begun[-1][:2] == ("rest", 8)
    assert run.done
    st = run.state(45.0)
    assert st == {
        "program": "tabata_squat",
        "program_elapsed": 45.0,
        "round": 2,
        "rounds": 8,
        "segment": "work",  # round 2 works from 30 to 50 s
        "remaining": 5.0,
    }
