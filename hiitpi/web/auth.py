"""LAN pairing: every page, the video stream and the API need a signed cookie a phone gets by pairing.

`install_auth(server, settings)` turns it on for a Flask app (the Dash server or a bare Flask app):

- ``GET /login`` shows a small form; ``POST /login`` (or ``GET /login?code=…`` from the QR code)
  checks the pairing code and sets Flask's signed session cookie (HttpOnly, SameSite=Lax,
  signed with the key from `hiitpi.pairing`; never a hard-coded key).
- A ``before_request`` hook refuses everything else without that cookie: a page request is
  redirected to the login form, anything else gets 401 JSON. Left open: the login form and
  ``/healthz`` (which answers with a minimal body to strangers, see `hiitpi.web.health`).
- Failed logins are rate-limited per client address and in total (so many addresses on one LAN do
  not multiply the guesses); past the limit the answer is 429 with Retry-After.
- ``POST /logout`` forgets the phone.
"""

from __future__ import annotations

import html
import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from flask import Flask, Response, jsonify, redirect, request, session

from hiitpi.config import Settings
from hiitpi.pairing import ApplianceSecrets, PendingCode, load_or_prepare_secrets, pairing_url

log = logging.getLogger(__name__)

#: Paths anyone may fetch: the login form, the health summary, the icon and robots.txt (the
#: last two served by the event loop, `hiitpi.web.public`). Nothing else, not even Dash's
#: bundles: their names tell which versions of Dash and Plotly run here.
PUBLIC_PATHS = frozenset({"/login", "/healthz", "/favicon.ico", "/robots.txt"})
PUBLIC_PREFIXES: tuple[str, ...] = ()
SESSION_KEY = "hiitpi_paired"
COOKIE_NAME = "hiitpi_session"
SESSION_DAYS = 90
MAX_CODE_CHARS = 64


@dataclass
class LoginLimiter:
    """Failed attempts in a sliding window, per client and in total."""

    per_client: int = 5
    total: int = 30
    window_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _by_client: dict[str, deque[float]] = field(default_factory=dict)
    _all: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _trim(self, q: deque[float], now: float) -> None:
        while q and now - q[0] >= self.window_s:
            q.popleft()

    def retry_after(self, client: str) -> float:
        """Seconds until ``client`` may try again; 0 when it may try now."""
        now = self.clock()
        with self._lock:
            self._trim(self._all, now)
            q = self._by_client.get(client)
            if q is not None:
                self._trim(q, now)
                if not q:
                    del self._by_client[client]
            waits = []
            if q is not None and len(q) >= self.per_client:
                waits.append(q[0] + self.window_s - now)
            if len(self._all) >= self.total:
                waits.append(self._all[0] + self.window_s - now)
            return max(waits, default=0.0)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            self._by_client.setdefault(client, deque()).append(now)
            self._all.append(now)
            if len(self._by_client) > 10_000:  # a flood of addresses: forget the oldest
                self._by_client.pop(next(iter(self._by_client)))

    def succeeded(self, client: str) -> None:
        with self._lock:
            self._by_client.pop(client, None)


@dataclass
class AuthGate:
    """What `install_auth` set up; tests and the dashboard may look at it."""

    secrets: ApplianceSecrets
    limiter: LoginLimiter
    privacy_default: bool
    #: a first start's code, shown by `announce` once the dashboard listens
    pending: PendingCode | None = None

    def announce(self) -> None:
        """Write a first start's secrets and show its pairing code (once; nothing when paired before)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            pending.announce()


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


def is_paired() -> bool:
    """True when the current request carries a valid pairing cookie."""
    return session.get(SESSION_KEY) is True


def _safe_next(target: str | None) -> str:
    """Only a local path: never an absolute URL or //host (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    if any(ord(ch) < 32 for ch in target):
        return "/"
    return target


def _wants_html() -> bool:
    """A page load (the browser names text/html); fetch(), <img> and API clients send */* or
    their own types and get a 401 they can act on, not a login page with status 200."""
    if request.method != "GET":
        return False
    listed = {value.lower() for value in request.accept_mimetypes.values()}
    return "text/html" in listed or "application/xhtml+xml" in listed


