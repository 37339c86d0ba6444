"""Which appliance runs on this data folder: ``<data_dir>/serve.json`` while `hiitpi serve` runs.

Written once the dashboard serves (its pid and the port it holds), removed when it stops. `hiitpi serve --check` reads it to tell "the port is held by this
appliance" from "another program holds the port", and to leave the camera alone while the
appliance uses it. A file left by a killed appliance is ignored: its pid is gone or not hiitpi.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

log = logging.getLogger(__name__)

RUN_FILE = "serve.json"


@dataclass(frozen=True, slots=True)
class Running:
    pid: int
    host: str
    port: int


def run_path(data_dir: Path) -> Path:
    return Path(data_dir) / RUN_FILE


def write_running(data_dir: Path, running: Running) -> None:
    path = run_path(data_dir)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(asdict(running)))
    os.replace(tmp, path)


def clear_running(data_dir: Path) -> None:
    try:
        run_path(data_dir).unlink()
    except FileNotFoundError:
        pass


def _is_hiitpi(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"hiitpi" in cmdline


def running_appliance(data_dir: Path) -> Running | None:
    """The appliance running on ``data_dir`` now, or None."""
    try:
        raw = json.loads(run_path(data_dir).read_text())
        found = Running(**raw)
    except (OSError, ValueError, TypeError):
        return None
    return found if _is_hiitpi(found.pid) else None
