"""Pose features the exercise classifier reads: per frame, then summarised over a window.

Per frame, from the 17 COCO keypoints in pixels: joint angles, which way the body's segments
point, where the hands, knees, feet and head are relative to the hips, how wide the stance and
the arms are, and the shape of the body's box. Everything is divided by the body's size (the
longest of the torso, the upper arm and the thigh in torso lengths, as in the referee's view
detector) and made independent of which side faces the camera: a left/right pair becomes its
smaller and larger value, and horizontal directions are taken without their sign. So a squat
filmed from the left and from the right, near or far, portrait or landscape, gives the same
numbers.

A window of frames (a few seconds) is summarised per feature by its mean, spread (standard
deviation), and its low and high positions (10th and 90th percentiles): the two extremes of a
movement and how much it moves. A keypoint under ``min_score`` is missing; features that need
it are NaN and the summaries skip them.

Vectorised numpy over a batch of frames, so training (thousands of windows) and the live
recogniser (a few new frames at a time) compute exactly the same numbers.
"""

from __future__ import annotations

import warnings

import numpy as np

from hiitpi.pose.types import KEYPOINT_INDEX

_K = KEYPOINT_INDEX
_NOSE = _K["nose"]
_SIDES = {
    part: (_K[f"left_{part}"], _K[f"right_{part}"])
    for part in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
}

#: torso length per upper-arm and per thigh length for an adult (the referee's view detector too)
ARM_TO_TORSO = 1.6
THIGH_TO_TORSO = 1.1

#: (name, (a, b, c)) joint angles at b, per side
_ANGLES = (
    ("knee", ("hip", "knee", "ankle")),
    ("hip", ("shoulder", "hip", "knee")),
    ("elbow", ("shoulder", "elbow", "wrist")),
    ("shoulder", ("hip", "shoulder", "elbow")),
)
#: (name, (from, to)) segments whose vertical direction is read, per side
_SEGMENTS = (
    ("thigh", ("hip", "knee")),
    ("shin", ("knee", "ankle")),
    ("upper_arm", ("shoulder", "elbow")),
    ("forearm", ("elbow", "wrist")),
)
#: points whose height above the mid-hip is read, per side
_HEIGHTS = ("wrist", "elbow", "knee", "ankle", "shoulder")
#: points whose horizontal distance from the mid-hip is read, per side
_REACH = ("wrist", "knee", "ankle")
#: pairs whose horizontal spread is read
_SPREADS = ("wrist", "elbow", "knee", "ankle")


def _frame_names() -> tuple[str, ...]:
    names: list[str] = []
    for n, _ in _ANGLES:
        names += [f"{n}_angle_min", f"{n}_angle_max"]
    names += ["torso_dx", "torso_dy"]
    for n, _ in _SEGMENTS:
        names += [f"{n}_dy_min", f"{n}_dy_max"]
    for n in _HEIGHTS:
        names += [f"{n}_up_min", f"{n}_up_max"]
    names.append("nose_up")
    for n in _REACH:
        names += [f"{n}_reach_min", f"{n}_reach_max"]
    names += [f"{n}_spread" for n in _SPREADS]
    names += ["knee_angle_diff", "box_aspect", "shoulder_width"]
    return tuple(names)


#: Names of the per-frame shape features, in column order.
SHAPE_FEATURES: tuple[str, ...] = _frame_names()
#: Where the body is in the frame, in pixels: read only as movement over a window (how far the
#: hips and feet travel, in body sizes), never as a position, which depends on the camera.
POSITION_COLUMNS: tuple[str, ...] = ("hip_x_px", "hip_y_px", "ankle_y_px", "size_px")
#: Every per-frame column `frame_features` returns.
FRAME_FEATURES: tuple[str, ...] = SHAPE_FEATURES + POSITION_COLUMNS
#: The summaries of each shape feature over a window, in order.
SUMMARIES: tuple[str, ...] = ("mean", "std", "p10", "p90")
#: Names of the window features (what the classifier reads), in column order.
WINDOW_FEATURES: tuple[str, ...] = (
    *tuple(f"{f}.{s}" for f in SHAPE_FEATURES for s in SUMMARIES),
    "hip_x.travel",
    "hip_y.travel",
    "ankle_y.travel",
)
_NS = len(SHAPE_FEATURES)


