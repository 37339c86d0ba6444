"""What every pose backend is: one `estimate()` template, and the steps a model family fills in.

``estimate(frame, timestamp)`` runs the same sequence for every backend:

1. **check** the frame: not an HxWx3 uint8 image → `FrameError`; too small to hold a person → None;
   a new frame size forgets the tracking state;
2. **region**: where the model looks in this frame (the letterboxed frame, a tracked crop, or
   what a person detector found; None = nobody here);
3. **prepare**: that region sampled into the model's input (size, colour order, dtype, scaling),
   brightened by the frame's exposure gain when the picture is dim (`hiitpi.pose.exposure`);
4. **infer**: the model run;
5. **decode**: its outputs as 17 COCO keypoints normalised to the full frame, a pose score and
   extra points;
6. **score gate**: below ``max(min_score, score_floor)`` the person is lost (`lost`, None);
   otherwise the backend may `follow` the person to the next frame and a `Pose` comes out.

A backend subclasses `PoseBackend`, overrides the steps it needs (``decode`` always), and is
declared with `hiitpi.pose.registry.register_backend` (its names, files per device, title).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from hiitpi.pose.exposure import Exposure
from hiitpi.pose.geometry import Region, RegionWarp, check_frame, image_to_input, too_small
from hiitpi.pose.types import Pose
from hiitpi.schema import FileModel


class BackendOptions(FileModel):
    """A backend's options, from ``[pose.options.<model>]`` in the settings. This one has none."""


@dataclass
class Decoded:
    """What a model's outputs say about one frame: keypoints (17, 3) x, y in [0, 1] and score."""

    keypoints: np.ndarray
    score: float
    extras: dict[str, np.ndarray] = field(default_factory=dict)
    #: Anything ``follow`` needs to place the next frame's region (BlazePose's auxiliary points).
    aux: Any = None


class PoseBackend(ABC):
    """One loaded pose model family: the `estimate` template and its steps.

    ``models`` holds the loaded TFLite models by the roles the backend declared files for
    (``"model"``, or BlazePose's ``"detector"`` and ``"landmark"``); all run on one ``device``.
    Use one instance per stream, from one thread: it keeps tracking state between frames.
    """

    #: The options model of this family (a `BackendOptions` subclass).
    Options: ClassVar[type[BackendOptions]] = BackendOptions
    #: The role of the model whose input the region is sampled into.
    input_role: ClassVar[str] = "model"
    #: Float inputs: pixel * scale + offset (integer inputs take pixels as they are).
    pixel_scale: ClassVar[float] = 1.0
    pixel_offset: ClassVar[float] = 0.0
    #: The lowest pose score this model's output can be trusted at, whatever [pose] min_score says.
    score_floor: ClassVar[float] = 0.0

    def __init__(self, name: str, models: Mapping[str, Any], options: BackendOptions, min_score: float = 0.2):
        self.name = name
        self.models = dict(models)
        self.options = options
        self.min_score = min_score
        self.input_model = self.models[self.input_role]
        #: "cpu" or "edgetpu": where inference runs.
        self.device: str = self.input_model.device
        self.input_h, self.input_w = self.input_model.input_hw
        #: The region the model looked at in the last frame (overlays and tests read it).
        self.last_region: Region | None = None
        #: The channel order of the frame being estimated (set by `estimate`).
        self.frame_rgb = False
        #: Brightens a dim picture's model input (`[pose] exposure`); None leaves it as it is.
        self.exposure: Exposure | None = Exposure()
        #: The gain of the frame being estimated (set by `estimate`; 1.0 = not brightened).
        self.frame_gain = 1.0
        #: The picture is darker than the exposure can make up for (`Exposure.too_dark`, from the
        #: frames so far of this source; set by `estimate`, cleared by `reset`).
        self.too_dark = False
        self._frame_size: tuple[int, int] | None = None

    def estimate(self, frame: np.ndarray, timestamp: float, *, rgb: bool = False) -> Pose | None:
        """The person in ``frame`` (HxWx3 uint8 BGR, any size), or None when there is nobody.

        ``rgb``: the frame's channels are R, G, B (a camera asked for what the model wants),
        so the per-frame colour conversion is skipped; OpenCV's B, G, R otherwise.
        Raises `hiitpi.pose.geometry.FrameError` for something that is not such an image; a frame
        too small to hold a person (under 16 pixels on a side) gives None without running the model.
        """
        check_frame(frame)
        self.frame_rgb = rgb
        if too_small(frame):
            return None
        self.frame_gain = self.exposure.gain(frame) if self.exposure is not None else 1.0
        h, w = frame.shape[:2]
        if self._frame_size != (w, h):
            self.reset()
            self._frame_size = (w, h)
        self.too_dark = self.exposure is not None and self.exposure.too_dark(self.frame_gain, self.too_dark)
        region = self.region(frame)
        self.last_region = region
        if region is None:
            return None
        warp = RegionWarp(region, self.input_w, self.input_h)
        found = self.decode(self.infer(self.prepare(frame, warp)), warp, w, h)
        if not found.score >= max(self.min_score, self.score_floor):  # NaN fails too
            self.lost()
            return None
        self.follow(found, w, h)
        return Pose(
            keypoints=found.keypoints,
            score=found.score,
            timestamp=float(timestamp),
            width=w,
            height=h,
            extras=found.extras,
        )

    # -- the steps ---------------------------------------------------------------------------

    def region(self, frame: np.ndarray) -> Region | None:
        """Where the model looks in ``frame``: by default the whole frame, letterboxed."""
        h, w = frame.shape[:2]
        return Region.letterbox(w, h)

    def prepare(self, frame: np.ndarray, warp: RegionWarp) -> np.ndarray:
        """The model input: the region sampled (RGB), in the input's dtype and scale."""
        img = self.sample_rgb(frame, warp)
        return image_to_input(img, self.input_model.input_dtype, self.pixel_scale, self.pixel_offset)

    def sample_rgb(self, frame: np.ndarray, warp: RegionWarp) -> np.ndarray:
        """``warp``'s region of the frame in R, G, B order, converted only if the frame is BGR, and
        brightened by the frame's exposure gain."""
        return Exposure.apply(warp.sample(frame, rgb=not self.frame_rgb), self.frame_gain)

    def infer(self, tensor: np.ndarray) -> Any:
        """The model's outputs for one input."""
        return self.input_model.run(tensor)

    @abstractmethod
    def decode(self, outputs: Any, warp: RegionWarp, w: int, h: int) -> Decoded:
        """The outputs as keypoints normalised to the full ``w`` x ``h`` frame, and a score."""

    def follow(self, found: Decoded, w: int, h: int) -> None:
        """A person was found: update the tracking state for the next frame (default: none)."""
        return None

    def lost(self) -> None:
        """The score gate failed: forget where the person was (default: `reset`)."""
        self.reset()

    # -- life cycle --------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget tracking state (a new clip, a camera restart). Subclasses extend it."""
        self._frame_size = None
        self.too_dark = False

    def close(self) -> None:
        """Let the models go."""
        self.models = {}
        self.input_model = None
