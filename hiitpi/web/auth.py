"""LAN pairing: every page, the video stream and the API need a signed cookie a phone gets by pairing.

`install_auth(server, settings)` turns it on for a Flask app (the Dash server or a bare Flask app):

- ``GET /login`` shows the pairing form; ``POST /login`` (or ``GET /login?code=…`` from the QR
  code) redeems a one-time code (`hiitpi.pairing.Pairing.redeem`): the phone gets an entry with
  a random id, and Flask's signed session cookie carries that id (HttpOnly, SameSite=Lax, signed
  with the key in the secrets file; never a hard-coded key). The cookie counts only while its
  phone's entry exists: logout, `hiitpi pair --revoke` and `--reset` take effect at the next
  request, with no restart (the file is re-read when it changes; the signing key too).
- A ``before_request`` hook refuses everything else without such a cookie: a page request is
  redirected to the login form, anything else gets 401 JSON. Left open: the login form and
  ``/healthz`` (which answers with a minimal body to strangers, see `hiitpi.web.health`); the
  icon and robots.txt are served by the event loop (`hiitpi.web.public`).
- ``GET /pair``: the Phones page (paired phones, and a button that makes an invite: a short-lived
  one-time code with its QR code for another phone, ``POST /pair/invite``); ``POST /pair/revoke``
  signs another phone out; ``POST /logout`` signs this one out (its entry is removed, so a copy of
  its cookie is worthless too).
- Failed codes are rate-limited per client address (an IPv6 address by its /64): past the limit
  that address gets 429 with Retry-After; other addresses are not affected.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask, Response, current_app, jsonify, redirect, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from hiitpi.config import Settings
from hiitpi.pairing import Pairing, PairingFull, PendingCode, pairing_url, phone_name, qr_svg
from hiitpi.web.pairpage import login_page, phones_page

log = logging.getLogger(__name__)

#: Paths anyone may fetch: the login form, the health summary, the icon and robots.txt (the
#: last two served by the event loop, `hiitpi.web.public`). Nothing else, not even Dash's
#: bundles: their names tell which versions of Dash and Plotly run here.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/favicon.ico", "/robots.txt"})
PUBLIC_PREFIXES: tuple[str, ...] = ()
SESSION_KEY = "hiitpi_phone"
COOKIE_NAME = "hiitpi_session"
SESSION_DAYS = 90
MAX_CODE_CHARS = 64


def client_key(address: str) -> str:
    """What the login limit counts by: the address, or an IPv6 address's /64 (one home's share)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if ip.version == 4:
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    if ip.is_loopback:
        return str(ip)
    return str(ipaddress.ip_network(f"{ip}/64", strict=False))


@dataclass
class LoginLimiter:
    """Failed attempts in a sliding window, per client address (`client_key`). A flood from one
    address locks out that address only."""

    per_client: int = 5
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 10_000
    _by_client: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] >= self.window_s:
            q.popleft()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        key, now = client_key(client), self.clock()
        with self._lock:
            q = self._by_client.get(key)
            if q is None:
                return 0.0
            self._trim(q, now)
            if not q:
                del self._by_client[key]
                return 0.0
            return q[0] + self.window_s - now if len(q) >= self.per_client else 0.0

    def failed(self, client: str) -> None:
        key, now = client_key(client), self.clock()
        with self._lock:
            self._by_client.setdefault(key, deque()).append(now)
            if len(self._by_client) > self.max_clients:  # a flood of addresses: forget the oldest
                self._by_client.pop(next(iter(self._by_client)))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._by_client.pop(client_key(client), None)


class PairingSessions(SecureCookieSessionInterface):
    """Flask's signed cookie session, signed with the pairing file's current key (so a reset
    signs every phone out at once, without a restart)."""

    def __init__(self, pairing: Pairing):
        self.pairing = pairing

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        state = self.pairing.current()
        if state is None:
            return None
        return URLSafeTimedSerializer(
            state.session_secret,
            salt=self.salt,
            serializer=self.serializer,
            signer_kwargs={"key_derivation": self.key_derivation, "digest_method": self.digest_method},
        )