LOGIN_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>HIIT PI – pair this phone</title>
<style>
 body{{font-family:system-ui,sans-serif;max-width:26rem;margin:2rem auto;padding:0 1rem;font-size:1.2rem}}
 input,button{{font-size:1.5rem;width:100%;box-sizing:border-box;padding:.7rem;margin:.4rem 0}}
 input{{letter-spacing:.15em;text-transform:uppercase}}
 .err{{color:#b00020;font-weight:600}}
</style></head><body>
<h1>HIIT PI</h1>
<p>Type the pairing code shown when HIIT PI was installed (or scan its QR code).</p>
{message}
<form method="post" action="/login">
 <input type="hidden" name="next" value="{next}">
 <input name="code" autocomplete="one-time-code" autocapitalize="characters" maxlength="{maxlen}"
   placeholder="ABCDE-FGHJK" required autofocus>
 <button type="submit">Pair</button>
</form>
<p><small>Lost the code? On the Pi, run <code>hiitpi pair --reset</code>.</small></p>
</body></html>"""


def _login_page(message: str = "", status: int = 200, next_path: str = "/") -> Response:
    body = LOGIN_PAGE.format(
        message=f'<p class="err">{html.escape(message)}</p>' if message else "",
        next=html.escape(next_path, quote=True),
        maxlen=MAX_CODE_CHARS,
    )
    resp = Response(body, status=status, mimetype="text/html")
    resp.headers["Cache-Control"] = "no-store"
    return resp


def install_auth(
    server: Flask,
    settings: Settings,
    *,
    secrets: ApplianceSecrets | None = None,
    limiter: LoginLimiter | None = None,
    defer_code: bool = False,
) -> AuthGate:
    """Require pairing on every route of ``server`` except the login form, /healthz and assets.

    Without ``secrets`` they are loaded, or made on a first start; then the new code is shown at
    once, or with ``defer_code`` only when ``gate.announce()`` is called (the web server does,
    once it listens)."""
    pending = None
    if secrets is None:
        host = settings.web.host if settings.web.host not in ("0.0.0.0", "::", "") else _lan_address()
        secrets, pending = load_or_prepare_secrets(
            settings.general.data_dir, url_for_code=lambda code: pairing_url(host, settings.web.port, code)
        )
    gate = AuthGate(
        secrets=secrets,
        limiter=limiter or LoginLimiter(),
        privacy_default=settings.web.privacy_mode,
        pending=pending,
    )
    if not defer_code:
        gate.announce()
    server.secret_key = secrets.session_secret
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
            log.warning("login from %s refused: rate limit (retry in %.0f s)", client, wait)
            seconds = max(1, math.ceil(wait))
            resp = _login_page(f"Too many tries. Wait {seconds} s and try again.", 429, next_path)
            resp.headers["Retry-After"] = str(seconds)
            return resp
        if len(code) > MAX_CODE_CHARS or not gate.secrets.check_code(code):
            gate.limiter.failed(client)
            log.warning("failed pairing attempt from %s", client)
            return _login_page("That code is not right.", 403, next_path)
        gate.limiter.succeeded(client)
        session.clear()
        session[SESSION_KEY] = True
        session.permanent = True
        log.info("paired a browser from %s", client)
        return redirect(next_path, code=303)

    @server.route("/login", methods=["GET", "POST"])
    def login():
        next_path = _safe_next(request.values.get("next"))
        if request.method == "POST":
            return _attempt(request.form.get("code", ""), next_path)
        code = request.args.get("code")
        if code:
            return _attempt(code, next_path)
        if is_paired():
            return redirect(next_path, code=303)
        return _login_page(next_path=next_path)

    @server.route("/logout", methods=["POST"])
    def logout():
        session.clear()
        return redirect("/login", code=303)

    _unknown_assets_are_404(server)
    log.info("pairing required for every page (privacy mode default: %s)", settings.web.privacy_mode)
    return gate


def cookie_is_paired(server: Flask, cookie_header: str | None) -> bool:
    """The pairing check for the routes the event loop serves itself (the streams), outside
    Flask: the same signed session cookie, checked with the same key and lifetime. True when auth
    is not installed on ``server`` (a bare test app)."""
    if "hiitpi_auth" not in server.extensions:
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
    return isinstance(data, dict) and data.get(SESSION_KEY) is True


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
