"""The analysis side's writer to the live bus. It never raises into the engine.

What goes out, and when: events at once, always; a sample at most ``sample_fps`` times a second
(what viewers read: the page's chart; `sample_due` says whether this frame's is wanted),
and with every frame that has events, so a reader sees a rep beside its frame; of the state only
the fields that changed, at once, except the clocks and counters of
`hiitpi.live.contract.VOLATILE_FIELDS`, which ride along with the next sample or event. One
round trip per write: the state hash first, then the entries (a reader woken by an entry finds a
state at least as new); MULTI/EXEC only when events are in it, so a reader never sees an event
without its sample and state; a plain pipeline otherwise.

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
from hiitpi.live.contract import (
    STATE_FIELD_NAMES,
    VOLATILE_FIELDS,
    LiveKeys,
    LiveState,
    encode_event,
    encode_state_value,
    state_values,
)
from hiitpi.live.redisconn import OneInFlight, make_client
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
        sample_fps: float = 0.0,
    ):
        self.url = url
        self.keys = keys
        self.stream_maxlen = stream_maxlen
        #: Seconds between samples (0: every frame's).
        self.sample_every_s = 1.0 / sample_fps if sample_fps > 0 else 0.0
        self._next_sample_at = 0.0
        self.backoff_initial_s = backoff_initial_s
        self.backoff_max_s = backoff_max_s
        self._client = make_client(url)
        self._writer = OneInFlight(self._client)
        self._sample_in_flight = False  # the last write had a sample whose reply is not read yet
        self._maxlen = str(stream_maxlen)
        self._lock = threading.Lock()
        self._backlog: deque[dict[str, str]] = deque(maxlen=backlog)
        self._pending_state: dict[str, str] = {}
        # What the state hash holds as far as we know (encoded, and the values they came from):
        # only changed fields are sent.
        self._sent_state: dict[str, str] = {}
        self._sent_values: tuple | None = None
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

    def sample_due(self, now: float | None = None) -> bool:
        """Whether a sample written now would be on time (``sample_fps``); the caller builds one
        only then. ``now`` is ``time.monotonic()``."""
        if not self.sample_every_s:
            return True
        return (time.monotonic() if now is None else now) >= self._next_sample_at

    def publish(
        self,
        sample: dict[str, str] | None,
        events: list[dict[str, str]] = (),  # type: ignore[assignment]
        state: LiveState | None = None,
    ) -> bool:
        """Write what changed of the state, the events and the sample, in one round trip.

        Returns True when something was written (with events: known to be in Redis; without:
        handed to the connection, its reply read at the next write); False when there was nothing worth a write
        (no sample, no event, only `VOLATILE_FIELDS` moved: they go with the next write) or the
        bus is down (degraded: the sample is dropped; events and state are kept)."""
        with self._lock:
            if self.degraded:
                self._keep(events, state.encode() if state is not None else {}, sample)
                return False
            values = state_values(state) if state is not None else None
            changed = self._changes(values) if values is not None else {}
            if sample is None and not events and VOLATILE_FIELDS.issuperset(changed):
                return False
            self._writes += 1
            if values is not None and self._writes % FULL_STATE_EVERY == 0:
                # now and then the whole hash, in case it was lost or cleared
                changed = dict(zip(STATE_FIELD_NAMES, map(encode_state_value, values), strict=True))
            try:
                self._write(events, sample, changed)
            except redis.RedisError as exc:
                if self._sample_in_flight:  # the last write's sample went into a dead connection
                    self.samples_lost += 1
                    self._sample_in_flight = False
                self._forget_sent()
                self._go_degraded(exc)
                self._keep(events, state.encode() if state is not None else {}, sample)
                return False
            self._sent_state.update(changed)
            if values is not None:
                self._sent_values = values
            if sample is not None and self.sample_every_s:
                self._sample_written(time.monotonic())
            return True

    def _sample_written(self, now: float) -> None:
        """Move the sample schedule on (a sample sent early, with events, does not move it)."""
        every = self.sample_every_s
        if now < self._next_sample_at:
            return
        due = self._next_sample_at + every  # keeps the average rate under frame-time jitter ...
        self._next_sample_at = due if due > now - every else now + every  # ... and restarts after a pause

    def _changes(self, values: tuple) -> dict[str, str]:
        """The encoded fields whose value differs from what the hash holds: values are compared
        first (one C-level comparison each), only the ones that differ are encoded."""
        last = self._sent_values
        sent = self._sent_state
        if last is None:
            encoded = map(encode_state_value, values)
            return {k: v for k, v in zip(STATE_FIELD_NAMES, encoded, strict=True) if sent.get(k) != v}
        changed = {}
        for name, value, old in zip(STATE_FIELD_NAMES, values, last, strict=True):
            if value is not old and value != old:
                text = encode_state_value(value)
                if sent.get(name) != text:
                    changed[name] = text
        return changed

    def _forget_sent(self) -> None:
        self._sent_state.clear()
        self._sent_values = None

    def close(self) -> None:
        self._stop.set()
        if self._reconnector is not None:
            self._reconnector.join(timeout=3)
        with self._lock:
            self._writer.close()
        self._client.close()

    @property
    def client(self) -> redis.Redis:
        return self._client

    # -- internals (called with the lock held) -------------------------------------------------

    def _write(
        self, events: list[dict[str, str]], sample: dict[str, str] | None, state: dict[str, str]
    ) -> None:
        """One round trip: the state first, then the entries. With events: MULTI/EXEC, and the
        replies read at once (an event is known to be in Redis or kept for later). Without:
        a plain pipeline whose replies are read at the next write (`OneInFlight`)."""
        stream, cap = self.keys.stream, self._maxlen
        commands: list[tuple] = []
        if state:
            commands.append(("HSET", self.keys.state, *[x for kv in state.items() for x in kv]))
        for fields in events:
            commands.append(
                ("XADD", stream, "MAXLEN", "~", cap, "*", *[x for kv in fields.items() for x in kv])
            )
        if sample is not None:
            commands.append(
                ("XADD", stream, "MAXLEN", "~", cap, "*", *[x for kv in sample.items() for x in kv])
            )
        if not commands:
            return
        if events:
            self._writer.send([("MULTI",), *commands, ("EXEC",)], wait=True)
            self._sample_in_flight = False
        else:
            self._writer.send(commands)
            self._sample_in_flight = sample is not None

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
                self._forget_sent()  # a restarted server may have lost the hash: send it whole
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
