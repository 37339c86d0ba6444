"""Pose estimation: runtime loading, one module per model family, the Pose type, filters."""

from hiitpi.pose.types import KEYPOINT_INDEX, KEYPOINT_NAMES, Pose

__all__ = ["KEYPOINT_INDEX", "KEYPOINT_NAMES", "Pose"]
