"""Pose backends by name: the modules of hiitpi/pose/backends/, each declaring what it is.

A backend module defines a `hiitpi.pose.base.PoseBackend` subclass and declares it with
``@register_backend(name, title=..., description=..., files={device: {role: manifest name}})``,
once per name it answers to. Discovery imports every module of the package on first use and
collects the declared classes; a module that fails to import (a missing optional dependency) is
logged once, listed by `broken_backends` (and `hiitpi pose --list`, `hiitpi models list`) with
the reason, and skipped. Nothing here loads TFLite: `available_backends`, `get_backend` and
`check_options` are cheap; `create_estimator` loads the models.
"""

from __future__ import annotations

import importlib
import logging
import pkgutil
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from hiitpi.errors import ErrorList, InputError, did_you_mean
from hiitpi.pose.base import BackendOptions, PoseBackend
from hiitpi.schema import describe

log = logging.getLogger(__name__)

#: Where the backend modules are.
BACKENDS_PACKAGE = "hiitpi.pose.backends"
#: The devices a backend may declare files for.
DEVICES = ("cpu", "edgetpu")


class UnknownBackendError(InputError, ValueError):
    """A pose model name no backend declares."""


class BackendOptionsError(ErrorList):
    """``[pose.options.<model>]`` tables that do not fit the backends' options."""


@dataclass(frozen=True)
class BackendSpec:
    """One pose model as a person names it: what it is, the files it needs per device, its class."""

    name: str
    title: str
    description: str
    #: device ("cpu", "edgetpu") -> role -> manifest entry name (models/manifest.toml).
    files: Mapping[str, Mapping[str, str]]
    cls: type[PoseBackend]

    @property
    def module(self) -> str:
        return self.cls.__module__.rsplit(".", 1)[-1]

    @property
    def options(self) -> type[BackendOptions]:
        return self.cls.Options

    @property
    def devices(self) -> tuple[str, ...]:
        return tuple(self.files)

    def files_on(self, device: str) -> Mapping[str, str]:
        """role -> manifest name on ``device`` (empty when the backend has no build for it)."""
        return self.files.get(device, {})

    def manifest_names(self) -> list[str]:
        """Every manifest entry this backend can use, on any device, in declaration order."""
        return list(dict.fromkeys(n for device in self.files.values() for n in device.values()))

    def files_needed(self, device: str, fallback: str, edgetpu_present: bool) -> dict[str, bool]:
        """The manifest files this backend may load with ``[pose] device``/``fallback`` here: name -> required.

        The CPU files are required unless only the Edge TPU may be used; the Edge TPU files are
        required with device = "edgetpu", and wanted but not required with "auto" when a Coral is
        plugged in (without them the CPU files are used, with a warning).
        """
        edgetpu = list(self.files_on("edgetpu").values())
        only_edgetpu = device == "edgetpu" and fallback == "none" and bool(edgetpu)
        needed = {} if only_edgetpu else dict.fromkeys(self.files_on("cpu").values(), True)
        if edgetpu and (device == "edgetpu" or (device == "auto" and edgetpu_present)):
            needed.update(dict.fromkeys(edgetpu, device == "edgetpu"))
        return needed


def register_backend(
    name: str, *, title: str, description: str, files: Mapping[str, Mapping[str, str]]
) -> Callable[[type[PoseBackend]], type[PoseBackend]]:
    """Class decorator: declare a `PoseBackend` subclass as pose model ``name``.

    ``files`` maps each device it runs on to its model files by role, e.g.
    ``{"cpu": {"model": "movenet-lightning"}, "edgetpu": {"model": "movenet-lightning-edgetpu"}}``;
    "cpu" is required, and every device names the same roles. Stack it for several names.
    """
    if "cpu" not in files or set(files) - set(DEVICES):
        raise ValueError(f"pose backend {name!r}: files must be given for 'cpu' (and may be for 'edgetpu')")
    roles = {device: set(by_role) for device, by_role in files.items()}
    if any(r != roles["cpu"] for r in roles.values()):
        raise ValueError(f"pose backend {name!r}: every device must name the same roles, got {roles}")
    frozen = MappingProxyType({d: MappingProxyType(dict(by_role)) for d, by_role in files.items()})

    def deco(cls: type[PoseBackend]) -> type[PoseBackend]:
        if not (isinstance(cls, type) and issubclass(cls, PoseBackend)):
            raise TypeError(f"@register_backend({name!r}) decorates a PoseBackend subclass, not {cls!r}")
        if cls.input_role not in roles["cpu"]:
            raise ValueError(f"pose backend {name!r}: no file for its input role {cls.input_role!r}")
        declared = dict(cls.__dict__.get("_declared", {}))
        declared[name] = BackendSpec(name, title, description, frozen, cls)
        cls._declared = declared  # type: ignore[attr-defined]
        return cls

    return deco


