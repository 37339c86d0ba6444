"""Alternating sides, on synthetic series: the teacher tells two sides moving in antiphase from two
moving together (or one side's drift), and the similarity score compares a rep with the reps of the
side the alternation calls for."""

from __future__ import annotations

import numpy as np

from hiitpi.referee.events import RefEvent
from hiitpi.referee.reference import Reference, RefRep
from hiitpi.referee.similarity import Alternation, score_trajectory
from hiitpi.teach.bank import BY_KEY
from hiitpi.teach.sides import antiphase, correlation, sided_swings

FPS = 30.0
T = np.arange(0.0, 6.0, 1 / FPS)


def _lifts(phase: float, drift: float = 0.0) -> np.ndarray:
    """A knee angle, straight (170 degrees) for the first second, then bending to 90 once a
    second from ``1 + phase`` s, with a slow drift."""
    x = np.where(1 + phase <= T, 130.0 + 40.0 * np.cos(2 * np.pi * (T - 1 - phase)), 170.0)
    return x + drift * T


def test_antiphase_sides_are_told_from_sides_moving_together():
    left, right = _lifts(0.0), _lifts(0.5)
    assert correlation(T, left, right) < -0.9
    assert correlation(T, left, _lifts(0.0)) > 0.9
    # a shared drift (the person settling) does not hide the back and forth
    assert correlation(T, _lifts(0.0, drift=30.0), _lifts(0.5, drift=30.0)) < -0.9


def test_alternation_needs_two_body_parts():
    knee, hip = BY_KEY["knee"], BY_KEY["hip"]
    sides = {"knee": (_lifts(0.0), _lifts(0.5)), "hip": (_lifts(0.0), _lifts(0.5))}
    assert [c.key for c in antiphase(T, sides, [knee, hip])] == ["knee", "hip"]
    # one part alone could be a tracking glitch
    assert antiphase(T, {"knee": sides["knee"]}, [knee]) == []
    together = {"knee": sides["knee"], "hip": (_lifts(0.0), _lifts(0.0))}
    assert antiphase(T, together, [knee, hip]) == []


def test_both_sides_reps_are_merged_into_one_candidate():
    sw = sided_swings(BY_KEY["knee"], T, _lifts(0.0), _lifts(0.5), use_end=False)
    assert sw is not None and sw.sides is not None
    left, right = sw.sides
    assert (left.count, right.count, sw.count) == (5, 4, 9)
    assert sw.far_t == sorted(sw.far_t)
    # the far position (bent, 90) is the same end on both sides
    assert left.start_high == right.start_high
    assert abs(sw.far_value - 90.0) < 3 and abs(sw.start_value - 170.0) < 3


def _rep(moving: str) -> dict[str, np.ndarray]:
    bend = 130.0 + 40.0 * np.cos(np.linspace(0, 2 * np.pi, 30))
    still = np.full(30, 170.0)
    return {
        "knee_left": bend if moving == "left" else still,
        "knee_right": bend if moving == "right" else still,
    }


def _reference() -> Reference:
    feats = {k: dict(BY_KEY["knee"].spec, side=k.split("_")[1]) for k in ("knee_left", "knee_right")}
    reps = [RefRep(0.0, 1.0, {k: list(v) for k, v in _rep(side).items()}, side) for side in ("left", "right")]
    for r in reps:
        for k, v in r.values.items():
            r.values[k] = [float(x) for x in np.interp(np.linspace(0, 29, 40), np.arange(30), v)]
    return Reference("knees", feats, {k: "knees" for k in feats}, {k: 80.0 for k in feats}, {"front": reps})


def test_a_rep_is_compared_with_the_side_that_was_due():
    ref = _reference()
    assert ref.alternating
    lift = _rep("left")
    due = score_trajectory(lift, ref, "front", {}, side="left")
    wrong = score_trajectory(lift, ref, "front", {}, side="right")
    assert due.score > 99 and wrong.score < 80 and wrong.deviation == "knees"
    # without a side, the closest of all reference reps
    assert score_trajectory(lift, ref, "front", {}).score > 99


def test_the_side_due_is_the_other_one_from_the_rep_before():
    def ev(kind: str, side: str | None) -> RefEvent:
        return RefEvent(kind, "knees", 0.0, 1.0, side=side)

    events = [
        ev("rep", "left"),
        ev("rep", "right"),
        ev("no_rep", "right"),
        ev("rep", "right"),
        ev("rep", "left"),
    ]
    due = Alternation.expected_sides(events)
    # the first rep its own side; then the other one from the last rep (a no-rep does not move it on)
    assert [due[id(e)] for e in events] == ["left", "right", "left", "left", "left"]
    sideless = [ev("rep", None)]
    assert Alternation.expected_sides(sideless) == {id(sideless[0]): None}
