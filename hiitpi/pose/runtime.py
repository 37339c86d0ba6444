"""TensorFlow Lite runtime loading: which interpreter, how many threads, CPU or Edge TPU.

The interpreter comes from ``ai_edge_litert`` (current, the default) or ``tflite_runtime`` (what
older Raspberry Pi images carry), whichever imports. The Coral Edge TPU is used through
``load_delegate("libedgetpu.so.1")`` with a model's ``_edgetpu.tflite`` twin; everything about it
is detected at run time, nothing is imported from PyPI's unrelated ``pycoral`` package.
"""

from __future__ import annotations

import gc
import glob
import importlib
import logging
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

EDGETPU_LIBRARY = "libedgetpu.so.1"

#: Interpreter modules, in the order they are tried.
RUNTIME_MODULES = ("ai_edge_litert.interpreter", "tflite_runtime.interpreter")

EDGETPU_HOWTO = (
    "install the Edge TPU runtime (Debian/Raspberry Pi OS: add Coral's apt repository "
    "https://coral.ai/software/#debian-packages and `sudo apt-get install libedgetpu1-std`), "
    "plug the Coral in (USB 3 port), and check it shows in `lsusb` as 'Global Unichip' or 'Google'; "
    'or set [pose] device = "cpu" (or fallback = "cpu") to run on the CPU'
)


class RuntimeMissingError(HiitpiError, ImportError):
    """No TensorFlow Lite interpreter can be imported."""


class EdgeTPUUnavailableError(HiitpiError, RuntimeError):
    """The Edge TPU was asked for but its library or device is not there."""


class ModelLoadError(HiitpiError, ValueError):
    """A model file that the interpreter cannot load (wrong file, truncated download)."""


#: USB (vendor, product) ids of the Coral USB Accelerator before and after its firmware loads.
CORAL_USB_IDS = {("1a6e", "089a"), ("18d1", "9302")}


def edgetpu_devices() -> list[str]:
    """PCIe/M.2 Corals (/dev/apex_N) and USB Corals plugged into this machine (no library loaded)."""
    found = sorted(glob.glob("/dev/apex_*"))
    for dev in glob.glob("/sys/bus/usb/devices/*"):
        try:
            ids = tuple(Path(dev, f).read_text().strip() for f in ("idVendor", "idProduct"))
        except OSError:
            continue
        if ids in CORAL_USB_IDS:
            found.append(f"usb {ids[0]}:{ids[1]}")
    return found


@dataclass(frozen=True)
class Runtime:
    """The imported interpreter module: its ``Interpreter`` class and ``load_delegate``."""

    module_name: str
    interpreter_cls: Any
    load_delegate: Any


_runtime: Runtime | None = None


def load_runtime() -> Runtime:
    """Import the first interpreter module that works (cached). Raises `RuntimeMissingError`."""
    global _runtime
    if _runtime is not None:
        return _runtime
    errors = []
    for name in RUNTIME_MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError as exc:
            errors.append(f"{name}: {exc}")
            continue
        _runtime = Runtime(name, mod.Interpreter, mod.load_delegate)
        if name.startswith("tflite_runtime"):
            log.warning(
                "using tflite_runtime: it needs numpy<2 (with numpy 2 the Interpreter fails with "
                "'_ARRAY_API not found') and ran int8 models 10-20x slower than ai-edge-litert in our "
                "measurements; `pip install ai-edge-litert` for full speed"
            )
        else:
            log.debug("TFLite runtime: %s", name)
        return _runtime
    raise RuntimeMissingError(
        "no TensorFlow Lite interpreter found: `pip install ai-edge-litert` (or, on an older "
        "Raspberry Pi OS, `pip install tflite-runtime` with numpy<2). Tried: " + "; ".join(errors)
    )


def reset_runtime_cache() -> None:
    """Forget the imported runtime (tests that change what is importable)."""
    global _runtime
    _runtime = None


