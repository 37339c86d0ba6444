"""Synthetic keypoint sequences: a stick figure with known joint angles.

Used by the referee's unit tests (each rule feature against a movement whose geometry is known
exactly) and by `hiitpi bench referee` when no recorded pose data is at hand. Lengths are in
pixels of a 640×480 frame; the figure stands ~330 px tall.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hiitpi.pose.types import KEYPOINT_INDEX, Pose

W, H = 640, 480
SHIN = THIGH = 95.0
TORSO = 110.0
UPPER_ARM = FOREARM = 55.0
GROUND_Y = 440.0


@dataclass
class Figure:
    """Joint parameters of one frame. Angles in degrees."""

    knee_deg: float = 178.0  # both knees (squat depth), side view
    arms_up: float = 0.0  # 0 arms down by the sides, 1 straight overhead (front view)
    feet_apart: float = 20.0  # half the gap between the ankles, px (front view)
    lift_left: float = 0.0  # thigh raised from vertical, degrees (high knees)
    lift_right: float = 0.0
    score: float = 0.9
    hidden: tuple[str, ...] = ()  # keypoints reported with score 0
    #: how far the body is turned from facing the camera, degrees: 0 front, 90 side on (the
    #: left-right widths shrink by its cosine)
    facing: float = 0.0


def standing_figure(fig: Figure, t: float) -> Pose:
    """A figure seen from the side for the legs/torso and from the front for arms and feet."""
    kp = np.zeros((17, 3), dtype=np.float32)
    phi = math.radians((180.0 - fig.knee_deg) / 2.0)
    cx = W / 2
    width = math.cos(math.radians(fig.facing))
    pts: dict[str, tuple[float, float]] = {}
    for side, sign in (("left", width), ("right", -width)):
        ax = cx + sign * fig.feet_apart
        ankle = (ax, GROUND_Y)
        lift = math.radians(fig.lift_left if side == "left" else fig.lift_right)
        if lift > 0:
            # standing leg geometry with this thigh raised forward from the hip
            hip = (cx + sign * 15.0, GROUND_Y - SHIN * math.cos(phi) - THIGH * math.cos(phi))
            knee = (hip[0] + THIGH * math.sin(lift), hip[1] + THIGH * math.cos(lift))
            ankle = (knee[0], knee[1] + SHIN)
        else:
            knee = (ax + SHIN * math.sin(phi), GROUND_Y - SHIN * math.cos(phi))
            hip = (knee[0] - THIGH * math.sin(phi), knee[1] - THIGH * math.cos(phi))
        pts[f"{side}_ankle"] = ankle
        pts[f"{side}_knee"] = knee
        pts[f"{side}_hip"] = hip
    hip_y = (pts["left_hip"][1] + pts["right_hip"][1]) / 2
    for side, sign in (("left", width), ("right", -width)):
        sx = cx + sign * 35.0
        sy = hip_y - TORSO
        pts[f"{side}_shoulder"] = (sx, sy)
        # arms swing in the frontal plane: angle from straight down (0) to straight up (180)
        a = math.radians(180.0 * fig.arms_up)
        ex = sx + sign * UPPER_ARM * math.sin(a)
        ey = sy + UPPER_ARM * math.cos(a)
        pts[f"{side}_elbow"] = (ex, ey)
        pts[f"{side}_wrist"] = (ex + sign * FOREARM * math.sin(a), ey + FOREARM * math.cos(a))
    top = hip_y - TORSO
    pts["nose"] = (cx, top - 40)
    pts["left_eye"] = (cx + 8, top - 46)
    pts["right_eye"] = (cx - 8, top - 46)
    pts["left_ear"] = (cx + 16, top - 42)
    pts["right_ear"] = (cx - 16, top - 42)
    for name, (x, y) in pts.items():
        i = KEYPOINT_INDEX[name]
        kp[i] = (x / W, y / H, 0.0 if name in fig.hidden else fig.score)
    return Pose(kp, float(kp[:, 2].mean()), t, W, H)


def plank_figure(t: float, elbow_deg: float = 175.0, sag_px: float = 0.0, score: float = 0.9) -> Pose:
    """A push-up / plank seen from the side: hands under the shoulders, body horizontal."""
    kp = np.zeros((17, 3), dtype=np.float32)
    wrist = (200.0, 430.0)
    # arm: shoulder straight above the wrist at full extension; bending lowers the shoulder
    half = math.radians(elbow_deg / 2.0)
    arm_h = 2 * UPPER_ARM * math.sin(half)
    elbow_off = UPPER_ARM * math.cos(half)
    shoulder = (wrist[0], wrist[1] - arm_h)
    elbow = (wrist[0] + elbow_off, wrist[1] - arm_h / 2)
    body = 2.6 * TORSO
    ankle = (shoulder[0] + body, 425.0)
    hip = ((shoulder[0] + ankle[0]) / 2, (shoulder[1] + ankle[1]) / 2 + sag_px)
    knee = ((hip[0] + ankle[0]) / 2, (hip[1] + ankle[1]) / 2)
    pts = {"shoulder": shoulder, "elbow": elbow, "wrist": wrist, "hip": hip, "knee": knee, "ankle": ankle}
    for side in ("left", "right"):
        for part, (x, y) in pts.items():
            kp[KEYPOINT_INDEX[f"{side}_{part}"]] = (x / W, y / H, score)
    for name, dx in (
        ("nose", -30),
        ("left_eye", -34),
        ("right_eye", -34),
        ("left_ear", -20),
        ("right_ear", -20),
    ):
        kp[KEYPOINT_INDEX[name]] = ((shoulder[0] + dx) / W, (shoulder[1] - 10) / H, score)
    return Pose(kp, float(kp[:, 2].mean()), t, W, H)


def squat_sequence(
    reps: int, fps: float = 30.0, period_s: float = 2.0, bottom_deg: float = 80.0
) -> list[Pose]:
    """``reps`` squats from standing to ``bottom_deg`` at the knee, standing 1 s before and after."""
    poses = []
    n_rest = int(fps)
    t = 0.0
    dt = 1.0 / fps
    for _ in range(n_rest):
        poses.append(standing_figure(Figure(), t))
        t += dt
    for _ in range(reps):
        n = int(period_s * fps)
        for i in range(n):
            x = 0.5 - 0.5 * math.cos(2 * math.pi * i / n)  # 0 → 1 → 0
            poses.append(standing_figure(Figure(knee_deg=178.0 - x * (178.0 - bottom_deg)), t))
            t += dt
    for _ in range(n_rest):
        poses.append(standing_figure(Figure(), t))
        t += dt
    return poses
