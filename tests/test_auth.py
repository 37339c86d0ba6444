"""Pairing on a bare Flask app: secrets on disk, login, cookie flags, every route guarded, rate limit."""

from __future__ import annotations

import json
import os
import stat

import pytest
from flask import Flask

from hiitpi.config import load_settings
from hiitpi.pairing import (
    SecretsError,
    create_secrets,
    ensure_secrets,
    format_code,
    load_secrets,
    secrets_path,
)
from hiitpi.web.auth import LoginLimiter, install_auth


@pytest.fixture()
def settings(tmp_path):
    return load_settings(None, env={}, overrides={("general", "data_dir"): str(tmp_path / "data")})


@pytest.fixture()
def app_and_code(settings):
    secrets, code = create_secrets(settings.general.data_dir)
    app = Flask("t")

    @app.route("/")
    def index():
        return "<html>live page</html>"

    @app.route("/video.mjpg")
    def video():
        return "frames"

    @app.route("/api/state")
    def state():
        return {"reps": 3}

    @app.route("/_dash-update-component", methods=["POST"])
    def dash_update():
        return {"ok": True}

    @app.route("/_dash-component-suites/dash/x.js")
    def bundle():
        return "js"

    install_auth(app, settings, secrets=secrets)
    return app, code


def test_secrets_file_is_private_and_holds_no_plain_code(settings):
    secrets, code = create_secrets(settings.general.data_dir)
    path = secrets_path(settings.general.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert code not in text and format_code(code) not in text
    assert len(json.loads(text)["session_secret"]) == 64
    loaded = load_secrets(settings.general.data_dir)
    assert loaded.session_secret == secrets.session_secret
    assert loaded.check_code(code)
    assert loaded.check_code(format_code(code).lower())
    assert not loaded.check_code(code[:-1] + ("2" if code[-1] != "2" else "3"))
    assert not loaded.check_code("")


def test_two_installs_get_different_secrets(tmp_path):
    a, code_a = create_secrets(tmp_path / "a")
    b, code_b = create_secrets(tmp_path / "b")
    assert a.session_secret != b.session_secret and code_a != code_b


def test_secrets_readable_by_others_are_refused(settings):
    create_secrets(settings.general.data_dir)
    path = secrets_path(settings.general.data_dir)
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        load_secrets(settings.general.data_dir)


def test_first_start_creates_and_announces_code_once(settings, caplog):
    caplog.set_level("INFO")
    first = ensure_secrets(settings.general.data_dir, url_for_code=lambda c: f"http://pi:8050/login?code={c}")
    announced = [r.getMessage() for r in caplog.records if "HIIT PI pairing code" in r.getMessage()]
    assert len(announced) == 1 and "http://pi:8050/login?code=" in announced[0]
    assert "█" in announced[0] or "▀" in announced[0]  # the QR code is drawn
    caplog.clear()
    again = ensure_secrets(settings.general.data_dir)
    assert again.session_secret == first.session_secret
    assert not [r for r in caplog.records if "HIIT PI pairing code" in r.getMessage()]


def test_unpaired_requests_are_refused_everywhere(app_and_code):
    app, _ = app_and_code
    c = app.test_client()
    page = c.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=/")
    for path in ("/video.mjpg", "/api/state"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert r.get_json()["error"] == "not paired"
    assert c.post("/_dash-update-component", json={}).status_code == 401
    assert c.get("/_dash-component-suites/dash/x.js").status_code == 401  # its name tells versions
    assert c.get("/login").status_code == 200


def test_pairing_sets_a_signed_httponly_cookie(app_and_code):
    app, code = app_and_code
    c = app.test_client()
    r = c.post("/login", data={"code": format_code(code), "next": "/api/state"})
    assert r.status_code == 303 and r.headers["Location"] == "/api/state"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "hiitpi_session=" in cookie
    assert c.get("/api/state").get_json() == {"reps": 3}
    assert c.get("/video.mjpg").data == b"frames"
    # a tampered cookie is worthless
    value = c.get_cookie("hiitpi_session").value
    c2 = app.test_client()
    c2.set_cookie("hiitpi_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert c2.get("/api/state").status_code == 401
    # logout forgets the phone
    assert c.post("/logout").status_code == 303
    assert c.get("/api/state").status_code == 401


def test_qr_link_pairs_in_one_step_and_next_is_never_offsite(app_and_code):
    app, code = app_and_code
    c = app.test_client()
    r = c.get(f"/login?code={format_code(code)}&next=//evil.example/x")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert c.get("/api/state").status_code == 200


def test_cookie_from_another_install_is_refused(app_and_code, tmp_path, settings):
    app, _ = app_and_code
    other_secrets, other_code = create_secrets(tmp_path / "other")
    other = Flask("other")
    install_auth(other, settings, secrets=other_secrets)
    oc = other.test_client()
    oc.post("/login", data={"code": other_code})
    stolen = oc.get_cookie("hiitpi_session").value
    c = app.test_client()
    c.set_cookie("hiitpi_session", stolen)
    assert c.get("/api/state").status_code == 401


def test_wrong_codes_are_rate_limited_per_client_and_in_total(settings):
    secrets, code = create_secrets(settings.general.data_dir)
    now = [1000.0]
    limiter = LoginLimiter(per_client=3, total=5, window_s=60, clock=lambda: now[0])
    app = Flask("t")
    install_auth(app, settings, secrets=secrets, limiter=limiter)
    c = app.test_client()
    a = {"REMOTE_ADDR": "192.168.1.50"}
    for _ in range(3):
        assert c.post("/login", data={"code": "WRONGCODE1"}, environ_base=a).status_code == 403
    r = c.post("/login", data={"code": code}, environ_base=a)  # even the right code waits
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    b = {"REMOTE_ADDR": "192.168.1.51"}
    for _ in range(2):
        assert c.post("/login", data={"code": "WRONGCODE2"}, environ_base=b).status_code == 403
    d = {"REMOTE_ADDR": "192.168.1.52"}  # a fresh address, but the LAN-wide budget is spent
    assert c.post("/login", data={"code": code}, environ_base=d).status_code == 429
    now[0] += 61
    r = c.post("/login", data={"code": code}, environ_base=a)
    assert r.status_code == 303
    assert c.get("/nothing-here", environ_base=a).status_code == 404  # past the gate


def test_install_auth_without_secrets_creates_them(settings):
    app = Flask("t")
    gate = install_auth(app, settings)
    assert secrets_path(settings.general.data_dir).exists()
    assert app.secret_key == gate.secrets.session_secret
    assert len(app.secret_key) == 64


def test_only_page_loads_are_sent_to_the_login_form(app_and_code):
    app, _ = app_and_code
    c = app.test_client()
    nav = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    assert c.get("/", headers={"Accept": nav}).status_code == 303
    for accept in ("*/*", "image/avif,image/webp,*/*;q=0.8", "application/json", ""):
        r = c.get("/video.mjpg", headers={"Accept": accept})
        assert r.status_code == 401, accept  # fetch() and <img> get a status they can act on