class BackendRegistry:
    """The backends declared by the modules of one package, discovered once on first use."""

    def __init__(self, package: str = BACKENDS_PACKAGE):
        self.package = package
        self._specs: dict[str, BackendSpec] = {}
        self._broken: dict[str, str] = {}
        self._discovered = False
        self._lock = threading.Lock()

    def _discover(self) -> None:
        with self._lock:
            if self._discovered:
                return
            pkg = importlib.import_module(self.package)
            for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
                if info.name.startswith("_"):
                    continue
                modname = f"{self.package}.{info.name}"
                try:
                    module = importlib.import_module(modname)
                    found = _declared_in(module)
                    for spec in found:
                        if spec.name in self._specs:
                            raise ValueError(
                                f"pose model {spec.name!r} is declared twice "
                                f"({self._specs[spec.name].module} and {info.name})"
                            )
                except Exception as exc:  # a plugin that cannot load must not take the others down
                    reason = f"{type(exc).__name__}: {exc}"
                    self._broken[info.name] = reason
                    log.warning("pose backend module %s skipped: %s", modname, reason)
                    continue
                for spec in found:
                    self._specs[spec.name] = spec
            self._discovered = True

    def names(self) -> list[str]:
        self._discover()
        return sorted(self._specs)

    def specs(self) -> list[BackendSpec]:
        self._discover()
        return [self._specs[n] for n in sorted(self._specs)]

    def broken(self) -> dict[str, str]:
        self._discover()
        return dict(self._broken)

    def get(self, name: str) -> BackendSpec:
        self._discover()
        spec = self._specs.get(name)
        if spec is None:
            raise UnknownBackendError(self._unknown_message(name))
        return spec

    def _unknown_message(self, name: str) -> str:
        known = sorted(self._specs)
        msg = (
            f"unknown pose model {name!r}{did_you_mean(name, known)}; available: {', '.join(known) or 'none'}"
        )
        if self._broken:
            msg += "; not loaded: " + ", ".join(f"{m} ({r})" for m, r in sorted(self._broken.items()))
        return msg + " (set [pose] model or --model; `hiitpi pose --list` describes them)"


def _declared_in(module: Any) -> list[BackendSpec]:
    """The backends declared by classes defined in ``module`` (not those it imports)."""
    out = []
    for obj in vars(module).values():
        if isinstance(obj, type) and issubclass(obj, PoseBackend) and obj.__module__ == module.__name__:
            out.extend(obj.__dict__.get("_declared", {}).values())
    return out


#: The registry of hiitpi/pose/backends/.
REGISTRY = BackendRegistry()


def available_backends() -> list[str]:
    """Names `create_estimator` accepts, sorted (imports the backend modules, not TFLite)."""
    return REGISTRY.names()


def backend_specs() -> list[BackendSpec]:
    """Every declared backend, by name."""
    return REGISTRY.specs()


def broken_backends() -> dict[str, str]:
    """Backend modules that failed to import: module name -> reason."""
    return REGISTRY.broken()


def get_backend(name: str) -> BackendSpec:
    """The backend declared as ``name``. Raises `UnknownBackendError` listing the known names."""
    return REGISTRY.get(name)


def needed_files(settings: Any, name: str | None = None) -> dict[str, bool]:
    """The manifest files pose model ``name`` (default: ``[pose] model``) may load on this machine:
    name -> required. Looks for a plugged-in Coral only when it matters."""
    from hiitpi.pose.runtime import edgetpu_devices

    pose = settings.pose
    spec = get_backend(name or pose.model)
    present = pose.device == "auto" and bool(spec.files_on("edgetpu")) and bool(edgetpu_devices())
    return spec.files_needed(pose.device, pose.fallback, present)


def check_options(options: Mapping[str, Any]) -> list[tuple[tuple[str, ...], str]]:
    """Problems with ``[pose.options.<model>]`` tables: (key path in the settings, what is wrong)."""
    problems: list[tuple[tuple[str, ...], str]] = []
    for name, table in options.items():
        where = ("pose", "options", str(name))
        if name not in REGISTRY.names():
            known = ", ".join(REGISTRY.names())
            problems.append((where, f"options for an unknown pose model {name!r}; available: {known}"))
            continue
        spec = get_backend(name)
        try:
            spec.options.model_validate(table)
        except ValidationError as exc:
            for err in exc.errors():
                rel = tuple(str(k) for k in err.get("loc", ()))
                problems.append(((*where, *rel), describe(err, spec.options, rel).split(": ", 1)[-1]))
    return problems


def backend_options(settings: Any, spec: BackendSpec) -> BackendOptions:
    """The options of ``spec`` from ``[pose.options]``. Raises `BackendOptionsError` for any problem there."""
    raw = getattr(settings.pose, "options", {}) or {}
    problems = check_options(raw)
    if problems:
        raise BackendOptionsError(
            [f"settings: {'.'.join(path)}: {what}" for path, what in problems],
            "fix [pose.options] in the settings; `hiitpi pose --list` shows each model's options",
        )
    return spec.options.model_validate(raw.get(spec.name, {}))


def create_estimator(settings: Any) -> PoseBackend:
    """The backend named by ``settings.pose.model``, its models loaded per ``settings.pose``.

    Raises `UnknownBackendError`, `BackendOptionsError`, `hiitpi.modelfiles.ModelMissingError`
    (says how to fetch the file), `hiitpi.pose.runtime.RuntimeMissingError`,
    `EdgeTPUUnavailableError` or `ModelLoadError`.
    """
    from hiitpi.pose.runtime import open_models

    spec = get_backend(settings.pose.model)
    options = backend_options(settings, spec)
    models = open_models(settings, spec)
    estimator = spec.cls(spec.name, models, options, settings.pose.min_score)
    if settings.pose.exposure == "off":
        estimator.exposure = None
    log.info("pose backend %s on %s", estimator.name, estimator.device)
    return estimator
