"""sd_notify over a real unix datagram socket, as systemd would receive it."""

from __future__ import annotations

import os
import socket

import pytest

from hiitpi.sdnotify import Watchdog, notify, watchdog_interval


@pytest.fixture()
def notify_socket(tmp_path):
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(0.5)
    yield sock, str(path)
    sock.close()


def _recv_all(sock) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except TimeoutError:
            return out


def test_notify_sends_datagrams(notify_socket):
    sock, path = notify_socket
    assert notify("READY=1\nSTATUS=running", env={"NOTIFY_SOCKET": path})
    assert _recv_all(sock) == ["READY=1\nSTATUS=running"]


def test_abstract_namespace_socket():
    name = f"hiitpi-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(0.5)
    try:
        assert notify("WATCHDOG=1", env={"NOTIFY_SOCKET": "@" + name})
        assert sock.recv(100) == b"WATCHDOG=1"
    finally:
        sock.close()


def test_outside_systemd_is_a_no_op(tmp_path):
    assert not notify("READY=1", env={})
    assert not notify("READY=1", env={"NOTIFY_SOCKET": str(tmp_path / "missing.sock")})


def test_watchdog_interval():
    assert watchdog_interval({}) is None
    assert watchdog_interval({"WATCHDOG_USEC": "20000000"}) == 20.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": str(os.getpid())}) == 20.0
    assert watchdog_interval({"WATCHDOG_USEC": "20000000", "WATCHDOG_PID": "1"}) is None


def test_watchdog_pings_only_while_alive(notify_socket):
    sock, path = notify_socket
    now = [100.0]
    reason: list[str | None] = [None]
    wd = Watchdog(
        lambda: reason[0], env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "4000000"}, clock=lambda: now[0]
    )
    assert wd.enabled and wd.period == 1.0
    assert wd.tick()  # first ping
    now[0] += 1
    assert not wd.tick()  # less than half the interval since the last ping
    now[0] += 1.5
    assert wd.tick()
    reason[0] = "no frame analysed for 30.0 s"
    now[0] += 5
    assert not wd.tick() and not wd.tick()
    reason[0] = None
    assert wd.tick()
    msgs = _recv_all(sock)
    assert msgs == [
        "WATCHDOG=1",
        "WATCHDOG=1",
        "STATUS=stalled: no frame analysed for 30.0 s",
        "STATUS=running",
        "WATCHDOG=1",
    ]
