"""A workout's reference: the trajectories of reps someone recorded as the way it should look.

Kept next to the rules file, ``rules/<name>.reference.json`` (the catalogue reads only ``*.toml``,
so it never mistakes one for a workout). It holds the features the trajectories are measured on
(ordinary feature specs, one per body part), the body part each is said as, the size a difference
is measured in per feature (``scale``: the demo's own range, with a floor so a part that hardly
moved is not judged to the degree), and, per camera view, the reps: each feature resampled to
``points`` values from the rep's start to its end, and for a workout whose sides alternate the
side each rep moved (its features then include each side's own, ``knee_left``...).
`hiitpi.referee.similarity` scores a rep against it.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path

from hiitpi.errors import InputError
from hiitpi.referee.features import FeatureSpec

log = logging.getLogger(__name__)

VERSION = 1
SUFFIX = ".reference.json"
#: values per feature per rep: a rep is compared at this resolution, whatever its duration
POINTS = 40


class ReferenceError(InputError):
    """A reference file that cannot be read; the message names the file."""


@dataclass
class RefRep:
    """One recorded rep: per feature ``POINTS`` values (None where the feature was not seen)."""

    t_start: float
    t_end: float
    values: dict[str, list[float | None]]
    #: the side that moved (an alternating workout's rep: "left", "right"), else None
    side: str | None = None


@dataclass
class Reference:
    workout: str
    features: dict[str, dict]  # feature key → spec (the rules format's inline table)
    parts: dict[str, str]  # feature key → body part ("knees")
    scale: dict[str, float]  # feature key → what one unit of difference is
    views: dict[str, list[RefRep]] = field(default_factory=dict)
    points: int = POINTS
    min_score: float = 0.2  # keypoints scored below this are not seen (the rule's min_score)
    source: str = ""  # the video it was recorded from
    recorded_at: str = ""

    @property
    def reps(self) -> int:
        return sum(len(v) for v in self.views.values())

    @property
    def alternating(self) -> bool:
        """The reps were recorded with the side that moved (a workout whose sides alternate)."""
        return any(r.side for reps in self.views.values() for r in reps)

    def feature_specs(self) -> dict[str, FeatureSpec]:
        specs = {}
        for key, spec in self.features.items():
            s = FeatureSpec.model_validate(spec)
            s._fill(name=key)
            specs[key] = s
        return specs

    def to_json(self) -> dict:
        return {
            "workout": self.workout,
            "version": VERSION,
            "points": self.points,
            "min_score": self.min_score,
            "source": self.source,
            "recorded_at": self.recorded_at,
            "features": self.features,
            "parts": self.parts,
            "scale": {k: round(v, 4) for k, v in self.scale.items()},
            "views": {
                view: [
                    {
                        "t": [round(r.t_start, 3), round(r.t_end, 3)],
                        **({"side": r.side} if r.side else {}),
                        "values": {k: [_r(x) for x in vs] for k, vs in r.values.items()},
                    }
                    for r in reps
                ]
                for view, reps in self.views.items()
            },
        }

    @classmethod
    def from_json(cls, data: dict, where: str = "") -> Reference:
        try:
            if data.get("version") != VERSION:
                raise ValueError(f"version {data.get('version')!r}, this HIIT PI reads version {VERSION}")
            views = {
                view: [
                    RefRep(float(r["t"][0]), float(r["t"][1]), dict(r["values"]), _side(r.get("side")))
                    for r in reps
                ]
                for view, reps in data["views"].items()
            }
            ref = cls(
                workout=str(data["workout"]),
                features=dict(data["features"]),
                parts=dict(data["parts"]),
                scale={k: float(v) for k, v in data["scale"].items()},
                views=views,
                points=int(data.get("points", POINTS)),
                min_score=float(data.get("min_score", 0.2)),
                source=str(data.get("source", "")),
                recorded_at=str(data.get("recorded_at", "")),
            )
            ref.feature_specs()
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ReferenceError(
                f"{where}: not a usable reference ({exc})",
                "record it again with `hiitpi teach --reference-for WORKOUT VIDEO`",
            ) from None
        return ref


def _side(side) -> str | None:
    if side not in (None, "left", "right"):
        raise ValueError(f"a rep's side is left or right, not {side!r}")
    return side


def _r(x: float | None) -> float | None:
    return None if x is None or (isinstance(x, float) and math.isnan(x)) else round(float(x), 4)


def reference_path(rules_dir: str | Path, workout: str) -> Path:
    return Path(rules_dir) / f"{workout}{SUFFIX}"


def path_for_rule(rule) -> Path | None:
    """Where the reference of a loaded rule lives (next to its file), or None for a rule not from a file."""
    if not rule.source or rule.source.startswith("<"):
        return None
    src = Path(rule.source)
    return src.with_name(f"{rule.name}{SUFFIX}")


def save_reference(ref: Reference, path: str | Path) -> Path:
    path = Path(path)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(ref.to_json(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return path


def load_reference(path: str | Path) -> Reference:
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReferenceError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise ReferenceError(f"{path}:{exc.lineno}: not JSON ({exc.msg})") from None
    return Reference.from_json(data, str(path))


def reference_for(rule) -> Reference | None:
    """The reference recorded for ``rule`` (None if there is none; a broken one is logged and skipped)."""
    path = path_for_rule(rule)
    if path is None or not path.is_file():
        return None
    try:
        return load_reference(path)
    except ReferenceError as exc:
        log.warning("%s (reps are not scored)", exc.message)
        return None
