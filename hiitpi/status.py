"""`hiitpi serve --check`: the status of every part, one line each."""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)


#: USB (vendor, product) ids of the Coral USB Accelerator before and after its firmware loads.
CORAL_USB_IDS = {("1a6e", "089a"), ("18d1", "9302")}


def edgetpu_devices() -> list[str]:
    """PCIe/M.2 Corals (/dev/apex_N) and USB Corals found on this machine."""
    found = sorted(glob.glob("/dev/apex_*"))
    for dev in glob.glob("/sys/bus/usb/devices/*"):
        try:
            ids = tuple(Path(dev, f).read_text().strip() for f in ("idVendor", "idProduct"))
        except OSError:
            continue
        if ids in CORAL_USB_IDS:
            found.append(f"usb {ids[0]}:{ids[1]}")
    return found


def part_status(settings: Settings) -> list[tuple[str, bool, str]]:
    """(part, ok, detail) for config, models, runtime, camera, Redis and database."""
    from hiitpi.modelfiles import ModelStore
    from hiitpi.redis_local import can_start_private, ping

    parts: list[tuple[str, bool, str]] = []
    parts.append(("data folder", True, str(settings.general.data_dir)))
    try:
        store = ModelStore(settings)
        status, detail = (
            store.verify(settings.pose.model)
            if settings.pose.model in store.files
            else ("ok", "composite model (see `hiitpi models list`)")
        )
        parts.append((f"model {settings.pose.model}", status == "ok", detail))
    except Exception as exc:
        parts.append(("models", False, str(exc)))
    runtimes = [m for m in ("ai_edge_litert", "tflite_runtime") if importlib.util.find_spec(m)]
    parts.append(("tflite runtime", bool(runtimes), ", ".join(runtimes) or "install ai-edge-litert"))
    tpu = edgetpu_devices()
    parts.append(("edge tpu", True, ", ".join(tpu) if tpu else "not present (CPU inference)"))
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
        return ("coach", True, f"template summaries: {why}")
    return ("coach", True, f"llama-cpp-python, {path}")


def pairing_status(settings: Settings) -> tuple[str, bool, str]:
    """The pairing secrets (issue 8): present and private, or made (and shown once) at first start."""
    from hiitpi.secrets import SecretsError, load_secrets, secrets_path

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
