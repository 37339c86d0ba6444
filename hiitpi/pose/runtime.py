"""TensorFlow Lite runtime loading: which interpreter, how many threads, CPU or Edge TPU.

The interpreter comes from ``ai_edge_litert`` (current, the default) or ``tflite_runtime`` (what
older Raspberry Pi images carry), whichever imports. The Coral Edge TPU is used through
``load_delegate("libedgetpu.so.1")`` with a model's ``_edgetpu.tflite`` twin; everything about it
is detected at run time, nothing is imported from PyPI's unrelated ``pycoral`` package.
"""

from __future__ import annotations

import gc
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
    """Where a model runs: the device, the file for it, the delegates to load it with."""

    device: str
    model_name: str
    delegates: list = field(default_factory=list)


def choose_device(
    device: str, fallback: str, cpu_model: str, edgetpu_model: str | None, edgetpu_file_ok: bool = True
) -> DeviceChoice:
    """Decide CPU or Edge TPU for one model (feature detection; loads the delegate if needed).

    ``device`` is "cpu", "edgetpu" or "auto"; ``fallback`` "none" or "cpu". ``edgetpu_file_ok``
    says whether the model's ``_edgetpu`` file is in place.
    """
    if device == "cpu" or (device == "auto" and edgetpu_model is None):
        return DeviceChoice("cpu", cpu_model)
    problem: str | None = None
    if edgetpu_model is None:
        problem = f"{cpu_model} has no Edge TPU build; use movenet-lightning for the Coral"
    else:
        try:
            delegate = load_edgetpu_delegate()
        except EdgeTPUUnavailableError as exc:
            problem = str(exc)
        else:
            if edgetpu_file_ok:
                log.info("Edge TPU delegate loaded; running %s", edgetpu_model)
                return DeviceChoice("edgetpu", edgetpu_model, [delegate])
            problem = f"the Edge TPU model file {edgetpu_model} is missing: run `hiitpi models fetch {edgetpu_model}`"
            if device == "auto":
                log.warning("a Coral Edge TPU is present but %s; running %s on the CPU", problem, cpu_model)
                return DeviceChoice("cpu", cpu_model)
    if device == "auto":
        log.info("no usable Edge TPU (%s not loadable); running %s on the CPU", EDGETPU_LIBRARY, cpu_model)
        log.debug("Edge TPU: %s", problem)
        return DeviceChoice("cpu", cpu_model)
    if fallback == "cpu":
        log.warning("device = 'edgetpu' but %s; falling back to the CPU as [pose] fallback = 'cpu'", problem)
        return DeviceChoice("cpu", cpu_model)
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

    def check_input(self, shape: tuple[int, ...], dtype: Any, what: str) -> None:
        """Raise `ModelLoadError` unless the input tensor is as a backend expects."""
        if self.input_shape[: len(shape)] != shape[: len(self.input_shape)] or len(shape) != len(
            self.input_shape
        ):
            raise ModelLoadError(
                f"{self.path} does not look like {what}: input shape {self.input_shape}, expected {shape}"
            )
        if dtype is not None and np.dtype(self.input_dtype) not in [
            np.dtype(d) for d in np.atleast_1d(dtype)
        ]:
            raise ModelLoadError(
                f"{self.path} does not look like {what}: input type {np.dtype(self.input_dtype)}"
            )

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


def open_model(settings: Any, cpu_model: str, edgetpu_model: str | None = None) -> TFLiteModel:
    """Resolve, choose the device for, and load a manifest model per ``settings.pose``."""
    from hiitpi.modelfiles import ModelMissingError, resolve_model

    pose = settings.pose
    edgetpu_ok = False
    if edgetpu_model is not None and pose.device != "cpu":
        try:
            resolve_model(settings, edgetpu_model)
            edgetpu_ok = True
        except ModelMissingError:
            edgetpu_ok = False
    choice = choose_device(pose.device, pose.fallback, cpu_model, edgetpu_model, edgetpu_ok)
    path = resolve_model(settings, choice.model_name)
    interpreter = make_interpreter(path, pose.threads, choice.delegates)
    log.info(
        "loaded %s on %s (%s, %d thread(s))",
        path.name,
        choice.device,
        load_runtime().module_name,
        pose.threads,
    )
    return TFLiteModel(interpreter, path, choice.device)