def load_edgetpu_delegate(runtime: Runtime | None = None) -> Any:
    """The Edge TPU delegate. Raises `EdgeTPUUnavailableError` saying what to install."""
    runtime = runtime or load_runtime()
    problem = ""
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_failed_delegate(hook)
    try:
        try:
            return runtime.load_delegate(EDGETPU_LIBRARY)
        except (OSError, ValueError, RuntimeError) as exc:
            problem = f"{type(exc).__name__}: {exc}"
        # ai-edge-litert's half-built Delegate complains in __del__ when the library failed to
        # load; collect it here, with that one complaint silenced.
        gc.collect()
    finally:
        sys.unraisablehook = hook
    raise EdgeTPUUnavailableError(f"the Coral Edge TPU is not usable ({problem}): {EDGETPU_HOWTO}")


def _quiet_failed_delegate(hook: Any) -> Any:
    def quiet(unraisable: Any) -> None:
        if unraisable.exc_type is AttributeError and "Delegate.__del__" in repr(unraisable.object):
            return
        hook(unraisable)

    return quiet


def make_interpreter(model_path: str | Path, threads: int = 1, delegates: list | None = None) -> Any:
    """An interpreter with tensors allocated. Raises `ModelLoadError` for a bad model file."""
    runtime = load_runtime()
    path = Path(model_path)
    if not path.is_file():
        raise ModelLoadError(f"model file {path} does not exist: run `hiitpi models fetch`")
    kwargs: dict[str, Any] = {"model_path": str(path)}
    if delegates:
        kwargs["experimental_delegates"] = delegates
    else:
        kwargs["num_threads"] = threads
    try:
        interpreter = runtime.interpreter_cls(**kwargs)
        interpreter.allocate_tensors()
    except (ValueError, RuntimeError) as exc:
        hint = (
            "it may be truncated or not a TFLite model: run `hiitpi models verify` and "
            "`hiitpi models fetch --force NAME`"
        )
        if "edgetpu-custom-op" in str(exc):
            hint = "it is compiled for the Edge TPU and needs the Coral delegate; use the CPU model instead"
        raise ModelLoadError(f"cannot load model {path}: {str(exc).splitlines()[0]} ({hint})") from exc
    return interpreter


@dataclass
class DeviceChoice:
    """Where a backend runs: the device, its files there (role -> manifest name), the delegates."""

    device: str
    files: dict[str, str]
    delegates: list = field(default_factory=list)


def choose_device(device: str, fallback: str, spec: Any, edgetpu_files_ok: bool = True) -> DeviceChoice:
    """Decide CPU or Edge TPU for a backend (feature detection; loads the delegate if needed).

    ``device`` is "cpu", "edgetpu" or "auto"; ``fallback`` "none" or "cpu". ``spec`` is the
    backend's `hiitpi.pose.registry.BackendSpec` (its name and files per device);
    ``edgetpu_files_ok`` says whether its Edge TPU files are in place.
    """
    cpu_files = dict(spec.files_on("cpu"))
    edgetpu_files = dict(spec.files_on("edgetpu"))
    cpu_names = ", ".join(cpu_files.values())
    if device == "cpu" or (device == "auto" and not edgetpu_files):
        return DeviceChoice("cpu", cpu_files)
    problem: str | None = None
    if not edgetpu_files:
        problem = (
            f"{spec.name} has no Edge TPU build; pick a model that has one "
            "(`hiitpi pose --list` shows the devices of each)"
        )
    else:
        try:
            delegate = load_edgetpu_delegate()
        except EdgeTPUUnavailableError as exc:
            problem = str(exc)
        else:
            names = " ".join(edgetpu_files.values())
            if edgetpu_files_ok:
                log.info("Edge TPU delegate loaded; running %s", names)
                return DeviceChoice("edgetpu", edgetpu_files, [delegate])
            problem = f"the Edge TPU model file {names} is missing: run `hiitpi models fetch {names}`"
            if device == "auto":
                log.warning("a Coral Edge TPU is present but %s; running %s on the CPU", problem, cpu_names)
                return DeviceChoice("cpu", cpu_files)
    if device == "auto":
        log.info("no usable Edge TPU (%s not loadable); running %s on the CPU", EDGETPU_LIBRARY, cpu_names)
        log.debug("Edge TPU: %s", problem)
        return DeviceChoice("cpu", cpu_files)
    if fallback == "cpu":
        log.warning("device = 'edgetpu' but %s; falling back to the CPU as [pose] fallback = 'cpu'", problem)
        return DeviceChoice("cpu", cpu_files)
    raise EdgeTPUUnavailableError(problem if "Edge TPU" in problem else f"Edge TPU: {problem}")


