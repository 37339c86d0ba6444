"""Pairing on a bare Flask app: the secrets file, one-time codes that expire, phones that can be
signed out (logout, revoke, reset — each in force at the next request, no restart), cookie flags,
every route guarded, and a login limit per address (not for the whole LAN)."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys

import pytest
from flask import Flask

from hiitpi.config import load_settings
from hiitpi.pairing import (
    LEGACY_CODE_S,
    Pairing,
    SecretsError,
    create_secrets,
    format_code,
    load_secrets,
    secrets_path,
)
from hiitpi.web.auth import LoginLimiter, client_key, install_auth
from tests.conftest import REPO


@pytest.fixture()
def settings(tmp_path):
    return load_settings(None, env={}, overrides={("general", "data_dir"): str(tmp_path / "data")})


def bare_app(settings, pairing: Pairing | None = None, limiter: LoginLimiter | None = None) -> Flask:
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

    install_auth(app, settings, pairing=pairing, limiter=limiter)
    return app


@pytest.fixture()
def app_and_code(settings):
    pairing, code = create_secrets(settings.general.data_dir)
    return bare_app(settings, pairing), code


def pair(app: Flask, code: str, ua: str = "Mozilla/5.0 (Linux; Android 14) Chrome/126.0 Mobile"):
    c = app.test_client()
    r = c.post("/login", data={"code": code}, headers={"User-Agent": ua})
    assert r.status_code == 303, r.data[:300]
    return c


def hiitpi(*args: str, data_dir) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HIITPI_")}
    env["HIITPI_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "hiitpi", *args], env=env, capture_output=True, text=True, cwd=REPO, timeout=60
    )


def test_secrets_file_is_private_and_holds_no_plain_code(settings):
    pairing, code = create_secrets(settings.general.data_dir)
    path = secrets_path(settings.general.data_dir)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert code not in text and format_code(code) not in text
    data = json.loads(text)
    assert data["version"] == 2 and len(data["session_secret"]) == 64 and len(data["codes"]) == 1
    loaded = load_secrets(settings.general.data_dir)
    assert loaded.session_secret == pairing.current().session_secret
    assert any(c.matches(code) for c in loaded.codes)
    assert any(c.matches(format_code(code).lower()) for c in loaded.codes)
    assert not any(c.matches(code[:-1] + ("2" if code[-1] != "2" else "3")) for c in loaded.codes)


def test_two_installs_get_different_secrets(tmp_path):
    a, code_a = create_secrets(tmp_path / "a")
    b, code_b = create_secrets(tmp_path / "b")
    assert a.current().session_secret != b.current().session_secret and code_a != code_b


def test_secrets_readable_by_others_are_refused(settings):
    create_secrets(settings.general.data_dir)
    path = secrets_path(settings.general.data_dir)
    os.chmod(path, 0o644)
    with pytest.raises(SecretsError, match="chmod 600"):
        load_secrets(settings.general.data_dir)
    with pytest.raises(SecretsError, match="chmod 600"):
        bare_app(settings)  # the appliance does not start on it


def test_first_start_makes_and_announces_a_code_once(settings, caplog):
    caplog.set_level("INFO")
    app = Flask("t")
    gate = install_auth(app, settings, defer_code=True)
    assert not secrets_path(settings.general.data_dir).exists()  # nothing before the server listens
    gate.announce()
    gate.announce()
    announced = [r.getMessage() for r in caplog.records if "HIIT PI pairing code" in r.getMessage()]
    assert len(announced) == 1 and "/login?code=" in announced[0] and "within 30 minutes" in announced[0]
    assert "█" in announced[0] or "▀" in announced[0]  # the QR code is drawn
    caplog.clear()
    install_auth(Flask("again"), settings).announce()  # a later start: nothing new
    assert not [r for r in caplog.records if "HIIT PI pairing code" in r.getMessage()]


def test_unpaired_requests_are_refused_everywhere(app_and_code):
    app, _ = app_and_code
    c = app.test_client()
    page = c.get("/", headers={"Accept": "text/html"})
    assert page.status_code == 303 and page.headers["Location"].startswith("/login?next=/")
    for path in ("/video.mjpg", "/api/state", "/pair"):
        r = c.get(path)
        assert r.status_code == 401, path
        assert r.get_json()["error"] == "not paired"
    for path in ("/_dash-update-component", "/pair/invite", "/pair/revoke"):
        assert c.post(path, json={}).status_code == 401, path
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
    value = c.get_cookie("hiitpi_session").value
    c2 = app.test_client()
    c2.set_cookie("hiitpi_session", value[:-2] + ("AA" if not value.endswith("AA") else "BB"))
    assert c2.get("/api/state").status_code == 401  # a tampered cookie is worthless


def test_a_code_pairs_one_phone_once(app_and_code):
    app, code = app_and_code
    pair(app, code)
    again = app.test_client().post("/login", data={"code": code})
    assert again.status_code == 403 and b"used or has expired" in again.data


def test_a_code_expires(settings):
    now = [1_000_000.0]
    pairing = Pairing(settings.general.data_dir, clock=lambda: now[0])
    code = pairing.reset(ttl_s=600)
    app = bare_app(settings, pairing)
    now[0] += 601
    assert app.test_client().post("/login", data={"code": code}).status_code == 403
    assert pairing.load().codes == ()  # the expired code was purged
    fresh = pairing.make_code(600)
    now[0] += 599
    pair(app, fresh)


def test_logout_revokes_that_cookie_even_for_a_copy(app_and_code):
    """The issue: logout cleared the cookie in the browser, but a copy of it still opened the
    dashboard. Now the phone's entry is gone, so the copy is refused."""
    app, code = app_and_code
    c = pair(app, code)
    stolen = c.get_cookie("hiitpi_session").value
    assert c.post("/logout").headers["Location"] == "/login?out=1"
    assert c.get("/api/state").status_code == 401
    copy = app.test_client()
    copy.set_cookie("hiitpi_session", stolen)
    assert copy.get("/api/state").status_code == 401
    assert b"signed out" in app.test_client().get("/login?out=1").data


