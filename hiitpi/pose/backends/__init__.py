"""Pose backends, one module per model family; `hiitpi.pose.registry` discovers every module here.

A new model family is a new module: a `hiitpi.pose.base.PoseBackend` subclass declared with
``@register_backend(...)`` (see docs/pose.md, "Adding a backend"). A module that fails to import
is reported and skipped; the others still work.
"""
