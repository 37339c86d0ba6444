"""Connection limits for the dashboard's HTTP server, before any request reaches the app.

uvicorn closes a connection left idle after a response (``timeout_keep_alive``) but has no limit
on a connection that never sends a whole request head, nor per client address. `ConnectionGuard`
adds both, and a cap on open connections that never locks newcomers out:

- a connection must send a complete request head within ``head_timeout_s`` (from its opening, or
  from the first byte of its next request), else it gets 408 and is closed: a slow-loris or an
  idle socket holds nothing for long;
- at most ``per_client`` connections from one address; past that a new one gets 503 at once;
- at most ``max_connections`` in all: past that the connection that has waited longest without a
  request is closed to make room, so idle sockets cannot fill the table; only when every
  connection is busy with a request is a newcomer refused (503).

`guarded_protocol(guard)` is the uvicorn ``http`` protocol class with those checks
(``uvicorn.Config(http=...)`` takes a class).
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from dataclasses import dataclass, field

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger(__name__)


def _plain_response(status: int, reason: str, text: str, extra: str = "") -> bytes:
    body = text.encode()
    return (
        f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode() + body


TOO_MANY_FROM_YOU = _plain_response(
    503,
    "Service Unavailable",
    "too many connections from your address; close some tabs\n",
    "Retry-After: 5\r\n",
)
SERVER_FULL = _plain_response(
    503, "Service Unavailable", "the server is busy; try again\n", "Retry-After: 5\r\n"
)
HEAD_TIMEOUT = _plain_response(408, "Request Timeout", "no complete request head in time\n")


@dataclass
class ConnectionGuard:
    """Counts and limits for one server; the protocol objects report to it."""

    max_connections: int = 400
    per_client: int = 32
    head_timeout_s: float = 10.0
    by_client: dict[str, int] = field(default_factory=dict)
    #: connections waiting for a request head, oldest first (the ones to close when full)
    idle: OrderedDict = field(default_factory=OrderedDict)
    open: int = 0
    refused: int = 0
    timed_out: int = 0
    evicted: int = 0

    def stats(self) -> dict[str, int]:
        return {
            "open": self.open,
            "clients": len(self.by_client),
            "refused": self.refused,
            "head_timeouts": self.timed_out,
            "idle_closed": self.evicted,
        }


def guarded_protocol(guard: ConnectionGuard) -> type[H11Protocol]:
    """uvicorn's h11 protocol with ``guard``'s limits."""

    class GuardedH11Protocol(H11Protocol):
        _counted = False
        _client_ip = "?"
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._client_ip = self.client[0] if self.client else "?"
            if guard.by_client.get(self._client_ip, 0) >= guard.per_client:
                self._refuse(TOO_MANY_FROM_YOU, "too many connections from this address")
                return
            if guard.open >= guard.max_connections and not self._evict_oldest_idle():
                self._refuse(SERVER_FULL, "connection refused: every connection is busy")
                return
            self._counted = True
            guard.open += 1
            guard.by_client[self._client_ip] = guard.by_client.get(self._client_ip, 0) + 1
            self._wait_for_head()

        def connection_lost(self, exc: Exception | None) -> None:
            self._head_received()
            if self._counted:
                self._counted = False
                guard.open -= 1
                left = guard.by_client.get(self._client_ip, 1) - 1
                if left > 0:
                    guard.by_client[self._client_ip] = left
                else:
                    guard.by_client.pop(self._client_ip, None)
            super().connection_lost(exc)

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if self.transport.is_closing():
                return
            if self.conn.their_state is h11.IDLE:
                if self._head_timer is None:  # the first bytes of a request head: its clock starts now
                    self._wait_for_head()
            else:
                self._head_received()

        def on_response_complete(self) -> None:
            super().on_response_complete()  # arms uvicorn's keep-alive time-out
            if not self.transport.is_closing():
                guard.idle[self] = None  # idle until the next request: first to go when full
                guard.idle.move_to_end(self)

        # -- helpers -----------------------------------------------------------------------------

        def _refuse(self, response: bytes, why: str) -> None:
            guard.refused += 1
            if guard.refused == 1 or guard.refused % 100 == 0:
                log.warning("%s: %s (%d refused so far)", self._client_ip, why, guard.refused)
            self.transport.write(response)
            self.transport.close()

        def _wait_for_head(self) -> None:
            guard.idle[self] = None
            guard.idle.move_to_end(self)
            if self._head_timer is None:
                self._head_timer = self.loop.call_later(guard.head_timeout_s, self._head_timed_out)

        def _head_received(self) -> None:
            guard.idle.pop(self, None)
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
                return
            guard.timed_out += 1
            log.debug(
                "closing a connection from %s: no request head in %.0f s",
                self._client_ip,
                guard.head_timeout_s,
            )
            guard.idle.pop(self, None)
            self.transport.write(HEAD_TIMEOUT)
            self.transport.close()

        def _evict_oldest_idle(self) -> bool:
            while guard.idle:
                oldest, _ = guard.idle.popitem(last=False)
                if oldest is self or oldest.transport.is_closing():
                    continue
                guard.evicted += 1
                oldest._head_received()
                oldest.transport.close()
                return True
            return False

    return GuardedH11Protocol
