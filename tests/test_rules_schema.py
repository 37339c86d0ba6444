"""The rules and program schema: cross-table checks name file, line and key; `rules check` knows
programs; the JSON Schema is valid and fits every shipped file; the README reference is current."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from hiitpi.errors import EXIT_BAD_INPUT, InputError
from hiitpi.referee.catalog import UnknownNameError, load_catalog
from hiitpi.referee.programs import Program
from hiitpi.referee.rulecheck import unused_features
from hiitpi.referee.rules import Rule, RulesError, load_rule, parse_rule
from hiitpi.schemadoc import current_section, json_schema
from hiitpi.tomlpos import TomlDocument, key_lines, load_toml

REPO = Path(__file__).resolve().parent.parent
RULES = REPO / "rules"

# line numbers below refer to this text
BASE = """\
name = "knee_bend"
kind = "reps"

[features]
knee = { type = "angle", points = ["hip", "knee", "ankle"], side = "mean" }
lean = { type = "tilt", points = ["mid_shoulder", "mid_hip"] }
drop = { type = "height", points = ["shoulder", "ankle"], relative = "peak" }

[[states]]
name = "up"
when = [{ feature = "knee", above = 150 }]

[[states]]
name = "down"
when = [{ feature = "knee", below = 110 }]

[rep]
start = "up"
sequence = ["down"]
partial = { feature = "drop", below = 0.9 }

