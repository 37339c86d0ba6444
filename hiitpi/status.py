"""`hiitpi serve --check`: the status of every part, one line each, each checked for real: the
dashboard's port (free, or held by this appliance), the camera or file (opens and decodes a
frame), Redis (answers, or a private one can start), the pose model and its files, the coach's
model (or the template), the database, the pairing secrets."""

from __future__ import annotations

import ctypes.util
import importlib.util
import logging
import os
from pathlib import Path

from hiitpi.config import Settings

log = logging.getLogger(__name__)


def part_status(settings: Settings) -> list[tuple[str, bool, str]]:
    """(part, ok, detail) for every part ``hiitpi serve`` needs, checked for real: ok False only
    for a part without which it cannot run as configured (the coach falls back to its template)."""
    from hiitpi.references import reference_problems
    from hiitpi.runfile import running_appliance

    running = running_appliance(settings.general.data_dir)
    parts: list[tuple[str, bool, str]] = []
    problems = reference_problems(settings)
    parts.append(
        ("settings", not problems, "; ".join(problems) or "every name refers to something that exists")
    )
    parts.append(_writable("data folder", settings.general.data_dir))
    parts.extend(pose_status(settings))
    parts.append(port_status(settings, running))
    parts.append(source_status(settings, running))
    parts.append(redis_status(settings, running))
    parts.append(_writable("database", settings.database_path))
    parts.append(coach_status(settings))
    parts.append(pairing_status(settings))
    return parts


def _writable(part: str, path: Path) -> tuple[str, bool, str]:
    """``path`` (or the folder it would be made in) can be written by this user."""
    probe = path
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if os.access(probe, os.W_OK):
        return (part, True, str(path))
    return (part, False, f"{path}: {probe} is not writable by this user")


def port_status(settings: Settings, running) -> tuple[str, bool, str]:
    """The dashboard's port is free, or held by the appliance running on this data folder."""
    from hiitpi.web.server import WebServerError, bind_socket

    host, port = settings.web.host, settings.web.port
    if running is not None and running.port == port:
        return ("dashboard port", True, f"{host}:{port}: held by this appliance (pid {running.pid})")
    try:
        bind_socket(host, port).close()
    except WebServerError as exc:
        return ("dashboard port", False, exc.message + "; " + (exc.hint or ""))
    return ("dashboard port", True, f"{host}:{port} is free")


def source_status(settings: Settings, running) -> tuple[str, bool, str]:
    """The camera or the file opens and gives one decoded frame (a camera is left alone while the
    appliance runs: it opens once; a file is checked whatever runs)."""
    from hiitpi.capture.base import EndOfStream
    from hiitpi.capture.select import create_source_factory
    from hiitpi.errors import HiitpiError

    spec = settings.capture.source
    part = "video file" if _is_file_spec(spec) else "camera"
    if running is not None and part == "camera":
        return (
            part,
            True,
            f"{spec}: not opened, the appliance (pid {running.pid}) is running: a camera opens once",
        )
    try:
        source = create_source_factory(settings.capture, paced=False, loop=False)()
        source.open()
    except HiitpiError as exc:
        return (part, False, f"{spec}: {exc.message}")
    except Exception as exc:
        return (part, False, f"{spec}: cannot be opened ({type(exc).__name__}: {exc})")
    try:
        frame = source.read()
    except EndOfStream:
        return (part, False, f"{source.name}: opens but has no frame")
    except Exception as exc:
        return (part, False, f"{source.name}: opens but no frame decodes ({type(exc).__name__}: {exc})")
    finally:
        try:
            source.close()
        except Exception:
            log.debug("closing %s after the check raised", spec, exc_info=True)
    h, w = frame.image.shape[:2]
    return (part, True, f"{source.name}: a {w}×{h} frame decoded")


def _is_file_spec(spec: str) -> bool:
    return (
        spec not in ("auto", "picamera", "picamera2")
        and "://" not in spec
        and not spec.startswith("/dev/")
        and not spec.isdigit()
    )


def redis_status(settings: Settings, running) -> tuple[str, bool, str]:
    """The Redis URL answers, or a private redis-server can start for it."""
    import socket
    from urllib.parse import urlparse

    from hiitpi.redact import redact_url
    from hiitpi.redis_local import can_start_private, ping, redis_url_for

    reason = ping(redis_url_for(settings))
    url = redact_url(settings.redis.url)
    if reason is None:
        who = f"; in use by this appliance (pid {running.pid})" if running is not None else ""
        return ("redis", True, f"{url} answers{who}")
    if "auth" in reason.lower() or "password" in reason.lower():
        return ("redis", False, f"{url}: {reason}; set [redis] password (or HIITPI_REDIS_PASSWORD)")
    if not can_start_private(settings.redis.url):
        return ("redis", False, f"{url}: {reason}")
    port = urlparse(settings.redis.url).port or 6379
    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))
    except OSError as exc:
        return (
            "redis",
            False,
            f"{url}: {reason}, and a private redis-server cannot start: port {port} is held by "
            f"another program ({exc.strerror}); set [redis] url / --redis-url to a free port",
        )
    return (
        "redis",
        True,
        f"{url}: not running; serve will start a private redis-server on port {port} (password required)",
    )


def coach_status(settings: Settings) -> tuple[str, bool, str]:
    """The coach's model file, or that the template will write the summaries (never a failure)."""
    if not settings.coach.enabled:
        return ("coach", True, "off ([coach] enabled = false)")
    from hiitpi.coach.llm import llama_cpp_missing
    from hiitpi.coach.summary import resolve_model_path

    missing = llama_cpp_missing()
    if missing:
        return ("coach", True, f"template summaries, plain chat answers: {missing}")
    path, missing = resolve_model_path(settings)
    if path is not None and path.is_file():
        return ("coach", True, f"{path} ({path.stat().st_size / 1e6:.0f} MB)")
    if path is not None:
        return ("coach", True, f"{path} does not exist: template summaries, plain chat answers")
    if missing and missing.startswith("model file missing"):
        missing = "the tinyllama model file is not there (`hiitpi models fetch tinyllama` gets it)"
    return ("coach", True, f"{missing}: template summaries, plain chat answers")


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
    """The pairing file: present and private (with its phones and live codes), or made at first start."""
    import time

    from hiitpi.pairing import SecretsError, load_secrets, secrets_path

    path = secrets_path(settings.general.data_dir)
    try:
        found = load_secrets(settings.general.data_dir)
    except SecretsError as exc:
        return ("pairing", False, str(exc))
    if found is None:
        return ("pairing", True, f"no code yet: the first start makes one and shows it once ({path})")
    codes = len(found.live_codes(time.time()))
    return (
        "pairing",
        True,
        f"{len(found.phones)} phone(s) paired, {codes} unused code(s) ({path}, mode 0600); "
        "`hiitpi pair --show` makes a code",
    )


def report_status(settings: Settings) -> bool:
    """Print one table, one line per part; True when nothing required fails."""
    import sys

    rows = part_status(settings)
    width = max(len(part) for part, _, _ in rows)
    for part, good, detail in rows:
        print(f"status: {part:<{width}}  {'ok  ' if good else 'FAIL'}  {detail}", file=sys.stderr)
    return all(good for _, good, _ in rows)
