"""The interface every pose backend implements."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from hiitpi.pose.types import Pose


class PoseEstimator(Protocol):
    """Turns one frame into one `Pose` (or None when nobody is there).

    ``frame`` is an HxWx3 uint8 BGR image (OpenCV's order) of any size and aspect ratio;
    the returned keypoints are normalised to that full frame.
    """

    name: str
    #: "cpu" or "edgetpu": where inference runs.
    device: str

    def estimate(self, frame: np.ndarray, timestamp: float) -> Pose | None: ...

    def reset(self) -> None:
        """Forget tracking state (a new clip, a camera restart)."""

    def close(self) -> None: ...
