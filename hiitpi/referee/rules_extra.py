"""Rules keys the rules loader does not read yet: a feature's ``views`` and ``calibrate``, and
features of type "mean" (``of``).

Temporary. The rules schema is being replaced (issue 12: pydantic models for every user-edited
file); until that lands, these two keys of `hiitpi.referee.features.FeatureSpec` are kept here,
in the TOML they will have in the rules files (``[<workout>.features.<feature>]``), and
`with_extras` applies them to a loaded rule. When the schema lands the tables move into
rules/*.toml as they are and this module goes.
"""

from __future__ import annotations

import dataclasses
import tomllib

from hiitpi.referee.calibrate import CalibrateSpec
from hiitpi.referee.features import FeatureSpec
from hiitpi.referee.rules import Rule

TEXT = """
[squat.features]
stand = { calibrate = { start = 1.0, far = 0.6, min_travel = 0.2, max_travel = 0.6 } }
knee = { calibrate = { start = 175, far = 90, min_travel = 50, max_travel = 110 } }
hip_over_knee = { calibrate = { start = 1.0, far = 0.3, min_travel = 0.35, max_travel = 1.2 } }
move = { type = "mean", of = ["stand", "knee", "hip_over_knee"] }

[push_up.features]
elbow = { calibrate = { start = 170, far = 85, min_travel = 35, max_travel = 120 } }
chest = { views = ["side", "oblique"], calibrate = { start = 1.3, far = 0.6, min_travel = 0.3, max_travel = 1.2 } }
move = { type = "mean", of = ["elbow", "chest"] }
torso = { views = ["side", "oblique"] }
hip_drop = { views = ["side", "oblique"] }

[burpee.features]
torso = { views = ["side", "oblique"], calibrate = { start = 5, far = 80, min_travel = 40, max_travel = 90 } }
stand = { calibrate = { start = 1.0, far = 0.2, min_travel = 0.4, max_travel = 1.0 } }
move = { type = "mean", of = ["stand", "torso"] }
plank = { views = ["side", "oblique"] }

[high_knees.features]
knee_lift = { calibrate = { start = -0.9, far = -0.1, min_travel = 0.35, max_travel = 1.2 } }

[lunge.features]
knee = { calibrate = { start = 170, far = 90, min_travel = 40, max_travel = 110 } }
stand = { calibrate = { start = 1.0, far = 0.75, min_travel = 0.12, max_travel = 0.5 } }
move = { type = "mean", of = ["knee", "stand"] }

[mountain_climber.features]
hip = { calibrate = { start = 170, far = 90, min_travel = 30, max_travel = 110 } }

[jumping_jack.features]
arms = { calibrate = { start = -0.9, far = 0.5, min_travel = 0.6, max_travel = 2.0 } }
feet = { calibrate = { start = 0.3, far = 1.0, min_travel = 0.3, max_travel = 1.5 } }
move = { type = "mean", of = ["arms", "feet"] }

[plank_jack.features]
feet = { calibrate = { start = 1.0, far = 3.0, min_travel = 1.5, max_travel = 5.0 } }

[toe_tap.features]
foot_lift = { calibrate = { start = -1.8, far = -1.1, min_travel = 0.35, max_travel = 1.5 } }

[side_squat_jump.features]
stand = { calibrate = { start = 1.0, far = 0.6, min_travel = 0.2, max_travel = 0.6 } }
knee = { calibrate = { start = 175, far = 90, min_travel = 50, max_travel = 110 } }
move = { type = "mean", of = ["stand", "knee"] }

[plank.features]
torso = { views = ["side", "oblique"] }
body_line = { views = ["side", "oblique"] }
hip_rise = { views = ["side", "oblique"] }

[wall_sit.features]
knee = { views = ["side", "oblique"] }
torso = { views = ["side", "oblique"] }
hip_over_knee = { views = ["side", "oblique"] }

[situp.features]
hip = { calibrate = { start = 130, far = 60, min_travel = 30, max_travel = 110 } }
torso = { views = ["side", "oblique"], calibrate = { start = 85, far = 30, min_travel = 25, max_travel = 90 } }
curl = { views = ["front", "above"], calibrate = { start = 2.5, far = 1.0, min_travel = 0.6, max_travel = 3.0 } }
move = { type = "mean", of = ["hip", "torso", "curl"] }
"""

EXTRA: dict = tomllib.loads(TEXT)


def with_extras(rule: Rule) -> Rule:
    """``rule`` with the pending keys for its workout applied (the rule itself if there are none)."""
    extra = EXTRA.get(rule.name, {}).get("features", {})
    if not extra:
        return rule
    features = dict(rule.features)
    for name, keys in extra.items():
        spec = features.get(name)
        if keys.get("type") == "mean":
            spec = FeatureSpec(name, "mean", (), of=tuple(keys["of"]))
        if spec is None:
            continue
        changes = {}
        if "views" in keys:
            changes["views"] = tuple(keys["views"])
        if "calibrate" in keys:
            changes["calibrate"] = CalibrateSpec(**keys["calibrate"])
        features[name] = dataclasses.replace(spec, **changes)
    return dataclasses.replace(rule, features=features)
