"""The unit file and the installer: systemd-analyze verify/security, bash -n, shellcheck, dry run,
and the notify protocol as `hiitpi serve` really speaks it."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

UNIT = REPO / "systemd" / "hiitpi.service"
INSTALL = REPO / "scripts" / "install-pi.sh"
OUR_SCRIPTS = [INSTALL, REPO / "scripts" / "check-arm64.sh"]


def _need(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        pytest.skip(f"{tool} not installed (apt install {'systemd' if 'systemd' in tool else tool})")
    return exe


def _render(prefix: Path) -> str:
    res = subprocess.run(
        ["bash", str(INSTALL), "--render-unit", "--prefix", str(prefix)],
        capture_output=True,
        text=True,
        check=True,
    )
    return res.stdout


@pytest.fixture()
def rendered_unit(tmp_path) -> Path:
    """The unit exactly as install-pi.sh writes it, for a prefix whose venv has a real `hiitpi`."""
    prefix = tmp_path / "opt-hiitpi"
    (prefix / "venv" / "bin").mkdir(parents=True)
    (prefix / "venv" / "bin" / "hiitpi").symlink_to(Path(sys.executable).parent / "hiitpi")
    unit = tmp_path / "hiitpi.service"
    unit.write_text(_render(prefix))
    return unit


def _directives(text: str) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", "[")) and "=" in line:
            key, value = line.split("=", 1)
            out.setdefault(key, []).append(value)
    return out


def test_unit_verifies_clean(rendered_unit):
    exe = _need("systemd-analyze")
    res = subprocess.run([exe, "verify", str(rendered_unit)], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    assert res.stderr.strip() == "", res.stderr


def test_verify_would_catch_a_broken_unit(rendered_unit):
    """The check above can fail: a misspelled directive and a missing program are reported."""
    exe = _need("systemd-analyze")
    text = rendered_unit.read_text()
    rendered_unit.write_text(
        text.replace("WatchdogSec=", "WatchDogSec=").replace("venv/bin/hiitpi", "venv/bin/nope")
    )
    res = subprocess.run([exe, "verify", str(rendered_unit)], capture_output=True, text=True, timeout=60)
    assert "Unknown key 'WatchDogSec'" in res.stderr
    assert "nope is not executable" in res.stderr and res.returncode != 0


def test_unit_hardening_exposure(rendered_unit):
    exe = _need("systemd-analyze")
    res = subprocess.run(
        [exe, "security", "--offline=true", "--no-pager", str(rendered_unit)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    m = re.search(r"Overall exposure level for \S+: (\d+\.\d)", res.stdout + res.stderr)
    if m is None and "offline" in res.stderr:
        pytest.skip("this systemd-analyze has no --offline security check")
    assert m, res.stdout[-2000:] + res.stderr
    assert float(m.group(1)) <= 2.0, f"exposure {m.group(1)}: hardening was weakened (1.5 when written)"


def test_unit_promises():
    d = _directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert 10 <= int(d["WatchdogSec"][0]) <= 120
    assert d["Restart"] == ["on-failure"]
    assert int(d["StartLimitBurst"][0]) >= 3 and int(d["StartLimitIntervalSec"][0]) >= 60
    # its own password-protected Redis (a child of serve), not the system's open one
    assert "redis-server.service" not in d["After"][0] and "redis-server.service" not in d["Wants"][0]
    assert d["StateDirectoryMode"] == ["0700"] and d["UMask"] == ["0077"]
    assert d["User"] == ["hiitpi"]
    assert d["ProtectSystem"] == ["strict"] and d["NoNewPrivileges"] == ["true"]
    assert d["PrivateTmp"] == ["true"] and "/var/lib/hiitpi" in d["ReadWritePaths"][0]
    assert d["DevicePolicy"] == ["closed"]
    allowed = " ".join(d["DeviceAllow"])
    for dev in ("char-video4linux", "char-media", "dma_heap", "char-apex", "char-usb_device"):
        assert dev in allowed, dev
    # The camera needs the real /dev: these would hide it.
    assert "PrivateDevices" not in d and "PrivateUsers" not in d
    assert 10 <= int(d["TimeoutStopSec"][0]) <= 90
    assert d["IPAddressDeny"] == ["any"] and "192.168.0.0/16" in d["IPAddressAllow"][0]  # LAN only


def test_rendered_unit_follows_prefix(tmp_path):
    text = _render(Path("/srv/hp"))
    assert "ExecStart=/srv/hp/venv/bin/hiitpi serve" in text
    assert "/opt/hiitpi" not in text


@pytest.mark.parametrize("script", OUR_SCRIPTS, ids=lambda p: p.name)
def test_scripts_parse_and_pass_shellcheck(script):
    subprocess.run(["bash", "-n", str(script)], check=True)
    exe = _need("shellcheck")
    res = subprocess.run([exe, "-x", str(script)], capture_output=True, text=True)
    assert res.returncode == 0, res.stdout


def test_install_dry_run_plans_every_step():
    res = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--coral", "--privacy", "--prefix", "/opt/hp"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode == 0, res.stderr
    out = res.stdout
    for expected in (
        "coral-edgetpu-stable main",
        "libedgetpu1-std",
        "python3 -m venv --system-site-packages /opt/hp/venv",
        "-c /opt/hp/constraints.txt -e /opt/hp/src",
        "privacy_mode = true",
        "hiitpi models fetch",
        "hiitpi pair",
        "> /etc/systemd/system/hiitpi.service",
    ):
        assert expected in out, expected
    if not shutil.which("useradd") or subprocess.run(["id", "hiitpi"], capture_output=True).returncode:
        assert "useradd --system" in out


def test_uninstall_dry_run_keeps_history_unless_purged():
    keep = subprocess.run(["bash", str(INSTALL), "--dry-run", "--uninstall"], capture_output=True, text=True)
    assert keep.returncode == 0 and "rm -rf /opt/hiitpi" in keep.stdout
    assert "/var/lib/hiitpi" not in "\n".join(
        line for line in keep.stdout.splitlines() if line.startswith("+")
    )
    purge = subprocess.run(
        ["bash", str(INSTALL), "--dry-run", "--uninstall", "--purge"], capture_output=True, text=True
    )
    assert "rm -rf /etc/hiitpi /var/lib/hiitpi" in purge.stdout


def test_serve_speaks_sd_notify(tmp_path, model_mirror, shared_data, redis_url):
    """`hiitpi serve` as systemd runs it: READY=1, then watchdog pings, then STOPPING=1 on SIGTERM."""
    sock_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(0.2)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HIITPI_", "WATCHDOG_", "NOTIFY_"))}
    env.update(
        HIITPI_DATA_DIR=str(tmp_path / "data"),
        HIITPI_MODEL_MIRROR=str(model_mirror),
        NOTIFY_SOCKET=str(sock_path),
        WATCHDOG_USEC="2000000",
    )
    clip = shared_data / "clips" / "squat" / "yuyoujiang_squat.mp4"
    port = free_port()
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "hiitpi", "serve", "--redis-url", redis_url),
            *("--source", str(clip), "--loop", "--host", "127.0.0.1", "--port", str(port)),
        ],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    msgs: list[str] = []
    try:
        deadline = time.monotonic() + 90
        while sum(m == "WATCHDOG=1" for m in msgs) < 2:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, f"no READY/WATCHDOG within 90 s: {msgs}"
            try:
                msgs.append(sock.recv(4096).decode())
            except TimeoutError:
                continue
            if msgs[-1].startswith("READY=1"):  # READY means the dashboard answers now
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    assert r.status == 200
        assert msgs[0].startswith("READY=1"), msgs
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
        while True:
            try:
                msgs.append(sock.recv(4096).decode())
            except TimeoutError:
                break
        assert any(m.startswith("STOPPING=1") for m in msgs), msgs
    finally:
        if proc.poll() is None:
            proc.kill()
        sock.close()
