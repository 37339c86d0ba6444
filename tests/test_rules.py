"""Rules files: the shipped workouts load, and malformed files give errors naming file, line, key."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from hiitpi.referee.catalog import load_catalog
from hiitpi.referee.rules import RulesError, load_rule

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"

GOOD = """\
name = "knee_bend"
title = "Knee bend"
aliases = ["kb"]

[features]
knee = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean" }

[[states]]
name = "up"
when = [{ feature = "knee", above = 150 }]

[[states]]
name = "down"
when = [{ feature = "knee", below = 110 }]

[rep]
start = "up"
sequence = ["down"]
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def errors_of(path: Path) -> list[str]:
    with pytest.raises(RulesError) as exc:
        load_rule(path)
    return exc.value.errors


def test_every_shipped_workout_loads_without_errors():
    cat = load_catalog(RULES)
    rules = cat.workouts
    assert cat.errors == []
    required = {
        "push_up", "squat", "jumping_jack", "burpee", "situp", "lunge", "high_knees", "toe_tap",
        "mountain_climber", "plank_jack", "side_squat_jump", "plank", "wall_sit",
    }  # fmt: skip
    assert required <= set(rules)
    assert rules["plank"].kind == "hold" and rules["wall_sit"].kind == "hold"
    assert rules["lunge"].rep.alternate and rules["high_knees"].rep.alternate


@pytest.mark.parametrize(
    "alias, name",
    [
        ("push_up", "push_up"),
        ("pushups", "push_up"),
        ("squat", "squat"),
        ("jumping_jack", "jumping_jack"),
        ("jump_jack", "jumping_jack"),
        ("burpee", "burpee"),
        ("situp", "situp"),
        ("crunch", "situp"),
        ("lunge", "lunge"),
        ("high_knees", "high_knees"),
        ("plank_jack", "plank_jack"),
        ("Plank Jacks", "plank_jack"),
        ("wall-sit", "wall_sit"),
    ],
)
def test_manifest_names_and_aliases_resolve(alias, name):
    assert load_catalog(RULES).workout(alias).name == name


def test_unknown_workout_names_the_known_ones():
    with pytest.raises(KeyError, match=r"known: .*squat.*hiitpi rules list"):
        load_catalog(RULES).workout("zumba")
    with pytest.raises(KeyError, match=r"no workout rules named 'Sqaut' \(did you mean 'squat'\?\); known"):
        load_catalog(RULES).workout("Sqaut")


def test_good_file_parses(tmp_path):
    rule = load_rule(write(tmp_path, "kb.toml", GOOD))
    assert rule.name == "knee_bend"
    assert [s.name for s in rule.states] == ["up", "down"]
    assert rule.rep.start == "up" and rule.rep.sequence == ("down",)


def test_syntax_error_names_file_and_line(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace('title = "Knee bend"', 'title = "Knee bend'))
    errs = errors_of(p)
    assert len(errs) == 1
    assert errs[0].startswith(f"{p}:2:") and "syntax" in errs[0]


def test_unknown_keypoint_names_file_line_and_key(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace('"knee", "ankle"]', '"kne", "ankle"]'))
    errs = errors_of(p)
    assert any(e.startswith(f"{p}:6: features.knee.points: unknown keypoint 'kne'") for e in errs), errs
    # the states that use the broken feature are not reported a second time
    assert len(errs) == 1


def test_impossible_thresholds_are_reported(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace("below = 110 }", "below = 110, above = 120 }"))
    errs = errors_of(p)
    assert any(f"{p}:14: states.1.when.0: impossible threshold" in e for e in errs), errs
    p2 = write(tmp_path, "bad2.toml", GOOD.replace("above = 150", "above = 200"))
    assert any(f"{p2}:10: states.0.when.0.above: impossible threshold" in e for e in errors_of(p2))


def test_overlapping_states_without_hysteresis_gap(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace("below = 110", "below = 160"))
    assert any("overlap on 'knee'" in e and "hysteresis" in e for e in errors_of(p))


def test_missing_state_names_the_defined_ones(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace('sequence = ["down"]', 'sequence = ["bottom"]'))
    errs = errors_of(p)
    assert any(
        e.startswith(f"{p}:18: rep.sequence: missing state 'bottom'; defined: down, up") for e in errs
    ), errs