_L = {p: a for p, (a, _) in _SIDES.items()}
_R = {p: b for p, (_, b) in _SIDES.items()}
_MID_SHOULDER, _MID_HIP = 17, 18  # midpoints appended after the 17 keypoints


def _sided(parts: tuple[str, ...]) -> list[int]:
    """Left then right keypoint index of each part: [l0, r0, l1, r1, ...]."""
    return [i for p in parts for i in (_L[p], _R[p])]


_ANGLE_IDX = tuple(np.array([i for _, pts in _ANGLES for i in _sided((pts[k],))]) for k in range(3))
_SEG_IDX = tuple(np.array([i for _, pts in _SEGMENTS for i in _sided((pts[k],))]) for k in range(2))
_HEIGHT_IDX = np.array(_sided(_HEIGHTS))
_REACH_IDX = np.array(_sided(_REACH))
_SPREAD_L = np.array([_L[p] for p in _SPREADS])
_SPREAD_R = np.array([_R[p] for p in _SPREADS])
_TORSO = (np.array([_L["shoulder"], _R["shoulder"]]), np.array([_L["hip"], _R["hip"]]))
_ARM = (np.array([_L["shoulder"], _R["shoulder"]]), np.array([_L["elbow"], _R["elbow"]]))
_THIGH = (np.array([_L["hip"], _R["hip"]]), np.array([_L["knee"], _R["knee"]]))
_BODY = np.array([_NOSE, *_sided(tuple(_SIDES))])


def _norm(v: np.ndarray) -> np.ndarray:
    return np.sqrt(v[..., 0] ** 2 + v[..., 1] ** 2)


def _min_max(v: np.ndarray) -> np.ndarray:
    """(n, k*2) left/right columns → (n, k*2) as [min0, max0, min1, max1, ...]."""
    v = v.reshape(len(v), -1, 2)
    return np.stack([np.fmin(v[..., 0], v[..., 1]), np.fmax(v[..., 0], v[..., 1])], axis=2).reshape(
        len(v), -1
    )