@dataclass
class AuthGate:
    """What `install_auth` set up; tests and the dashboard may look at it."""

    pairing: Pairing
    limiter: LoginLimiter
    privacy_default: bool
    code_ttl_s: float = 1800.0
    invite_ttl_s: float = 600.0
    #: a first start's code, made and shown by `announce` once the dashboard listens
    pending: PendingCode | None = None
    link: Callable[[str], str] = lambda code: f"/login?code={code}"

    def announce(self) -> None:
        """Make and show a first start's code (once; nothing when paired before)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.announce()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def _gate() -> AuthGate | None:
    return current_app.extensions.get("hiitpi_auth")


def current_phone() -> str | None:
    """The id of the paired phone making the current request, or None."""
    gate = _gate()
    if gate is None:
        return None
    pid = session.get(SESSION_KEY)
    return pid if gate.pairing.phone(pid) is not None else None


def is_paired() -> bool:
    """True when the current request carries the cookie of a phone that is still paired."""
    return current_phone() is not None


def _safe_next(target: str | None) -> str:
    """Only a local path: never an absolute URL or //host (an open redirect)."""
    if not isinstance(target, str) or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target) or len(target) > 2000:
        return "/"
    return target


def _wants_html() -> bool:
    """A page load (the browser names text/html); fetch(), <img> and API clients send */* or
    their own types and get a 401 they can act on, not a login page with status 200."""
    if request.method != "GET":
        return False
    listed = {value.lower() for value in request.accept_mimetypes.values()}
    return "text/html" in listed or "application/xhtml+xml" in listed


def _html(body: str, status: int = 200) -> Response:
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def _login_page(message: str = "", status: int = 200, next_path: str = "/", ok: bool = False) -> Response:
    return _html(login_page(message, next_path=next_path, maxlen=MAX_CODE_CHARS, ok=ok), status)


def _field(name: str) -> str:
    """A form or query field as text ('' when absent or not text)."""
    value = request.values.get(name, "")
    return value if isinstance(value, str) else ""


def install_auth(
    server: Flask,
    settings: Settings,
    *,
    pairing: Pairing | None = None,
    limiter: LoginLimiter | None = None,
    defer_code: bool = False,
) -> AuthGate:
    """Require pairing on every route of ``server`` except the login form and /healthz.

    Without ``pairing`` it is the data folder's. When nothing is paired yet a first code is made
    and shown at once, or with ``defer_code`` only when ``gate.announce()`` is called (the web
    server does, once it listens). `SecretsError` for a secrets file that is unsafe."""
    pairing = pairing or Pairing(settings.general.data_dir)
    pairing.load()  # an unsafe or damaged file stops the start here, saying what to do
    w = settings.web
    host = w.host if w.host not in ("0.0.0.0", "::", "") else _lan_address()
    link = lambda code: pairing_url(host, w.port, code)  # noqa: E731
    gate = AuthGate(
        pairing=pairing,
        limiter=limiter or LoginLimiter(),
        privacy_default=w.privacy_mode,
        code_ttl_s=w.pairing_code_minutes * 60,
        invite_ttl_s=w.invite_minutes * 60,
        pending=None if pairing.exists() else PendingCode(pairing, w.pairing_code_minutes * 60, link),
        link=link,
    )
    if not defer_code:
        gate.announce()
    server.session_interface = PairingSessions(pairing)
    server.config.update(
        SESSION_COOKIE_NAME=COOKIE_NAME,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",  # Lax, not Strict: the QR link arrives from another app
        SESSION_COOKIE_SECURE=False,  # plain HTTP on the LAN; see the README for a TLS proxy
        PERMANENT_SESSION_LIFETIME=timedelta(days=SESSION_DAYS),
    )
    server.extensions["hiitpi_auth"] = gate

    @server.before_request
    def _require_pairing():
        if is_public(request.path) or is_paired():
            return None
        if _wants_html():
            return redirect("/login?next=" + _quote(request.full_path.rstrip("?")), code=303)
        return jsonify(error="not paired", login="/login"), 401

    def _attempt(code: str, next_path: str):
        client = request.remote_addr or "?"
        wait = gate.limiter.retry_after(client)
        if wait > 0:
            log.warning("login from %s refused: too many wrong codes (retry in %.0f s)", client, wait)
            seconds = max(1, math.ceil(wait))
            resp = _login_page(f"Too many tries. Wait {seconds} s and try again.", 429, next_path)
            resp.headers["Retry-After"] = str(seconds)
            return resp
        try:
            phone = None
            if len(code) <= MAX_CODE_CHARS:
                phone = pairing.redeem(code, name=phone_name(request.user_agent.string), address=client)
        except PairingFull as exc:
            return _login_page(f"{exc.message}: {exc.hint}.", 409, next_path)
        if phone is None:
            gate.limiter.failed(client)
            log.warning("failed pairing attempt from %s", client)
            return _login_page(
                "That code is not right, or it was used or has expired. Ask for a new one.", 403, next_path
            )
        gate.limiter.succeeded(client)
        session.clear()
        session[SESSION_KEY] = phone.id
        session.permanent = True
        log.info("paired %s from %s (phone %s)", phone.name, client, phone.id)
        return redirect(next_path, code=303)

    @server.route("/login", methods=["GET", "POST"])
    def login():
        next_path = _safe_next(request.values.get("next"))
        if pairing.current() is None:
            return _login_page(
                "Pairing is not set up on this device: run `hiitpi pair` on it.", 503, next_path
            )
        if request.method == "POST":
            return _attempt(_field("code"), next_path)
        code = _field("code")
        if code:
            return _attempt(code, next_path)
        if is_paired():
            return redirect(next_path, code=303)
        out = request.args.get("out") == "1"
        return _login_page("This phone is signed out." if out else "", next_path=next_path, ok=out)

    @server.route("/logout", methods=["POST"])
    def logout():
        pid = current_phone()
        if pid is not None and pairing.revoke(pid):
            log.info("phone %s signed out", pid)
        if pairing.current() is not None:
            session.clear()
        return redirect("/login?out=1", code=303)

    @server.route("/pair", methods=["GET"])
    def phones():
        return _phones()

    @server.route("/pair/invite", methods=["POST"])
    def invite():
        code = pairing.make_code(gate.invite_ttl_s, kind="invite")
        url = gate.link(code)
        log.info("phone %s made an invite code (good for %.0f min)", current_phone(), gate.invite_ttl_s / 60)
        return _phones(invite=(code, url, qr_svg(url), gate.invite_ttl_s / 60))

    @server.route("/pair/revoke", methods=["POST"])
    def revoke():
        pid = _field("phone")
        if not pid or len(pid) > 64:
            return _phones("Pick a phone to remove.", status=400)
        if pid == current_phone():
            return logout()
        gone = pairing.revoke(pid)
        if gone:
            log.info("phone %s signed out by phone %s", pid, current_phone())
        return _phones("Removed: that phone must pair again." if gone else "That phone was not paired.")

    def _phones(message: str = "", *, invite=None, status: int = 200) -> Response:
        state = pairing.current()
        listed = state.phones.values() if state is not None else ()
        return _html(phones_page(listed, current_phone(), invite=invite, message=message), status)

    _unknown_assets_are_404(server)
    log.info("pairing required for every page (privacy mode default: %s)", settings.web.privacy_mode)
    return gate


