"""The analysis side's writer to the live bus. It never raises into the engine.

When Redis goes away the publisher marks itself degraded, drops live samples, keeps referee and
session events (up to ``backlog`` of them) and the latest state, and a background thread
reconnects with back-off. On reconnection the kept events and the state are written first, a
``status`` event says how long the bus was down, and publishing resumes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

import redis

from hiitpi.backoff import Backoff
from hiitpi.live.contract import LiveKeys, LiveState, encode_event
from hiitpi.live.redisconn import make_client
from hiitpi.redact import redact_url

log = logging.getLogger(__name__)

#: Every this many writes the whole state hash is sent, not only the fields that changed.
FULL_STATE_EVERY = 100


class LivePublisher:
    def __init__(
        self,
        url: str,
        keys: LiveKeys,
        *,
        stream_maxlen: int = 5000,
        backlog: int = 2000,
        backoff_initial_s: float = 0.2,
        backoff_max_s: float = 5.0,
    ):
        self.url = url
        self.keys = keys
        self.stream_maxlen = stream_maxlen
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._client = make_client(url)
        self._lock = threading.Lock()
        self._backlog: deque[dict[str, str]] = deque(maxlen=backlog)
        self._pending_state: dict[str, str] = {}
        # What the state hash holds as far as we know: only changed fields are sent each frame.
        self._sent_state: dict[str, str] = {}
        self._writes = 0
        self._stop = threading.Event()
        self._reconnector: threading.Thread | None = None
        self.degraded = False
        self.down_since: float | None = None
        self.reconnects = 0
        self.samples_lost = 0
        self.events_lost = 0
        self.last_error: str | None = None

    # -- engine-facing ------------------------------------------------------------------------

    def check(self) -> bool:
        """Try the connection once (at start-up); go degraded and start reconnecting if it fails."""
        try:
            self._client.ping()
            return True
        except redis.RedisError as exc:
            with self._lock:
                self._go_degraded(exc)
            return False

    def publish(
        self,
        sample: dict[str, str] | None,
        events: list[dict[str, str]] = (),  # type: ignore[assignment]
        state: LiveState | None = None,
    ) -> bool:
        """Write events, then the sample, then the state, in one round trip. Returns True when
        written; False when degraded (the sample is dropped; events and state are kept)."""
        state_fields = state.encode() if state is not None else {}
        with self._lock:
            if self.degraded:
                self._keep(events, state_fields, sample)
                return False
            self._writes += 1
            if self._writes % FULL_STATE_EVERY == 0:
                self._sent_state.clear()  # now and then the whole hash, in case it was lost or cleared
            changed = {k: v for k, v in state_fields.items() if self._sent_state.get(k) != v}
            try:
                self._write(events, sample, changed)
            except redis.RedisError as exc:
                self._sent_state.clear()
                self._go_degraded(exc)
                self._keep(events, state_fields, sample)
                return False
            self._sent_state.update(changed)
            return True

    def close(self) -> None:
        self._stop.set()
        if self._reconnector is not None:
            self._reconnector.join(timeout=3)
        self._client.close()

    @property
    def client(self) -> redis.Redis:
        return self._client

    # -- internals (called with the lock held) -------------------------------------------------

    def _write(
        self, events: list[dict[str, str]], sample: dict[str, str] | None, state: dict[str, str]
    ) -> None:
        pipe = self._client.pipeline(transaction=True)
        entries = [*events] + ([sample] if sample is not None else [])
        for fields in entries:
            pipe.xadd(self.keys.stream, fields, maxlen=self.stream_maxlen, approximate=True)
        if state:
            pipe.hset(self.keys.state, mapping=state)
        pipe.execute()

    def _keep(self, events: list[dict[str, str]], state: dict[str, str], sample: dict | None) -> None:
        if sample is not None:
            self.samples_lost += 1
        for e in events:
            if len(self._backlog) == self._backlog.maxlen:
                self.events_lost += 1
            self._backlog.append(e)
        self._pending_state.update(state)

    def _go_degraded(self, exc: Exception) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"
        if self.degraded:
            return
        self.degraded = True
        self.down_since = time.monotonic()
        log.warning(
            "live bus %s unreachable (%s); counting goes on, reconnecting with back-off",
            redact_url(self.url),
            self.last_error,
        )
        self._reconnector = threading.Thread(target=self._reconnect_loop, name="live-reconnect", daemon=True)
        self._reconnector.start()

    # -- the reconnect thread -------------------------------------------------------------------

    def _reconnect_loop(self) -> None:
        backoff = Backoff(self.backoff_initial_s, self.backoff_max_s)
        while not self._stop.wait(backoff.next()):
            try:
                self._client.ping()
            except redis.RedisError as exc:
                self.last_error = f"{type(exc).__name__}: {exc}"
                continue
            with self._lock:
                down_s = time.monotonic() - (self.down_since or time.monotonic())
                backlog = list(self._backlog)
                self.reconnects += 1
                status = encode_event(
                    "status",
                    ts=0.0,
                    wall=time.time(),
                    session=self._pending_state.get("session", ""),
                    count=int(self._pending_state.get("reps") or 0),
                    data={
                        "message": "live bus reconnected",
                        "down_s": round(down_s, 3),
                        "events_replayed": len(backlog),
                        "samples_lost": self.samples_lost,
                        "events_lost": self.events_lost,
                        "reconnects": self.reconnects,
                    },
                )
                state = dict(self._pending_state)
                state["redis_reconnects"] = str(self.reconnects)
                try:
                    self._write([*backlog, status], None, state)
                except redis.RedisError as exc:
                    self.reconnects -= 1
                    self.last_error = f"{type(exc).__name__}: {exc}"
                    continue
                self._backlog.clear()
                self._pending_state.clear()
                self._sent_state.clear()  # a restarted server may have lost the hash: send it whole
                self.degraded = False
                self.down_since = None
                log.warning(
                    "live bus %s reconnected after %.1f s: %d events replayed, %d live samples lost so far",
                    redact_url(self.url),
                    down_s,
                    len(backlog),
                    self.samples_lost,
                )
                return
