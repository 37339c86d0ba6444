"""Which way the camera sees the body, read from the body itself.

Seen from the side, the shoulders and the hips overlap: their width in the image is a small share
of the body's size; seen from the front (or from behind) they are at full width; in between is
oblique. "From above" is a camera looking down the body's long axis (an elevated phone in front of
a push-up, a camera over the head of someone lying down): the torso is foreshortened to a fraction
of what the limbs say it should be.

The body's size is the longest of the torso and the upper arm and thigh scaled to torso lengths
(whichever is least foreshortened). Both ratios are smoothed with a time constant in seconds, and
the view changes only when a ratio is clearly past a boundary (hysteresis), so a turn of the head
or one bad frame does not flip it. Measured on the clips manifest (movenet-lightning, median per
clip): lateral width / body size 0.05–0.20 for the 15 side clips, 0.30 for the oblique one,
0.60–0.85 for the 10 front ones; torso / body size 0.27 for the push-up filmed from above.
"""

from __future__ import annotations

import math

from hiitpi.pose.types import KEYPOINT_INDEX

VIEWS: tuple[str, ...] = ("front", "oblique", "side", "above")

_LS, _RS = KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]
_LH, _RH = KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]
_LE, _RE = KEYPOINT_INDEX["left_elbow"], KEYPOINT_INDEX["right_elbow"]
_LK, _RK = KEYPOINT_INDEX["left_knee"], KEYPOINT_INDEX["right_knee"]

#: torso length per upper-arm length and per thigh length for an adult (the body's proportions)
ARM_TO_TORSO = 1.6
THIGH_TO_TORSO = 1.1
#: hip width reads as this many shoulder widths
HIP_TO_SHOULDER = 1.6

#: lateral ratio boundaries (with hysteresis around each) between side | oblique | front
SIDE_BELOW = 0.25
FRONT_ABOVE = 0.5
#: torso ratio under which the body points at the camera ("above")
ABOVE_BELOW = 0.5
HYSTERESIS = 0.04


def body_ratios(px: list, min_score: float) -> tuple[float | None, float | None]:
    """(lateral width, torso length) as shares of the body's size, from pixel keypoints."""

    def seg(a: int, b: int) -> float:
        pa, pb = px[a], px[b]
        if pa[2] < min_score or pb[2] < min_score:
            return 0.0
        return math.hypot(pa[0] - pb[0], pa[1] - pb[1])

    torso = max(seg(_LS, _LH), seg(_RS, _RH))
    arm = max(seg(_LS, _LE), seg(_RS, _RE)) * ARM_TO_TORSO
    thigh = max(seg(_LH, _LK), seg(_RH, _RK)) * THIGH_TO_TORSO
    size = max(torso, arm, thigh)
    if size <= 1e-6:
        return None, None
    width = max(seg(_LS, _RS), seg(_LH, _RH) * HIP_TO_SHOULDER)
    lateral = width / size if width > 0.0 else None
    return lateral, (torso / size if torso > 0.0 else None)


class ViewDetector:
    """``update(px, t)`` returns the current view ('front', 'oblique', 'side', 'above') or None."""

    __slots__ = ("_lat", "_t", "_tor", "min_score", "tau_s", "view")

    def __init__(self, min_score: float = 0.2, tau_s: float = 0.5):
        self.min_score = min_score
        self.tau_s = tau_s
        self.reset()

    def reset(self) -> None:
        self.view: str | None = None
        self._lat: float | None = None
        self._tor: float | None = None
        self._t: float | None = None

    def update(self, px: list, t: float) -> str | None:
        lateral, torso = body_ratios(px, self.min_score)
        a = 1.0 if self._t is None else 1.0 - math.exp(-max(t - self._t, 0.0) / self.tau_s)
        self._t = t
        if lateral is not None:
            self._lat = lateral if self._lat is None else self._lat + (lateral - self._lat) * a
        if torso is not None:
            self._tor = torso if self._tor is None else self._tor + (torso - self._tor) * a
        if self._lat is None:
            return self.view
        self.view = classify(self._lat, self._tor, self.view)
        return self.view


def classify(lateral: float, torso: float | None, current: str | None = None) -> str:
    """The view for smoothed ratios; ``current`` keeps its place until a boundary is clearly passed."""
    h = HYSTERESIS
    if torso is not None:
        if current == "above" and torso < ABOVE_BELOW + h:
            return "above"
        if torso < ABOVE_BELOW - h:
            return "above"
    # the boundaries move away from the current view by the hysteresis
    side_below = SIDE_BELOW + (h if current == "side" else -h if current in ("oblique", "front") else 0.0)
    front_above = FRONT_ABOVE - (h if current == "front" else -h if current in ("oblique", "side") else 0.0)
    if lateral < side_below:
        return "side"
    if lateral > front_above:
        return "front"
    return "oblique"