def test_unknown_key_lists_allowed_keys(tmp_path):
    p = write(tmp_path, "bad.toml", GOOD.replace('start = "up"', 'start = "up"\nmin_dwel = 0.2'))
    errs = errors_of(p)
    assert any(f"{p}:18: rep.min_dwel: unknown key 'min_dwel'; allowed here:" in e for e in errs), errs


def test_every_error_in_a_file_is_reported_at_once(tmp_path):
    text = GOOD.replace('type = "angle"', 'type = "angel"').replace('start = "up"', 'start = "top"')
    errs = errors_of(write(tmp_path, "bad.toml", text))
    assert any("features.knee.type" in e for e in errs)
    assert any("rep.start: missing state 'top'" in e for e in errs)


def test_a_broken_file_never_stops_the_others(tmp_path):
    write(tmp_path, "a_good.toml", GOOD)
    write(tmp_path, "b_bad.toml", GOOD.replace("knee_bend", "other").replace("[rep]", "[rep\n"))
    write(tmp_path, "c_good.toml", GOOD.replace("knee_bend", "knee_bend_two").replace('"kb"', '"kb2"'))
    cat = load_catalog(tmp_path)
    assert set(cat.workouts) == {"knee_bend", "knee_bend_two"}
    assert len(cat.errors) == 1 and "b_bad.toml" in cat.errors[0]


def test_hold_rule_needs_hold_table(tmp_path):
    text = GOOD.replace('title = "Knee bend"', 'title = "Knee bend"\nkind = "hold"')
    errs = errors_of(write(tmp_path, "bad.toml", text))
    assert any("[hold]" in e for e in errs)


