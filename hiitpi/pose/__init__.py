"""Pose estimation: backends (one module per model family in backends/), the registry that finds
them, runtime loading, the Pose type, geometry, smoothing and drawing."""

from hiitpi.pose.types import KEYPOINT_INDEX, KEYPOINT_NAMES, Pose

__all__ = ["KEYPOINT_INDEX", "KEYPOINT_NAMES", "Pose"]
