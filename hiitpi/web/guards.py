"""Checks in front of every route (pages, API, streams): one ASGI middleware, `RequestGuard`.

In this order, each refusal a short JSON ``{"error": ...}`` (never a 500):

1. **Headers**: more than ``[web] max_headers``, or a request line and headers longer than
   ``[web] max_header_bytes`` → 431. (uvicorn's h11 parser also stops buffering a head that
   trickles in past that size.)
2. **Host allow-list** (DNS rebinding): the Host header must name this appliance — ``localhost``,
   this machine's host name (also ``<name>.local``), an IP address this machine has (checked by
   binding a socket to it), or a name in ``[web] allowed_hosts``. Anything else → 421.
3. **Body size**: a body longer than the route's cap → 413, before a byte of it is read. The cap
   is ``[web] max_body_bytes`` unless the route declared its own (see below). A body without a
   Content-Length (chunked) → 411: browsers always send one.
4. **CSRF** on every state-changing method (POST, PUT, PATCH, DELETE): when the browser says
   where the request comes from, it must be this very origin (scheme-less host and port, as the
   Host header says): ``Sec-Fetch-Site`` must be ``same-origin`` (or ``none``), ``Origin`` must
   match, and without an Origin the ``Referer`` must. A page on another port of the same host is
   *same-site* (its cookies, SameSite=Lax, are sent) but not same-origin: refused → 403. Dash's
   own callbacks are same-origin fetches and pass. A request that names no origin at all is
   not from a browser page (every browser sends Origin on a POST), so it cannot ride on a
   phone's cookie; it still needs the pairing cookie like any other.
5. **Security headers** on every response the app sends: a Content-Security-Policy (scripts
   and everything else from this origin only, plus the hashes of Dash's inline scripts; no
   framing), ``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
   same-origin``, ``Cross-Origin-Opener-Policy``/``-Resource-Policy: same-origin`` and a
   ``Permissions-Policy`` that denies camera, microphone and location to pages. A response that
   sets one of them itself keeps its own.

**A route with a larger body** (an upload) declares its cap where it is registered::

    from hiitpi.web.guards import allow_body
    allow_body(server, "/api/upload", 512 * 1024 * 1024)   # server: the Flask app (app.server)

The longest declared prefix of the request's path wins; every other path gets ``[web]
max_body_bytes``. The guard reads the declarations at each request, so a route may declare its
cap whenever it is registered (before the server starts or after).
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import logging
import socket
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

log = logging.getLogger(__name__)

BODY_LIMITS_KEY = "hiitpi_body_limits"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: What a page of this appliance may load and do (scripts: this origin and Dash's inline ones).
CSP_TEMPLATE = (
    "default-src 'self'; script-src 'self' {scripts}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; media-src 'self' blob:; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)


def allow_body(server: Any, path_prefix: str, max_bytes: int, *, from_page: str | None = None) -> None:
    """Let requests under ``path_prefix`` carry bodies up to ``max_bytes`` (an upload route).

    ``server`` is the Flask app the route is registered on (the Dash app's ``app.server``). With
    ``from_page`` the larger cap holds only for requests sent from that page (its Referer's path):
    a Dash page whose callbacks carry a file shares ``/_dash-update-component`` with every page."""
    if not path_prefix.startswith("/") or max_bytes < 0:
        raise ValueError("allow_body needs a path starting with / and a size of at least 0 bytes")
    key = path_prefix if from_page is None else (path_prefix, from_page)
    server.extensions.setdefault(BODY_LIMITS_KEY, {})[key] = int(max_bytes)


def install_flask_body_limits(server: Any, default: int) -> None:
    """The same caps inside Flask (``MAX_CONTENT_LENGTH``, raised per request for a route that
    declared its own with `allow_body`), for requests that reach it without the guard (tests)."""
    from flask import request

    server.config["MAX_CONTENT_LENGTH"] = default
    limits = server.extensions.setdefault(BODY_LIMITS_KEY, {})

    @server.before_request
    def _route_body_limit() -> None:
        cap = body_limit(limits, request.path, default, referrer=request.referrer)
        if cap != default:
            request.max_content_length = cap


def body_limit(limits: dict, path: str, default: int, *, referrer: str | None = None) -> int:
    """The cap for ``path``: the longest declared prefix's (one declared for the page in
    ``referrer`` before one for every page), else ``default``."""
    from urllib.parse import urlsplit

    try:
        page = urlsplit(referrer).path if referrer else None
    except ValueError:  # a Referer that is not a URL gets no page's cap
        page = None
    best, cap = (-1, False), default
    for key, size in limits.items():
        prefix, for_page = key if isinstance(key, tuple) else (key, None)
        if for_page is not None and for_page != page:
            continue
        rank = (len(prefix), for_page is not None)
        if path.startswith(prefix) and rank > best:
            best, cap = rank, size
    return cap


def security_headers(script_hashes: Iterable[str] = ()) -> list[tuple[bytes, bytes]]:
    scripts = " ".join(script_hashes)
    csp = CSP_TEMPLATE.format(scripts=scripts).replace("'self' ;", "'self';")
    return [
        (b"content-security-policy", csp.encode()),
        (b"x-frame-options", b"DENY"),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"same-origin"),
        (b"cross-origin-opener-policy", b"same-origin"),
        (b"cross-origin-resource-policy", b"same-origin"),
        (b"permissions-policy", b"camera=(), microphone=(), geolocation=(), payment=(), usb=()"),
    ]


def split_host(value: str) -> tuple[str, str | None] | None:
    """('name or address', 'port' or None) of a Host header or an origin's netloc; None if malformed."""
    value = value.strip()
    if not value or not value.isascii() or any(ch in value for ch in " \t/\\@?#"):
        return None
    if value.startswith("["):
        end = value.find("]")
        if end < 0:
            return None
        host, rest = value[1:end], value[end + 1 :]
        if rest and not (rest.startswith(":") and rest[1:].isdigit()):
            return None
        return host.lower(), (rest[1:] or None) if rest else None
    host, sep, port = value.rpartition(":")
    if not sep:
        host, port = value, ""
    elif not (port.isascii() and port.isdigit()) or ":" in host:
        return None
    host = host.lower().rstrip(".")
    return (host, port or None) if host else None


class LocalAddresses:
    """Is an IP address one of this machine's? Binding a socket to it succeeds only if it is.

    Answers are cached for ``ttl_s`` (addresses change with DHCP), at most ``max_entries``."""

    def __init__(self, ttl_s: float = 60.0, max_entries: int = 1024):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._cache: dict[str, tuple[bool, float]] = {}
        self._lock = threading.Lock()

    def __contains__(self, text: str) -> bool:
        try:
            ip = ipaddress.ip_address(text)
        except ValueError:
            return False
        if ip.is_unspecified or ip.is_multicast:
            return False
        if ip.is_loopback:
            return True
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(text)
            if hit is not None and hit[1] > now:
                return hit[0]
        ok = _can_bind(ip)
        with self._lock:
            if len(self._cache) >= self.max_entries:
                self._cache.clear()
            self._cache[text] = (ok, now + self.ttl_s)
        return ok


def _can_bind(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as s:
            s.bind((str(ip), 0))
        return True
    except OSError:
        return False


def machine_names() -> set[str]:
    """This machine's names: localhost, its host name, the name with .local (mDNS), its FQDN."""
    names = {"localhost"}
    for name in (socket.gethostname(), _fqdn()):
        name = (name or "").lower().rstrip(".")
        if name:
            names.add(name)
            short = name.split(".", 1)[0]
            names.update({short, short + ".local"})
    return names


def _fqdn() -> str:
    try:
        return socket.getfqdn()
    except OSError:
        return ""


@dataclass
class GuardPolicy:
    """What `RequestGuard` enforces; `from_settings` builds it from ``[web]``."""

    max_body_bytes: int = 1024 * 1024
    max_headers: int = 100
    max_header_bytes: int = 16384
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    any_host: bool = False  # only for a bare app in tests that is not served to a LAN
    script_hashes: tuple[str, ...] = ()
    route_limits: dict = field(default_factory=dict)  # allow_body's declarations
    addresses: LocalAddresses = field(default_factory=LocalAddresses)
    refused: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_settings(
        cls, settings: Any, *, script_hashes: Iterable[str] = (), route_limits: dict | None = None
    ) -> GuardPolicy:
        w = settings.web
        hosts = {h.lower().rstrip(".") for h in w.allowed_hosts} | machine_names()
        if w.host not in ("", "0.0.0.0", "::"):
            hosts.add(w.host.lower().strip("[]"))
        return cls(
            max_body_bytes=w.max_body_bytes,
            max_headers=w.max_headers,
            max_header_bytes=w.max_header_bytes,
            allowed_hosts=frozenset(hosts),
            script_hashes=tuple(script_hashes),
            route_limits=route_limits if route_limits is not None else {},
        )

    def host_allowed(self, host: str) -> bool:
        return self.any_host or host in self.allowed_hosts or host in self.addresses

    def note(self, why: str) -> None:
        n = self.refused[why] = self.refused.get(why, 0) + 1
        if n == 1 or n % 100 == 0:
            log.warning("request refused (%s; %d so far)", why, n)


def _header(headers: list[tuple[bytes, bytes]], name: bytes) -> str | None:
    for key, value in headers:
        if key == name:
            return value.decode("latin-1")
    return None


def _origin_netloc(value: str) -> str | None:
    """``host[:port]`` of an Origin or Referer URL (lower case), None for "null" or junk."""
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc or "@" in parts.netloc:
        return None
    return parts.netloc.lower()


class Refusal(Exception):
    def __init__(self, status: int, message: str, why: str):
        super().__init__(message)
        self.status, self.message, self.why = status, message, why


def check_request(policy: GuardPolicy, scope: dict) -> None:
    """Raise `Refusal` for a request ``policy`` does not let through."""
    headers: list[tuple[bytes, bytes]] = scope.get("headers") or []
    if len(headers) > policy.max_headers:
        raise Refusal(431, f"too many request headers (at most {policy.max_headers})", "headers")
    size = len(scope.get("raw_path") or b"") + len(scope.get("query_string") or b"")
    size += sum(len(k) + len(v) + 4 for k, v in headers)
    if size > policy.max_header_bytes:
        raise Refusal(431, f"request head too large (at most {policy.max_header_bytes} bytes)", "head size")
    host_value = _header(headers, b"host")
    parsed = split_host(host_value) if host_value is not None else None
    if parsed is None:
        raise Refusal(400, "the request has no valid Host header", "no host")
    if not policy.host_allowed(parsed[0]):
        raise Refusal(
            421,
            f"this appliance does not answer to the name {parsed[0][:60]!r}: open it by its address or "
            "name, or add the name to [web] allowed_hosts",
            "unknown host",
        )
    method = scope.get("method", "GET")
    length = _header(headers, b"content-length")
    referrer = _header(headers, b"referer")
    cap = body_limit(
        policy.route_limits,
        scope.get("path", ""),
        policy.max_body_bytes,
        referrer=referrer.strip() if referrer is not None else None,
    )
    if length is not None:
        length = length.strip()
        if not (length.isascii() and length.isdigit()):
            raise Refusal(400, "Content-Length is not a number", "bad length")
        if int(length) > cap:
            raise Refusal(413, f"request body too large (at most {cap} bytes here)", "body too large")
    elif _header(headers, b"transfer-encoding") is not None:
        raise Refusal(411, "send the body with a Content-Length", "chunked body")
    if method in UNSAFE_METHODS:
        _check_origin(headers, host_value.strip().lower())


def _check_origin(headers: list[tuple[bytes, bytes]], own: str) -> None:
    site = _header(headers, b"sec-fetch-site")
    if site is not None and site.strip().lower() not in ("same-origin", "none"):
        raise Refusal(
            403, f"cross-site request refused ({site.strip()[:20]}): use the appliance's own page", "csrf"
        )
    origin = _header(headers, b"origin")
    if origin is not None:
        if _origin_netloc(origin) != own:
            raise Refusal(403, "cross-origin request refused: use the appliance's own page", "csrf")
        return
    referer = _header(headers, b"referer")
    if referer is not None and _origin_netloc(referer) != own:
        raise Refusal(403, "cross-origin request refused: use the appliance's own page", "csrf")


#: A refused request's body up to this size is read (and dropped) before the answer.
DRAIN_MAX_BYTES = 8 * 1024 * 1024


async def drain(receive, limit: int, timeout_s: float = 2.0) -> None:
    """Read and drop what the client sends of its body, up to about ``limit`` bytes. A refusal closes
    the connection; bytes left unread in the socket make the kernel reset it instead of closing
    it, and the client then sees "connection reset" instead of the answer."""
    got = 0
    while got <= limit:
        try:
            message = await asyncio.wait_for(receive(), timeout_s)
        except TimeoutError:
            return
        if message.get("type") != "http.request":
            return
        got += len(message.get("body", b""))
        if not message.get("more_body"):
            return


class RequestGuard:
    """The ASGI middleware: `check_request`, then the app with the security headers added."""

    def __init__(self, app: Any, *, policy: GuardPolicy):
        self.app = app
        self.policy = policy
        self.headers = security_headers(policy.script_hashes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            check_request(self.policy, scope)
        except Refusal as no:
            self.policy.note(no.why)
            length = _header(scope.get("headers", []), b"content-length") or "0"
            if length.isascii() and length.isdigit() and int(length) <= DRAIN_MAX_BYTES:
                await drain(receive, DRAIN_MAX_BYTES)  # a body past that: the connection is just closed
            await self._refuse(send, no)
            return

        async def send_with_headers(message) -> None:
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self.headers if k not in have]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _refuse(self, send, no: Refusal) -> None:
        body = json.dumps({"error": no.message}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": no.status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"cache-control", b"no-store"),
                    (b"connection", b"close"),
                    *self.headers,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