def test_rules_check_cli_reports_errors_and_exit_code(tmp_path):
    write(tmp_path, "good.toml", GOOD)
    bad = write(
        tmp_path,
        "bad.toml",
        GOOD.replace("knee_bend", "x").replace('"kne', '"kne').replace('"knee", "ankle"]', '"knee", "toe"]'),
    )
    cmd = [sys.executable, "-m", "hiitpi", "rules", "check", str(tmp_path)]
    res = subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=60)
    assert res.returncode == 2  # bad input
    assert f"hiitpi: {bad}:6: features.knee.points: unknown keypoint 'toe'" in res.stderr
    assert "Traceback" not in res.stderr
    assert "1 workout(s) loaded" in res.stdout
    ok = subprocess.run(
        [sys.executable, "-m", "hiitpi", "rules", "check", str(RULES)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    ls = subprocess.run(
        [sys.executable, "-m", "hiitpi", "rules", "list", "--rules", str(RULES)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert ls.returncode == 0 and "wall_sit" in ls.stdout and "hold" in ls.stdout


def test_offset_feature_needs_three_points_and_takes_signed_thresholds(tmp_path):
    sag = '\nsag = { type = "offset", points = ["shoulder", "hip", "ankle"] }\n'
    p = write(tmp_path, "ok.toml", GOOD.replace("\n[[states]]", sag + "\n[[states]]", 1) + CHECK_SAG)
    rule = load_rule(p)
    assert rule.features["sag"].type == "offset" and rule.checks[0].min == -0.5
    bad = '\nsag = { type = "offset", points = ["shoulder", "hip"] }\n'
    p2 = write(tmp_path, "bad.toml", GOOD.replace("\n[[states]]", bad + "\n[[states]]", 1))
    assert any(f"{p2}:8: features.sag.points: a 'offset' feature needs 3 points" in e for e in errors_of(p2))


CHECK_SAG = """
[[checks]]
feature = "sag"
min = -0.5
max = 0.4
reason = "hips out of line"
"""


def test_reload_keeps_last_good_version_of_a_broken_file(tmp_path):
    import shutil

    from hiitpi.config import DEFAULT_RULES_DIR

    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    first = load_catalog(rules)
    assert "squat" in first.workouts and not first.errors
    (rules / "squat.toml").write_text("name = 'squat'\n[[states\n")
    fresh = load_catalog(rules)
    assert "squat" not in fresh.workouts  # no history: the broken file is skipped
    assert "tabata_squat" not in fresh.programs  # ...and the program that uses it with it
    again = load_catalog(rules, previous=first)
    assert again.workouts["squat"] is first.workouts["squat"]
    assert any("squat.toml:2" in e for e in again.errors)
    assert any("keeping the last good version of 'squat'" in e for e in again.errors)
    assert again.workout("squats").name == "squat"  # aliases kept too
    assert again.resolve("tabata_squat")[1] == first.programs["tabata_squat"]


CALIBRATED = """\
name = "knee_travel"

[features]
knee = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean", calibrate = { start = 175, far = 90, min_travel = 30 } }
hips = { type = "distance", points = ["left_hip", "right_hip"], views = ["side"] }
move = { type = "mean", of = ["knee"] }

[[states]]
name = "up"
when = [{ feature = "move", below = 0.3 }]

[[states]]
name = "down"
when = [{ feature = "move", above = 0.7 }]

[rep]
start = "up"
sequence = ["down"]

[[checks]]
feature = "hips"
max = 0.5
min_s = 0.1
reason = "hips not square"
"""


def test_calibrated_features_views_and_means_load(tmp_path):
    rule = load_rule(write(tmp_path, "ok.toml", CALIBRATED))
    assert rule.features["knee"].calibrate.floor == 30 and rule.features["knee"].calibrate.ceiling == 127.5
    assert rule.features["hips"].views == ("side",) and rule.features["move"].of == ("knee",)
    assert rule.checks[0].min_s == 0.1
    assert {"knee", "move", "hips"} <= rule.features_read()


def test_thresholds_on_a_calibrated_feature_are_shares_of_the_travel(tmp_path):
    # an angle threshold left in a state after the feature became calibrated: 0..1, never 130
    p = write(tmp_path, "bad.toml", CALIBRATED.replace("below = 0.3", "below = 130"))
    errs = errors_of(p)
    assert any(f"{p}:10: states.0.when.0.below: impossible threshold" in e and "0..1" in e for e in errs), (
        errs
    )


def test_overlapping_calibrated_states_are_reported_with_file_line_and_key(tmp_path):
    p = write(tmp_path, "bad.toml", CALIBRATED.replace("below = 0.3", "below = 0.8"))
    errs = errors_of(p)
    assert any(f"{p}:12: states.1: states 'up' and 'down' overlap on 'move'" in e for e in errs), errs


def test_bad_calibration_views_and_means_name_file_line_and_key(tmp_path):
    text = (
        CALIBRATED.replace('views = ["side"]', 'views = ["sideways"]')
        .replace("min_travel = 30", "min_travel = 30, max_travel = 20")
        .replace('of = ["knee"]', 'of = ["knee", "hips", "ankle"]')
    )
    p = write(tmp_path, "bad.toml", text)
    errs = errors_of(p)
    assert any(f"{p}:4: features.knee.calibrate: impossible travel" in e for e in errs), errs
    assert any(f"{p}:5: features.hips.views: unknown view 'sideways'" in e for e in errs), errs
    assert any(f"{p}:6: features.move.of: unknown feature 'ankle'" in e for e in errs), errs
    # a mean of a feature that is not calibrated (in other units)
    p = write(tmp_path, "bad2.toml", CALIBRATED.replace('of = ["knee"]', 'of = ["knee", "hips"]'))
    errs = errors_of(p)
    assert any(f"{p}:6: features.move.of: 'hips' is not calibrated" in e for e in errs), errs


def test_a_frame_count_in_a_check_is_an_unknown_key(tmp_path):
    p = write(tmp_path, "bad.toml", CALIBRATED.replace("min_s = 0.1", "min_frames = 3"))
    errs = errors_of(p)
    assert any(
        f"{p}:23: checks.0.min_frames: unknown key 'min_frames'" in e and "min_s" in e for e in errs
    ), errs


def test_a_bad_fallback_names_file_line_and_key(tmp_path):
    p = write(
        tmp_path,
        "bad.toml",
        CALIBRATED.replace("min_travel = 30 } }", 'min_travel = 30 }, fallback = "hip" }'),
    )
    errs = errors_of(p)
    assert any(f"{p}:4: features.knee.fallback: unknown feature 'hip'" in e for e in errs), errs
    # a calibrated feature stood in for by one in other units
    p = write(
        tmp_path,
        "bad2.toml",
        CALIBRATED.replace("min_travel = 30 } }", 'min_travel = 30 }, fallback = "hips" }'),
    )
    errs = errors_of(p)
    assert any(
        f"{p}:4: features.knee.fallback: 'hips' and 'knee' must both be calibrated" in e for e in errs
    ), errs
