"""The dashboard server's connection limits, over real sockets from several loopback addresses
(127.0.0.0/8 is all loopback: each address is another "phone"): per-address caps, the request
head time-out (a slow-loris or an idle socket is closed), and a full connection table that closes
the longest idle connection for a newcomer instead of locking it out. The streams sit behind the
same pairing cookie as every page."""

from __future__ import annotations

import socket
import time

import pytest
import requests

from tests.conftest import free_port


@pytest.fixture()
def web_settings(settings_factory, redis_url):
    def make(**web):
        return settings_factory(
            {
                ("redis", "url"): redis_url,
                ("web", "host"): "127.0.0.1",
                ("web", "port"): free_port(),
                **{("web", k): v for k, v in web.items()},
            }
        )

    return make


@pytest.fixture()
def server(web_settings, request):
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = web_settings(**getattr(request, "param", {}))
    web = WebServer(settings, create_app(settings, auth=False))
    web.start()
    yield web
    web.stop()


def _connect(port: int, source: str) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0))
    return s


def _get(s: socket.socket, path: str = "/healthz") -> bytes:
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    return s.recv(65536)


@pytest.mark.parametrize("server", [{"max_connections_per_client": 4}], indirect=True)
def test_one_address_gets_at_most_its_share(server):
    held = [_connect(server.port, "127.0.3.1") for _ in range(4)]
    try:
        extra = _connect(server.port, "127.0.3.1")
        answer = extra.recv(4096)
        assert answer.startswith(b"HTTP/1.1 503") and b"too many connections from your address" in answer
        other = _connect(server.port, "127.0.3.2")  # another phone is not affected
        assert _get(other).startswith(b"HTTP/1.1 200")
        assert _get(held[0]).startswith(b"HTTP/1.1 200")  # nor are the first four
        assert server.guard.refused >= 1
    finally:
        for s in held:
            s.close()


@pytest.mark.parametrize("server", [{"head_timeout_s": 1.0}], indirect=True)
def test_a_connection_that_never_finishes_its_request_head_is_closed(server):
    idle = _connect(server.port, "127.0.3.3")
    loris = _connect(server.port, "127.0.3.4")
    t0 = time.monotonic()
    loris.sendall(b"GET /healthz HTTP/1.1\r\n")  # ... and never the rest
    for s in (idle, loris):
        s.settimeout(5)
        answer = s.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408"), answer
        assert s.recv(4096) == b""  # closed
    assert 0.8 < time.monotonic() - t0 < 3.5
    assert server.guard.timed_out == 2


@pytest.mark.parametrize("server", [{"max_connections": 16}], indirect=True)
def test_idle_sockets_cannot_fill_the_table(server):
    idle = [_connect(server.port, f"127.0.4.{i + 1}") for i in range(16)]  # 16 phones, all silent
    try:
        time.sleep(0.2)
        newcomer = _connect(server.port, "127.0.4.100")
        assert _get(newcomer).startswith(b"HTTP/1.1 200")  # served: the oldest idle one made room
        idle[0].settimeout(2)
        assert idle[0].recv(4096) == b""  # that one was closed
        assert server.guard.evicted >= 1
    finally:
        for s in idle:
            s.close()


def test_streams_need_the_pairing_cookie(web_settings):
    """The streams the event loop serves (video, live feed, the coach's answer) need the same cookie
    as the pages."""
    from hiitpi.pairing import create_secrets
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = web_settings()
    _, code = create_secrets(settings.general.data_dir)
    web = WebServer(settings, create_app(settings))
    web.start()
    base = f"http://127.0.0.1:{web.port}"
    try:
        for path in ("/video", "/api/live/events", "/api/chat/jobs/abc/events"):
            r = requests.get(base + path, timeout=5, stream=True)
            assert r.status_code == 401 and r.json()["login"] == "/login", path
            forged = requests.get(base + path, timeout=5, stream=True, cookies={"hiitpi_session": "x.y.z"})
            assert forged.status_code == 401
        phone = requests.Session()
        assert (
            phone.post(base + "/login", data={"code": code}, allow_redirects=False, timeout=5).status_code
            == 303
        )
        assert phone.get(base + "/video", timeout=5).status_code == 503  # paired; no engine in this process
        assert phone.get(base + "/api/chat/jobs/abc/events", timeout=5).status_code == 404  # no such answer
        with phone.get(base + "/api/live/events", stream=True, timeout=5) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            assert next(r.iter_lines()) == b"retry: 1000"
        kept = phone.cookies.get("hiitpi_session")
        assert phone.post(base + "/logout", allow_redirects=False, timeout=5).status_code == 303
        for path in ("/video", "/api/live/events"):  # a copy of the cookie is worthless after logout
            r = requests.get(base + path, timeout=5, stream=True, cookies={"hiitpi_session": kept})
            assert r.status_code == 401, path
    finally:
        web.stop()
