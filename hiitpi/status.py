"""`hiitpi serve --check`: the status of every part, one line each."""

from __future__ import annotations

import ctypes.util
import glob
import importlib.util
import logging
import os

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def part_status(settings: Settings) -> list[tuple[str, bool, str]]:
    """(part, ok, detail) for config, models, runtime, camera, Redis and database."""
    from hiitpi.redis_local import can_start_private, ping
    from hiitpi.references import reference_problems

    parts: list[tuple[str, bool, str]] = []
    problems = reference_problems(settings)
    parts.append(
        ("settings", not problems, "; ".join(problems) or "every name refers to something that exists")
    )
    parts.append(("data folder", True, str(settings.general.data_dir)))
    parts.extend(pose_status(settings))
    source = settings.capture.source
    if source in ("auto", "picamera"):
        cams = ["picamera2"] if importlib.util.find_spec("picamera2") else []
        cams += sorted(glob.glob("/dev/video*"))
        parts.append(("camera", bool(cams) or source == "auto", ", ".join(cams) or "no camera found"))
    elif "://" not in source and not source.startswith("/dev/") and not source.isdigit():
        parts.append(("video file", os.path.isfile(source), source))
    else:
        parts.append(("camera", True, source))
    reason = ping(settings.redis.url)
    if reason is None:
        parts.append(("redis", True, settings.redis.url))
    elif can_start_private(settings.redis.url):
        parts.append(
            ("redis", True, f"{settings.redis.url}: not running; serve starts a private redis-server")
        )
    else:
        parts.append(("redis", False, f"{settings.redis.url}: {reason}"))
    db = settings.database_path
    probe = db
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    writable = os.access(probe, os.W_OK)
    parts.append(("database", writable, str(db)))
    parts.append(pairing_status(settings))
    parts.append(coach_status(settings))
    return parts


def coach_status(settings: Settings) -> tuple[str, bool, str]:
    """The summary model: optional, so never a failure; says when summaries will be the template."""
    if not settings.coach.enabled:
        return ("coach", True, "off ([coach] enabled = false)")
    from hiitpi.coach.llm import llama_cpp_missing
    from hiitpi.coach.summary import resolve_model_path

    missing = llama_cpp_missing()
    path, why = (None, missing) if missing else resolve_model_path(settings)
    if path is None:
        return ("coach", True, f"template summaries, plain chat answers: {why}")
    return ("coach", True, f"llama-cpp-python, {path}")


def pose_status(settings: Settings) -> list[tuple[str, bool, str]]:
    """The pose model, each file its backend needs here, the TFLite runtime and the Edge TPU."""
    from hiitpi.errors import HiitpiError
    from hiitpi.modelfiles import ModelStore
    from hiitpi.pose.registry import check_options, get_backend, needed_files
    from hiitpi.pose.runtime import EDGETPU_LIBRARY, edgetpu_devices

    pose = settings.pose
    parts: list[tuple[str, bool, str]] = []
    spec = None
    try:
        spec = get_backend(pose.model)
        problems = check_options(pose.options)
        detail = f"{spec.title} (runs on {', '.join(spec.devices)})"
        if problems:
            detail = "; ".join(f"{'.'.join(key)}: {what}" for key, what in problems)
        parts.append(("pose model", not problems, f"{pose.model}: {detail}"))
        store = ModelStore(settings)
        for name, required in needed_files(settings).items():
            status, detail = store.verify(name)
            if status != "ok" and not required:
                detail = f"{status}, the CPU model runs instead: {detail}"
            parts.append((f"model {name}", status == "ok" or not required, detail))
    except HiitpiError as exc:
        parts.append(("pose model" if spec is None else "models", False, str(exc)))
    runtimes = [m for m in ("ai_edge_litert", "tflite_runtime") if importlib.util.find_spec(m)]
    parts.append(("tflite runtime", bool(runtimes), ", ".join(runtimes) or "install ai-edge-litert"))
    tpu = edgetpu_devices()
    library = ctypes.util.find_library("edgetpu")
    found = ", ".join(tpu) if tpu else "no Coral plugged in"
    found += f"; {EDGETPU_LIBRARY} " + ("installed" if library else "not installed")
    if pose.device != "edgetpu":
        parts.append(("edge tpu", True, f"{found} (device = {pose.device!r}: the CPU when it is not usable)"))
    elif spec is not None and not spec.files_on("edgetpu"):
        parts.append(("edge tpu", False, f"device = 'edgetpu' but {pose.model} has no Edge TPU build"))
    else:
        usable = bool(tpu) and bool(library)
        fallback = pose.fallback == "cpu"
        parts.append(
            (
                "edge tpu",
                usable or fallback,
                found + ("" if usable or not fallback else "; falls back to the CPU"),
            )
        )
    return parts


def pairing_status(settings: Settings) -> tuple[str, bool, str]:
    """The pairing secrets (issue 8): present and private, or made (and shown once) at first start."""
    from hiitpi.pairing import SecretsError, load_secrets, secrets_path

    path = secrets_path(settings.general.data_dir)
    try:
        found = load_secrets(settings.general.data_dir)
    except SecretsError as exc:
        return ("pairing", False, str(exc))
    if found is None:
        return ("pairing", True, f"no code yet: the first start makes one and shows it once ({path})")
    return ("pairing", True, f"paired ({path}, mode 0600); `hiitpi pair --reset` makes a new code")


def report_status(settings: Settings) -> bool:
    """Log each part's status; True when nothing required is missing."""
    ok = True
    for part, good, detail in part_status(settings):
        if good:
            log.info("status: %-24s ok    %s", part, detail)
        else:
            log.warning("status: %-24s FAIL  %s", part, detail)
            ok = False
    return ok
