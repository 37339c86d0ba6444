"""Pose backends by name: every module in hiitpi/pose/ may register one or more.

A backend module decorates a factory ``(settings) -> PoseEstimator`` with
``@register_backend("name")``; `create_estimator` finds it by ``settings.pose.model``.
Adding a model is adding a module: the package's modules are discovered on first use.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
from collections.abc import Callable
from typing import Any

from hiitpi.errors import InputError
from hiitpi.pose.base import PoseEstimator

log = logging.getLogger(__name__)

Factory = Callable[[Any], PoseEstimator]

_BACKENDS: dict[str, Factory] = {}
_discovered = False
#: Modules of this package that hold no backend (skipped by discovery).
_NOT_BACKENDS = {"base", "types", "registry", "runtime", "smoothing", "draw", "geometry"}


class UnknownBackendError(InputError, ValueError):
    """A pose model name no module registered."""


def register_backend(name: str) -> Callable[[Factory], Factory]:
    """Decorator: make ``factory(settings)`` available as pose model ``name``."""

    def deco(factory: Factory) -> Factory:
        if name in _BACKENDS and _BACKENDS[name] is not factory:
            raise ValueError(f"pose backend {name!r} registered twice")
        _BACKENDS[name] = factory
        return factory

    return deco


def _discover() -> None:
    global _discovered
    if _discovered:
        return
    import hiitpi.pose as pkg

    for info in pkgutil.iter_modules(pkg.__path__):
        if info.name in _NOT_BACKENDS or info.name.startswith("_"):
            continue
        importlib.import_module(f"{pkg.__name__}.{info.name}")
    _discovered = True


def available_backends() -> list[str]:
    """Names `create_estimator` accepts, sorted."""
    _discover()
    return sorted(_BACKENDS)


def create_estimator(settings: Any) -> PoseEstimator:
    """The backend named by ``settings.pose.model``, loaded per ``settings.pose``.

    Raises `UnknownBackendError`, `hiitpi.modelfiles.ModelMissingError` (says how to fetch the
    file), `hiitpi.pose.runtime.RuntimeMissingError`, `EdgeTPUUnavailableError` or `ModelLoadError`.
    """
    _discover()
    name = settings.pose.model
    factory = _BACKENDS.get(name)
    if factory is None:
        raise UnknownBackendError(
            f"unknown pose model {name!r}; available: {', '.join(sorted(_BACKENDS))} "
            "(set [pose] model or --model)"
        )
    estimator = factory(settings)
    log.info("pose backend %s on %s", estimator.name, estimator.device)
    return estimator