def test_invite_another_phone_without_signing_anyone_out(app_and_code):
    app, code = app_and_code
    first = pair(app, code)
    page = first.get("/pair")
    assert page.status_code == 200 and b"this phone" in page.data and b"Chrome on Android" in page.data
    made = first.post("/pair/invite")
    assert made.status_code == 200 and b"<svg" in made.data and b"within <b>10 minutes</b>" in made.data
    invite = made.data.split(b'id="invite-code">', 1)[1].split(b"<", 1)[0].decode()
    second = pair(app, invite, ua="Mozilla/5.0 (iPhone; CPU iPhone OS 17_5) Safari/604.1")
    assert first.get("/api/state").status_code == 200 and second.get("/api/state").status_code == 200
    listing = first.get("/pair").data
    assert b"Safari on iPhone" in listing and b"Chrome on Android" in listing
    # the second phone signs the first one out: only the first is refused from then on
    first_id = next(
        p.id for p in app.extensions["hiitpi_auth"].pairing.current().phones.values() if "Android" in p.name
    )
    assert b"Removed" in second.post("/pair/revoke", data={"phone": first_id}).data
    assert first.get("/api/state").status_code == 401 and second.get("/api/state").status_code == 200
    assert second.post("/pair/revoke", data={"phone": "x" * 100}).status_code == 400


def test_pair_show_makes_a_code_for_the_running_app_without_signing_out(app_and_code, settings):
    app, code = app_and_code
    first = pair(app, code)
    r = hiitpi("pair", "--show", "--host", "pi.local", data_dir=settings.general.data_dir)
    assert r.returncode == 0, r.stderr
    shown = r.stdout.split("HIIT PI pairing code: ", 1)[1].split()[0]
    assert "http://pi.local:8050/login?code=" + shown in r.stdout
    pair(app, shown)  # the running app takes the new code at once
    assert first.get("/api/state").status_code == 200  # and nobody was signed out
    listed = hiitpi("pair", "--list", data_dir=settings.general.data_dir)
    assert listed.returncode == 0 and listed.stdout.count("Chrome on Android") == 2


def test_pair_reset_takes_effect_at_once_for_the_running_app(app_and_code, settings):
    """The issue: after `hiitpi pair --reset` the running appliance kept the old code and cookie
    until a restart, and refused the new code."""
    app, code = app_and_code
    phone = pair(app, code)
    r = hiitpi("pair", "--reset", data_dir=settings.general.data_dir)
    assert r.returncode == 0 and "signed out" in r.stdout, r.stderr
    new = r.stdout.split("HIIT PI pairing code: ", 1)[1].split()[0]
    assert phone.get("/api/state").status_code == 401  # at once: its cookie is worthless now
    pair(app, new)
    revoked = hiitpi("pair", "--revoke", "nope", data_dir=settings.general.data_dir)
    assert revoked.returncode == 2 and "no phone 'nope' is paired" in revoked.stderr


