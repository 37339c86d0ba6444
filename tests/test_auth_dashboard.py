"""The real dashboard (create_app) behind pairing: every route in its URL map refuses a stranger,
except the login form, /healthz (minimal) and static assets."""

from __future__ import annotations

import re

import pytest

from hiitpi.config import load_settings
from hiitpi.web.auth import is_public

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def app_and_code(tmp_path_factory, redis_server):
    from hiitpi.pairing import create_secrets
    from hiitpi.web.app import create_app

    data = tmp_path_factory.mktemp("dash-auth")
    conf = load_settings(
        None, env={}, overrides={("general", "data_dir"): str(data), ("redis", "url"): redis_server.url}
    )
    _, code = create_secrets(conf.general.data_dir)
    return create_app(conf), code


def _concrete(rule: str) -> str:
    return re.sub(
        r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: {"sid": "1", "fmt": "json"}.get(m.group(1), "x"), rule
    )


def test_every_private_route_refuses_strangers(app_and_code):
    app, _ = app_and_code
    client = app.server.test_client()
    checked = []
    for rule in app.server.url_map.iter_rules():
        path = _concrete(rule.rule)
        if is_public(path):
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            for accept in ("application/json", "text/html"):
                resp = client.open(path, method=method, headers={"Accept": accept}, buffered=False)
                status = resp.status_code
                resp.close()
                assert status in (401, 303), f"{method} {path} ({accept}) -> {status}"
                if status == 303:
                    assert resp.headers["Location"].startswith("/login?next=")
                checked.append((method, path))
    paths = {p for _, p in checked}
    for must in ("/", "/api/live/state", "/api/start", "/api/stop"):
        assert must in paths, must
    # /video and /api/live/events are served by the event loop, not Flask: the same cookie is
    # checked there (tests/test_connlimits.py::test_streams_need_the_pairing_cookie)
    assert not {"/video", "/api/live/events"} & paths
    assert "/_dash-update-component" in paths and "/_dash-layout" in paths
    assert any(p.startswith("/export/") for p in paths)


def test_public_parts_stay_small(app_and_code):
    app, code = app_and_code
    client = app.server.test_client()
    assert client.get("/login").status_code == 200
    health = client.get("/healthz").get_json()
    assert set(health) == {"status", "degraded"}  # no paths, no errors, no versions for strangers
    # the page and the video open once paired
    assert client.post("/login", data={"code": code}).status_code == 303
    assert client.get("/", headers={"Accept": "text/html"}).status_code == 200
    assert client.get("/api/live/state").status_code == 200
    full = client.get("/healthz").get_json()
    assert "parts" in full