class TFLiteModel:
    """One loaded model: feed one input array, get the outputs as float arrays by name."""

    def __init__(self, interpreter: Any, path: Path | str, device: str = "cpu"):
        self.interpreter = interpreter
        self.path = Path(path)
        self.device = device
        inputs = interpreter.get_input_details()
        if len(inputs) != 1:
            raise ModelLoadError(f"{self.path}: expected one input tensor, found {len(inputs)}")
        self.input = inputs[0]
        self.input_shape = tuple(int(d) for d in self.input["shape"])
        self.input_dtype = self.input["dtype"]
        self.outputs = interpreter.get_output_details()
        #: Total seconds spent in `run` (set_tensor + invoke + reading outputs) and its call count;
        #: ``run_cpu_seconds`` is the CPU time of this process in those calls (what a run costs
        #: without waiting for a core, on a machine shared with other work).
        self.run_seconds = 0.0
        self.run_cpu_seconds = 0.0
        self.run_count = 0

    @property
    def input_hw(self) -> tuple[int, int]:
        return self.input_shape[1], self.input_shape[2]

    def run(self, tensor: np.ndarray) -> list[np.ndarray]:
        """Invoke on one input batch; outputs in the model's order, dequantised to float32."""
        t0 = time.perf_counter()
        c0 = time.process_time()
        self.interpreter.set_tensor(self.input["index"], tensor)
        self.interpreter.invoke()
        out = []
        for det in self.outputs:
            value = self.interpreter.get_tensor(det["index"])
            scale, zero = det.get("quantization", (0.0, 0))
            if scale:
                value = (value.astype(np.float32) - zero) * scale
            out.append(value)
        self.run_seconds += time.perf_counter() - t0
        self.run_cpu_seconds += time.process_time() - c0
        self.run_count += 1
        return out

    def output_index(self, *fragments: str) -> int:
        """Position of the output whose tensor name contains every fragment."""
        for i, det in enumerate(self.outputs):
            if all(f in det["name"] for f in fragments):
                return i
        names = [d["name"] for d in self.outputs]
        raise ModelLoadError(f"{self.path}: no output named like {fragments}; outputs are {names}")


def open_models(settings: Any, spec: Any) -> dict[str, TFLiteModel]:
    """A backend's models by role, each resolved, placed on one device and loaded per ``settings.pose``."""
    from hiitpi import threadpools
    from hiitpi.modelfiles import ModelStore

    pose = settings.pose
    threads = threadpools.plan(pose.threads).pose  # never more threads than cores
    store = ModelStore(settings)
    edgetpu_files = spec.files_on("edgetpu")
    edgetpu_ok = bool(edgetpu_files) and pose.device != "cpu" and all(map(store.has, edgetpu_files.values()))
    choice = choose_device(pose.device, pose.fallback, spec, edgetpu_ok)
    models = {}
    for role, name in choice.files.items():
        path = store.path(name)
        interpreter = make_interpreter(path, threads, choice.delegates)
        log.info(
            "loaded %s on %s (%s, %d thread(s))",
            path.name,
            choice.device,
            load_runtime().module_name,
            threads,
        )
        models[role] = TFLiteModel(interpreter, path, choice.device)
    return models
