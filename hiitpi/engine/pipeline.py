"""The pose stage every frame goes through once: estimator → smoother, with its timings.

One `PoseStage` feeds any number of referees (the session's, and the recogniser's candidates):
the pose model runs once per frame whoever watches. The live frame loop and offline analysis
(`hiitpi analyze`, evaluations) use the same stage, so a clip counts the same in both. Once the
referee has read the picture as turned (a camera on its side), `follow` has the stage run the pose
model on the picture turned upright (`hiitpi.pose.upright`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from hiitpi.pose.types import Pose
from hiitpi.pose.upright import estimate_upright
from hiitpi.referee.events import RefEvent
from hiitpi.stats import summary

log = logging.getLogger(__name__)

STAGES = ("pose", "smooth", "referee")


@dataclass
class StageTimes:
    """Per-stage wall times in milliseconds, one entry per frame (offline analysis keeps them all)."""

    values: dict[str, list[float]] = field(default_factory=lambda: {s: [] for s in STAGES})

    def add(self, stage: str, ms: float) -> None:
        self.values.setdefault(stage, []).append(ms)

    def summary(self) -> dict[str, dict[str, float]]:
        """``{"pose_ms": {median, p90, n}, ...}`` for the stages that ran."""
        out = {}
        for stage, vals in self.values.items():
            if vals:
                s = summary(vals)
                out[f"{stage}_ms"] = {"median": s["median"], "p90": s["p90"], "n": s["n"]}
        return out


class PoseStage:
    """``process(image, t)`` → the smoothed pose (or None: nobody seen). ``last_ms`` holds this
    frame's stage times; with ``keep_times`` every frame's go to ``times`` too."""

    def __init__(self, estimator: Any, smoother: Any = None, *, keep_times: bool = False):
        self.estimator = estimator
        self.smoother = smoother
        self.times = StageTimes() if keep_times else None
        self.last_ms: dict[str, float] = {}
        #: where the body's up points in the picture (0 upright): the pose model sees it turned upright
        self.turn = 0

    def _time(self, stage: str, t0: float) -> None:
        ms = (time.perf_counter() - t0) * 1000.0
        self.last_ms[stage] = ms
        if self.times is not None:
            self.times.add(stage, ms)

    def process(self, image: np.ndarray, timestamp: float, *, rgb: bool = False) -> Pose | None:
        """``rgb``: the image's channels are R, G, B (see `hiitpi.pose.base.PoseBackend.estimate`)."""
        self.last_ms = {}
        t0 = time.perf_counter()
        kw = {"rgb": True} if rgb else {}
        pose = estimate_upright(self.estimator, image, timestamp, self.turn, **kw)
        self._time("pose", t0)
        return self.smooth(pose)

    def smooth(self, pose: Pose | None) -> Pose | None:
        """The smoothing step alone (for poses estimated earlier: a pose cache, tests)."""
        if pose is None or self.smoother is None:
            return pose
        t0 = time.perf_counter()
        pose = self.smoother.filter(pose)
        self._time("smooth", t0)
        return pose

    def referee(self, referees: Iterable[Any], pose: Pose | None, timestamp: float) -> list[RefEvent]:
        """Feed ``pose`` to every referee; their events in order (timed as the referee stage)."""
        t0 = time.perf_counter()
        events: list[RefEvent] = []
        for ref in referees:
            events.extend(ref.update(pose, timestamp))
        self._time("referee", t0)
        return events

    def follow(self, referee: Any) -> None:
        """Run the pose model on the picture as ``referee`` has read it (its ``turn``, once read)
        from the next frame: a turned picture turned upright, tracking started afresh."""
        if referee is None or not getattr(referee, "turn_read", False) or referee.turn == self.turn:
            return
        self.turn = referee.turn
        log.info(
            "the picture reads as turned %d° from the body (%s): the pose model sees it upright",
            self.turn,
            getattr(referee, "name", "referee"),
        )
        if hasattr(self.estimator, "reset"):
            self.estimator.reset()  # a tracked region of the old picture means nothing in the new

    def reset(self) -> None:
        """A new clip or session: tracking and smoothing start afresh (the picture's turn is kept:
        the camera has not moved)."""
        for part in (self.estimator, self.smoother):
            if part is not None and hasattr(part, "reset"):
                part.reset()