[[checks]]
feature = "lean"
max = 60
during = ["down"]
reason = "chest too far forward"
"""


def doc_of(text: str, name: str = "bad.toml") -> TomlDocument:
    import tomllib

    return TomlDocument(Path(name), tomllib.loads(text), key_lines(text))


def errors_of(text: str) -> list[str]:
    with pytest.raises(RulesError) as exc:
        parse_rule(doc_of(text))
    return exc.value.errors


def test_base_is_valid():
    rule = parse_rule(doc_of(BASE))
    assert rule.title == "Knee Bend" and rule.checks[0].action == "no_rep"
    assert rule.features["knee"].name == "knee" and rule.source == "bad.toml"


@pytest.mark.parametrize(
    ("old", "new", "expect"),
    [
        # references to states
        ('start = "up"', 'start = "top"', "bad.toml:18: rep.start: missing state 'top'; defined: down, up"),
        ('during = ["down"]', 'during = ["bottom"]', "bad.toml:25: checks.0.during: missing state 'bottom'"),
        ('name = "down"', 'name = "up"', "bad.toml:14: states.1.name: state 'up' is defined twice"),
        # references to features
        (
            'feature = "lean"',
            'feature = "tilt"',
            "bad.toml:23: checks.0.feature: unknown feature 'tilt'; defined:",
        ),
        (
            'feature = "drop", below',
            'feature = "dorp", below',
            "bad.toml:20: rep.partial.0.feature: unknown feature",
        ),
        # thresholds inside the feature's range
        (
            "above = 150",
            "above = 800",
            "bad.toml:11: states.0.when.0.above: impossible threshold: a 'angle' "
            "feature is always within 0..180, never 800",
        ),
        (
            "max = 60",
            "max = 95",
            "bad.toml:24: checks.0.max: impossible threshold: a 'tilt' feature is always "
            "within 0..90, never 95",
        ),
        (
            "below = 0.9",
            "below = 1.2",
            "bad.toml:20: rep.partial.0.below: impossible threshold: a 'height' "
            "feature relative to its peak is always within -inf..1, never 1.2",
        ),
        (
            "above = 150",
            "above = 180",
            "bad.toml:11: states.0.when.0.above: impossible threshold: a 'angle' feature is never above 180",
        ),
        (
            "below = 110 }",
            "below = 110, above = 120 }",
            "bad.toml:15: states.1.when.0: impossible threshold: above 120 and below 110",
        ),
        # hysteresis
        (
            "below = 110",
            "below = 160",
            "bad.toml:13: states.1: states 'up' and 'down' overlap on 'knee' "
            "(150..inf vs -inf..160): leave a gap between them (hysteresis)",
        ),
        # points and options that fit the feature's type
        (
            '"mid_shoulder", "mid_hip"]',
            '"mid_shoulder", "mid_hip", "knee"]',
            "bad.toml:6: features.lean.points: a 'tilt' feature needs 2 points, got 3",
        ),
        (
            'relative = "peak" }',
            'relative = "peak", min_range = 0.1 }',
            'bad.toml:7: features.drop.min_range: min_range applies only to relative = "range"',
        ),
        ("knee = {", "Knee = {", "bad.toml:5: features.Knee: feature name 'Knee' must be lower_snake_case"),
        (
            'side = "mean" }',
            'side = "mean", name = "k" }',
            "bad.toml:5: features.knee: unknown key 'name'; allowed here: axis, calibrate, fallback, min_range",
        ),
        # kinds
        ('kind = "reps"', 'kind = "hold"', 'bad.toml: (file): a kind = "hold" rule needs a [hold] table'),
    ],
)
def test_cross_table_checks_name_file_line_and_key(old, new, expect):
    assert old in BASE
    errs = errors_of(BASE.replace(old, new, 1))
    assert any(e.startswith(expect) for e in errs), errs


def test_each_side_needs_side_less_points():
    assert parse_rule(
        doc_of(BASE.replace('sequence = ["down"]', 'sequence = ["down"]\neach_side = true'))
    ).rep.each_side
    text = BASE.replace('"hip", "knee", "ankle"', '"left_hip", "left_knee", "left_ankle"')
    text = text.replace('"mid_shoulder", "mid_hip"', '"left_shoulder", "left_hip"')
    text = text.replace('["shoulder", "ankle"]', '["left_shoulder", "left_ankle"]')
    errs = errors_of(text.replace('sequence = ["down"]', 'sequence = ["down"]\neach_side = true'))
    assert any(e.startswith("bad.toml:20: rep.each_side: needs a feature on side-less points") for e in errs)


def test_a_hold_has_faults_not_no_reps():
    text = BASE.replace('kind = "reps"', 'kind = "hold"').replace(
        '[rep]\nstart = "up"\nsequence = ["down"]\npartial = { feature = "drop", below = 0.9 }',
        '[hold]\nstate = "down"',
    )
    assert parse_rule(doc_of(text)).checks[0].action == "fault"  # the default for a hold
    errs = errors_of(text.replace("max = 60", 'max = 60\naction = "no_rep"\nreach_above = 10'))
    assert any(e.startswith("bad.toml:23: checks.0.action: a hold has no reps") for e in errs), errs
    assert any(e.startswith("bad.toml:20: checks.0: reach_above/reach_below apply to reps") for e in errs)


def test_unused_features_are_a_warning():
    text = BASE.replace(
        "[[states]]", 'hips = { type = "height", points = ["mid_hip", "mid_knee"] }\n\n[[states]]', 1
    )
    rule = parse_rule(doc_of(text))
    assert unused_features(rule, doc_of(text)) == [
        "bad.toml:9: features.hips: warning: no state, check or rom reads this feature"
    ]
    assert unused_features(parse_rule(doc_of(BASE)), doc_of(BASE)) == []


def hiitpi(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "hiitpi", *args]
    return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO, timeout=60)


def test_rules_check_knows_programs(tmp_path):
    res = hiitpi("rules", "check", str(RULES / "programs" / "tabata_squat.toml"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.startswith("ok  tabata_squat") and "8 × (squat 20 s / rest 10 s)" in res.stdout
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    bad = rules / "programs" / "broken.toml"
    bad.write_text('name = "broken"\nrounds = 2\n\n[[blocks]]\nworkout = "squatt"\nwork_s = 20\n')
    res = hiitpi("rules", "check", str(rules))
    assert res.returncode == EXIT_BAD_INPUT
    assert (
        f"{bad}:5: blocks.0.workout: unknown workout 'squatt' (did you mean 'squat'?); known: burpee,"
        in res.stderr
    )
    assert "13 workout(s) loaded, 4 program(s) loaded, 1 error(s) in 1 file(s)" in res.stdout
    res = hiitpi("rules", "check", str(bad))
    assert res.returncode == EXIT_BAD_INPUT and "unknown workout 'squatt'" in res.stderr


def test_rules_check_prints_warnings_and_passes(tmp_path):
    path = tmp_path / "knee_bend.toml"
    path.write_text(
        BASE.replace(
            "[[states]]", 'hips = { type = "height", points = ["mid_hip", "mid_knee"] }\n\n[[states]]', 1
        )
    )
    res = hiitpi("rules", "check", str(tmp_path))
    assert res.returncode == 0, res.stderr
    assert f"{path}:9: features.hips: warning: no state, check or rom reads this feature" in res.stdout
    assert "1 workout(s) loaded, 0 program(s) loaded, 0 error(s)" in res.stdout


def test_rules_check_reports_overlap_and_range_with_file_line_and_key(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules, ignore=shutil.ignore_patterns("programs"))
    squat = rules / "squat.toml"
    # a threshold in degrees left on a feature measured in shares of the person's travel (0..1)
    squat.write_text(squat.read_text().replace("below = 0.35 }", "below = 800 }"))
    res = hiitpi("rules", "check", str(rules))
    assert res.returncode == EXIT_BAD_INPUT
    assert re.search(rf"{squat}:\d+: states\.0\.when\.0\.below: impossible threshold", res.stderr), res.stderr
    assert "Traceback" not in res.stderr


def test_a_program_whose_workout_does_not_load_says_which_file_to_fix(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(RULES, rules)
    (rules / "squat.toml").write_text('name = "squat"\n[[states\n')
    cat = load_catalog(rules)
    assert cat.broken == {"squat": str(rules / "squat.toml")}
    line = f"{rules}/programs/tabata_squat.toml:9: blocks.0.workout: workout 'squat' did not load: fix {rules}/squat.toml"
    assert any(e.startswith(line) for e in cat.errors), cat.errors
    res = hiitpi("rules", "check", str(rules / "programs" / "tabata_squat.toml"))
    assert res.returncode == EXIT_BAD_INPUT and "workout 'squat' did not load" in res.stderr


def test_unknown_name_is_bad_input_listing_the_known_ones():
    cat = load_catalog(RULES)
    with pytest.raises(UnknownNameError) as exc:
        cat.resolve("squatt")
    err = exc.value
    assert isinstance(err, InputError) and isinstance(err, KeyError) and err.exit_code == EXIT_BAD_INPUT
    assert "no workout or program named 'squatt'" in str(err) and "tabata_squat" in str(err)
    assert err.hint == "see `hiitpi rules list`"
    rule, program = cat.resolve("Tabata Squat")
    assert rule.name == "squat" and program is cat.program("tabata-squat")
    assert cat.resolve("pushups") == (cat.workouts["push_up"], None)
    assert cat.program("squat") is None
    assert cat.names()[:2] == ["burpee", "high_knees"] and cat.names()[-1] == "tabata_squat"


# --- the JSON Schema and the README ---------------------------------------------------------


@pytest.mark.parametrize(("model", "files"), [(Rule, "*.toml"), (Program, "programs/*.toml")])
def test_json_schema_is_valid_and_fits_every_shipped_file(model, files):
    schema = json.loads(json.dumps(json_schema(model)))
    validator = jsonschema.Draft202012Validator(schema)
    validator.check_schema(schema)
    paths = sorted(RULES.glob(files))
    assert paths
    for path in paths:
        errors = [e.message for e in validator.iter_errors(load_toml(path).data)]
        assert errors == [], f"{path}: {errors}"


def test_json_schema_rejects_what_the_loader_rejects():
    validator = jsonschema.Draft202012Validator(json_schema(Rule))
    data = load_toml(RULES / "squat.toml").data
    assert validator.is_valid(data)
    for broken in (
        {**data, "colour": "red"},
        {**data, "kind": "sprint"},
        {**data, "min_score": 2},
        {**data, "features": {**data["features"], "knee": {"type": "angel", "points": ["a", "b", "c"]}}},
    ):
        assert not validator.is_valid(broken), broken


def test_every_field_has_a_title_and_a_description():
    for model in (Rule, Program):
        schema = json_schema(model)
        for table in [schema, *schema["$defs"].values()]:
            assert table.get("title") and table.get("description"), table
            for key, prop in table["properties"].items():
                assert prop.get("title") and prop.get("description"), f"{table['title']}.{key}"


def test_schema_command_prints_json_schema():
    res = hiitpi("rules", "schema")
    assert res.returncode == 0, res.stderr
    schema = json.loads(res.stdout)
    assert schema["title"] == "HIIT PI workout rules" and "states" in schema["required"]
    assert "source" not in schema["properties"]  # filled in by the loader, not written in a file


def test_readme_reference_is_up_to_date():
    from hiitpi.commands.rules import reference

    text = (RULES / "README.md").read_text(encoding="utf-8")
    assert current_section(text) == reference(), (
        "run `hiitpi rules schema --write` and commit rules/README.md"
    )
    res = hiitpi("rules", "schema", "--markdown")
    assert res.returncode == 0 and res.stdout == reference()


def test_readme_examples_validate(tmp_path):
    text = (RULES / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```toml\n(.*?)```", text, flags=re.S)
    assert len(blocks) == 2
    rule_path = tmp_path / "calf_raise.toml"
    rule_path.write_text(blocks[0])
    rule = load_rule(rule_path)
    assert rule.name == "calf_raise" and rule.rep.rom is not None
    (tmp_path / "programs").mkdir()
    (tmp_path / "push_up.toml").write_text((RULES / "push_up.toml").read_text())
    (tmp_path / "programs" / "tabata_push_up.toml").write_text(blocks[1])
    cat = load_catalog(tmp_path)
    assert cat.errors == [] and cat.program("tabata_push_up").total_s == 8 * 30 - 10


def test_schema_write_updates_only_the_reference(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("# Mine\n\nguide\n\n<!-- reference:begin -->\nold\n<!-- reference:end -->\ntail\n")
    res = hiitpi("rules", "schema", "--write", str(readme))
    assert res.returncode == 0 and "updated" in res.stdout
    text = readme.read_text()
    assert text.startswith("# Mine\n\nguide\n\n<!-- reference:begin -->\n### HIIT PI workout rules")
    assert text.endswith("<!-- reference:end -->\ntail\n") and "\nold\n" not in text
    readme.write_text("no markers\n")
    res = hiitpi("rules", "schema", "--write", str(readme))
    assert res.returncode == EXIT_BAD_INPUT and "reference:begin" in res.stderr
