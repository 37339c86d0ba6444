"""Offline analysis of recorded video: `hiitpi analyze` and the evaluations.

`analyze.analyze_video` runs a file through the same pose stage and referee as the live engine,
as fast as the machine allows, and can write an annotated copy; `poses.video_poses` returns a
clip's raw poses, cached on disk by file content and model, so evaluations that only change
rules do not pay for the pose model again.
"""