def cookie_is_paired(server: Flask, cookie_header: str | None) -> bool:
    """The pairing check for the routes the event loop serves itself (the streams), outside
    Flask: the same signed session cookie, checked with the same key and lifetime. True when auth
    is not installed on ``server`` (a bare test app)."""
    gate = server.extensions.get("hiitpi_auth")
    if gate is None:
        return True
    from itsdangerous import BadSignature
    from werkzeug.http import parse_cookie

    value = parse_cookie(cookie_header or "").get(COOKIE_NAME)
    serializer = server.session_interface.get_signing_serializer(server)
    if not value or serializer is None:
        return False
    try:
        data = serializer.loads(value, max_age=int(server.permanent_session_lifetime.total_seconds()))
    except BadSignature:
        return False
    return isinstance(data, dict) and gate.pairing.phone(data.get(SESSION_KEY)) is not None


def _unknown_assets_are_404(server: Flask) -> None:
    """Dash raises DependencyException for an unknown /_dash-component-suites/ file, which Flask
    turns into a 500. Those paths are public (see PUBLIC_PREFIXES), so a stranger could fill the
    log with tracebacks; answer 404 like any missing file."""
    try:
        from dash.exceptions import DependencyException
    except ImportError:
        return

    def not_found(exc: Exception):
        return jsonify(error="no such file"), 404

    server.register_error_handler(DependencyException, not_found)


def _quote(path: str) -> str:
    from urllib.parse import quote

    return quote(path, safe="/")


def _lan_address() -> str:
    """This machine's address on the LAN (for the pairing link); the hostname if there is none."""
    import socket

    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.1", 9))  # TEST-NET address: no packet is sent for a UDP connect
            return s.getsockname()[0]
    except OSError:
        return socket.gethostname() + ".local"