def frame_features(px: np.ndarray, min_score: float = 0.2) -> np.ndarray:
    """(frames, len(FRAME_FEATURES)) columns of ``px`` (frames, 17, 3): x, y in pixels, score.

    Rows without a measurable body are all NaN.
    """
    px = np.asarray(px, dtype=np.float64)
    if px.ndim == 2:
        px = px[None]
    n = len(px)
    xy = np.where((px[..., 2:3] >= min_score), px[..., :2], np.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # hidden keypoints are NaN on purpose
        pairs = xy[:, [_L["shoulder"], _R["shoulder"], _L["hip"], _R["hip"]]].reshape(n, 2, 2, 2)
        mids = np.nanmean(pairs, axis=2)  # one side hidden: the other stands in for the midpoint
        p = np.concatenate([xy, mids], axis=1)
        size = np.fmax(
            np.fmax(
                np.fmax.reduce(_norm(p[:, _TORSO[0]] - p[:, _TORSO[1]]), axis=1),
                np.fmax.reduce(_norm(p[:, _ARM[0]] - p[:, _ARM[1]]), axis=1) * ARM_TO_TORSO,
            ),
            np.fmax.reduce(_norm(p[:, _THIGH[0]] - p[:, _THIGH[1]]), axis=1) * THIGH_TO_TORSO,
        )
        size = np.where(size > 1e-6, size, np.nan)[:, None]
        hip = p[:, _MID_HIP]
        v1 = p[:, _ANGLE_IDX[0]] - p[:, _ANGLE_IDX[1]]
        v2 = p[:, _ANGLE_IDX[2]] - p[:, _ANGLE_IDX[1]]
        cos = (v1 * v2).sum(axis=2) / (_norm(v1) * _norm(v2))
        angles = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
        seg = p[:, _SEG_IDX[1]] - p[:, _SEG_IDX[0]]
        torso = p[:, _MID_SHOULDER] - hip
        tl = _norm(torso)
        body = p[:, _BODY]
        w = np.nanmax(body[..., 0], axis=1) - np.nanmin(body[..., 0], axis=1)
        h = np.nanmax(body[..., 1], axis=1) - np.nanmin(body[..., 1], axis=1)
        s1 = size[:, 0]
        out = np.concatenate(
            [
                _min_max(angles),
                (np.abs(torso[:, 0]) / tl)[:, None],
                (torso[:, 1] / tl)[:, None],  # -1 upright, 0 horizontal, +1 upside down
                _min_max(seg[..., 1] / _norm(seg)),
                _min_max((hip[:, 1:2] - p[:, _HEIGHT_IDX, 1]) / size),
                ((hip[:, 1] - p[:, _NOSE, 1]) / s1)[:, None],
                _min_max(np.abs(p[:, _REACH_IDX, 0] - hip[:, 0:1]) / size),
                np.abs(p[:, _SPREAD_L, 0] - p[:, _SPREAD_R, 0]) / size,
                np.abs(angles[:, 0] - angles[:, 1])[:, None],
                np.log((w + 1e-3 * s1) / (h + 1e-3 * s1))[:, None],
                (_norm(p[:, _L["shoulder"]] - p[:, _R["shoulder"]]) / s1)[:, None],
                hip,
                np.nanmean(p[:, [_L["ankle"], _R["ankle"]], 1], axis=1)[:, None],
                size,
            ],
            axis=1,
        )
    out[np.isnan(s1)] = np.nan
    return out


def window_features(frames: np.ndarray) -> np.ndarray:
    """The window summary (len(WINDOW_FEATURES),) of per-frame features (frames, F).

    Percentiles interpolate linearly between the measured values (numpy's default); a feature
    never measured in the window is NaN in every summary.
    """
    frames = np.asarray(frames, dtype=np.float64)
    f = frames[:, :_NS]
    valid = ~np.isnan(f)
    n = valid.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(valid, f, 0.0)
        mean = z.sum(axis=0) / n
        std = np.sqrt(np.maximum((np.where(valid, f - mean, 0.0) ** 2).sum(axis=0) / n, 0.0))
        srt = np.sort(f, axis=0)  # NaN sort last
        cols = np.arange(f.shape[1])
        qs = []
        for q in (0.1, 0.9):
            pos = q * np.maximum(n - 1, 0)
            lo = np.floor(pos).astype(int)
            hi = np.minimum(lo + 1, np.maximum(n - 1, 0))
            frac = pos - lo
            qs.append(srt[lo, cols] * (1.0 - frac) + srt[hi, cols] * frac)
    out = np.stack([mean, std, qs[0], qs[1]], axis=1)
    out[n == 0] = np.nan
    return np.concatenate([out.reshape(-1), _travel(frames[:, _NS:])])


def _travel(pos: np.ndarray) -> np.ndarray:
    """Spread (std) of the hips' x, y and the feet's y over the window, in median body sizes."""
    with np.errstate(invalid="ignore", divide="ignore"):
        size = pos[:, 3]
        ok = ~np.isnan(size)
        if ok.sum() < 2:
            return np.full(3, np.nan)
        med = np.median(size[ok])
        out = np.empty(3)
        for j in range(3):
            v = pos[:, j]
            v = v[~np.isnan(v)]
            out[j] = v.std() / med if len(v) >= 2 else np.nan
    return out