def test_pair_revoke_from_the_device(app_and_code, settings):
    app, code = app_and_code
    phone = pair(app, code)
    pid = next(iter(app.extensions["hiitpi_auth"].pairing.current().phones))
    r = hiitpi("pair", "--revoke", pid, data_dir=settings.general.data_dir)
    assert r.returncode == 0, r.stderr
    assert phone.get("/api/state").status_code == 401


def test_qr_link_pairs_in_one_step_and_next_is_never_offsite(app_and_code):
    app, code = app_and_code
    c = app.test_client()
    r = c.get(f"/login?code={format_code(code)}&next=//evil.example/x")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    assert c.get("/api/state").status_code == 200


def test_cookie_from_another_install_is_refused(app_and_code, tmp_path):
    app, _ = app_and_code
    other_settings = load_settings(None, env={}, overrides={("general", "data_dir"): str(tmp_path / "other")})
    other_pairing, other_code = create_secrets(tmp_path / "other")
    oc = pair(bare_app(other_settings, other_pairing), other_code)
    c = app.test_client()
    c.set_cookie("hiitpi_session", oc.get_cookie("hiitpi_session").value)
    assert c.get("/api/state").status_code == 401


def test_wrong_codes_lock_out_that_address_only(settings):
    """The issue: 30 bad tries from anywhere on the LAN locked pairing for everyone."""
    pairing, code = create_secrets(settings.general.data_dir)
    now = [1000.0]
    limiter = LoginLimiter(per_client=3, window_s=60, clock=lambda: now[0])
    app = bare_app(settings, pairing, limiter)
    c = app.test_client()
    for i in range(40):  # forty addresses guess, three times each
        for _ in range(3):
            r = c.post(
                "/login", data={"code": "WRONGCODE1"}, environ_base={"REMOTE_ADDR": f"192.168.1.{i + 10}"}
            )
            assert r.status_code == 403
    a = {"REMOTE_ADDR": "192.168.1.10"}
    r = c.post("/login", data={"code": code}, environ_base=a)  # that address waits, even with the code
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    r = c.post("/login", data={"code": code}, environ_base={"REMOTE_ADDR": "192.168.1.200"})
    assert r.status_code == 303  # a phone that did not guess pairs at once
    now[0] += 61
    assert c.post("/login", data={"code": "WRONGCODE1"}, environ_base=a).status_code == 403  # tries again


def test_an_ipv6_home_is_one_address_for_the_limit():
    assert client_key("2001:db8:1:2:aaaa::1") == client_key("2001:db8:1:2:bbbb::7") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("::ffff:192.168.1.5") == "192.168.1.5" and client_key("?") == "?"


def test_a_version_1_file_keeps_its_key_and_its_code_works_once_more(settings):
    import hashlib

    data_dir = settings.general.data_dir
    data_dir.mkdir(parents=True)
    salt = "00" * 16
    old_code = "ABCDEFGHJK"
    digest = hashlib.scrypt(old_code.encode(), salt=bytes.fromhex(salt), n=2**14, r=8, p=1).hex()
    path = secrets_path(data_dir)
    path.write_text(
        json.dumps({"version": 1, "session_secret": "s" * 64, "pairing_salt": salt, "pairing_hash": digest})
    )
    os.chmod(path, 0o600)
    app = bare_app(settings)
    state = json.loads(path.read_text())
    assert state["version"] == 2 and state["session_secret"] == "s" * 64
    assert (
        state["codes"][0]["kind"] == "legacy"
        and state["codes"][0]["expires"] <= __import__("time").time() + LEGACY_CODE_S
    )
    pair(app, "abcde-fghjk")
    assert app.test_client().post("/login", data={"code": old_code}).status_code == 403


def test_only_page_loads_are_sent_to_the_login_form(app_and_code):
    app, _ = app_and_code
    c = app.test_client()
    nav = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
    assert c.get("/", headers={"Accept": nav}).status_code == 303
    for accept in ("*/*", "image/avif,image/webp,*/*;q=0.8", "application/json", ""):
        r = c.get("/video.mjpg", headers={"Accept": accept})
        assert r.status_code == 401, accept  # fetch() and <img> get a status they can act on
