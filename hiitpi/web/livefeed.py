"""The live page's feed: Redis stream entries + the state hash → small JSON messages for the browser.

`LiveHub` reads the stream once for every open live page (in the web server's event loop, with
no thread per viewer) and fans each message out; a new viewer, a slow one and every viewer after a
Redis outage get a *sync* message with the running session's reps so far. `build_message` and
`history_points` are the pure parts and are tested directly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from hiitpi.live.contract import ENTRY_EVENT, ENTRY_SAMPLE, LiveEntry, LiveKeys, LiveState
from hiitpi.referee.catalog import Catalog, phase_title, pretty_name
from hiitpi.referee.programs import Program

log = logging.getLogger(__name__)

#: Chart points per second sent to a browser (every frame's number still goes out).
CHART_POINTS_PER_S = 5.0
#: Stage names the engine may use for the pose model's time.
INFER_STAGES = ("pose", "infer", "inference", "model")
EVENT_KINDS = ("rep", "no_rep", "fault", "session_start", "session_stop", "status")


def _f(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None


def infer_ms(stages: dict[str, float]) -> float | None:
    for k in INFER_STAGES:
        if k in stages:
            return float(stages[k])
    return None


def captured_at(sample: LiveEntry) -> float | None:
    """Unix time the sample's frame was captured, if the engine says (``data``/fields ``captured``),
    else its write time minus its age."""
    if sample.wall is None:
        return None
    total_ms = sample.age_ms
    if total_ms is None:
        return sample.wall
    return sample.wall - (total_ms + (infer_ms(sample.stages) or 0.0)) / 1000.0


def _title_of(catalog: Catalog | None) -> Callable[[str], str]:
    from hiitpi.referee.programs import ANY

    base = catalog.title if catalog is not None else pretty_name
    # a free circuit's block of "any": whatever is done, recognised as auto mode does
    return lambda name: "Any workout" if name == ANY else base(name)


def program_position(
    program: Program | None, state: dict[str, str], catalog: Catalog | None = None
) -> dict[str, Any] | None:
    """Where the program is: round, the interval (work segments counted over the whole program),
    seconds left, what comes next; names as titles (``workout``/``next`` stay the rules names)."""
    if program is None:
        return None
    title = _title_of(catalog)
    elapsed = _f(state.get("program_elapsed")) or _f(state.get("elapsed")) or 0.0
    pos = program.position(elapsed)
    seg = pos.segment
    works = program.work_segments
    done_works = sum(1 for w in works if w.start_s <= seg.start_s)
    after = program.timeline[seg.index + 1] if seg.index + 1 < len(program.timeline) else None
    if after is None:
        nxt = "the end"
    elif after.kind == "rest":
        nxt = f"rest {after.duration_s:g} s"
    else:
        nxt = title(after.workout)
    return {
        "name": program.name,
        "title": program.title,
        "round": pos.round,
        "rounds": pos.rounds,
        "kind": pos.kind,
        "workout": pos.workout,
        "workout_title": title(pos.workout),
        "interval": max(1, done_works),
        "intervals": len(works),
        "next": None if after is None else "rest" if after.kind == "rest" else after.workout,
        "next_title": nxt,
        "remaining": round(pos.remaining_s, 1),
        "duration": seg.duration_s,
        "done": pos.done,
    }


def labels(live: LiveState, catalog: Catalog | None = None) -> dict[str, str]:
    """What the page reads instead of internal names: the session's title (the program's, else
    the workout's), the current workout's and the phase's."""
    title = _title_of(catalog)
    if live.program or live.workout:
        what = title(live.program or live.workout)
    else:
        what = "Auto mode" if live.auto else ""  # auto mode before its first recognised rep
    return {
        "what": what,
        "workout": title(live.workout) if live.workout else "",
        "phase": "Rest" if live.phase == "rest" else phase_title(live.phase),
        # auto mode: the recognised workout and the correction choices, by title
        "recognised": title(live.recognised) if live.recognised else "",
    }


def build_message(
    state: dict[str, str],
    entries: Sequence[LiveEntry],
    *,
    program: Program | None = None,
    catalog: Catalog | None = None,
    last_chart_t: float | None = None,
    chart_every_s: float = 1.0 / CHART_POINTS_PER_S,
) -> tuple[dict[str, Any], float | None]:
    """One browser message from the state hash and the entries read since the last one.

    Returns (message, the time of the last chart point sent) so the caller can thin chart points
    to ``CHART_POINTS_PER_S`` while numbers still update on every frame.
    """
    live = LiveState.decode(state)
    st = live.encode()
    session = live.session
    elapsed = live.elapsed if st["elapsed"] else None
    samples = [e for e in entries if e.type == ENTRY_SAMPLE and (not session or e.session == session)]
    newest = samples[-1] if samples else None
    # seconds into the session for a referee timestamp: the newest sample is at `elapsed`
    offset = (
        (newest.ts - elapsed)
        if (newest is not None and newest.ts is not None and elapsed is not None)
        else None
    )

    def rel(ts: float | None) -> float | None:
        if ts is None or offset is None:
            return None
        return round(ts - offset, 3)

    points = []
    for s in samples:
        t = rel(s.ts)
        if t is None or (last_chart_t is not None and t - last_chart_t < chart_every_s and t >= last_chart_t):
            continue
        ms = infer_ms(s.stages)
        points.append(
            [t, None if s.score is None else round(s.score, 3), None if ms is None else round(ms, 2)]
        )
        last_chart_t = t
    events = []
    for e in entries:
        if e.type != ENTRY_EVENT or e.kind not in EVENT_KINDS:
            continue
        ev = {"kind": e.kind, "count": e.count, "session": e.session, "t": rel(e.ts)}
        if e.kind in ("rep", "no_rep"):
            ev["dur"] = _duration(e.data)
        if e.kind == "rep" and e.data.get("extra", {}).get("full") is False:
            ev["partial"] = True
        if e.kind in ("rep", "no_rep") and e.data.get("similarity") is not None:
            ev["similarity"], ev["deviation"] = e.data["similarity"], e.data.get("deviation")
        if e.kind in ("no_rep", "fault"):
            ev["reason"] = e.data.get("reason") or ("no-rep" if e.kind == "no_rep" else "form fault")
        elif e.kind in ("session_start", "session_stop"):
            ev["player"] = e.data.get("player")
            ev["workout"] = e.data.get("workout")
        elif e.kind == "status":
            ev["message"] = e.data.get("message")
        events.append(ev)
    msg: dict[str, Any] = {"state": st, "labels": labels(live, catalog), "points": points, "events": events}
    pos = program_position(program, state, catalog)
    if pos is not None:
        msg["program"] = pos
    if newest is not None:
        msg["seq"] = newest.seq
        msg["score"] = None if newest.score is None else round(newest.score, 2)
        cap = captured_at(newest)
        if cap is not None:
            msg["captured"] = round(cap, 4)
    return msg, last_chart_t


def sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"


DEGRADED = (
    "Live view degraded: the live bus (Redis) is not answering. "
    "Reps are still counted and saved; the view comes back by itself."
)
WAITING = "Live view degraded: the live bus is back; waiting for the engine to reconnect to it."
#: Put in a viewer's queue instead of messages it could not take in time: it gets a fresh sync.
RESYNC = b""


def _duration(data: dict[str, Any]) -> float | None:
    try:
        return round(float(data["t_end"]) - float(data["t_start"]), 3)
    except (KeyError, TypeError, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class StoredRep:
    """One attempt of a running session as the store has it (``t_end`` in the referee clock)."""

    t_end: float
    valid: bool
    duration_s: float | None = None
    reason: str | None = None


def history_points(
    stored: Sequence[StoredRep],
    recent: Sequence[LiveEntry],
    session: str,
    t0: float,
    total: int | None = None,
) -> list[list[Any]]:
    """The session's attempts so far, for the live charts: ``[seconds into the session, the
    session's count after it, its duration, 1 (counted) or 0 (a no-rep), the no-rep's reason]``.
    The ones in the store and the ones still only in the stream (the store writes in batches) are
    each taken once. The count runs over the whole session (every interval of a program); with
    ``total`` (the state's count now) the newest counted rep is ``total`` even when the store is
    behind and only the stream's tail is known. Pure: tested directly."""
    seen: dict[tuple[float, int], tuple[float | None, str | None]] = {
        (round(r.t_end, 3), int(r.valid)): (r.duration_s, r.reason) for r in stored
    }
    for e in recent:
        if e.type != ENTRY_EVENT or e.kind not in ("rep", "no_rep") or e.session != session or e.ts is None:
            continue
        key = (round(e.ts, 3), int(e.kind == "rep"))
        seen.setdefault(key, (_duration(e.data), e.data.get("reason") or "no-rep" if not key[1] else None))
    counted = sum(ok for _t, ok in seen)
    n = max(0, (total if total is not None else counted) - counted)
    out: list[list[Any]] = []
    for (t, ok), (dur, why) in sorted(seen.items()):
        n += ok
        out.append([round(t - t0, 3), n, None if dur is None else round(dur, 3), ok, why if not ok else None])
    return out


def stored_reps(store: Any, store_id: int) -> list[StoredRep]:
    """Every attempt of a session in the store, in order: what the live charts show for the time
    a viewer was not watching (or Redis was away)."""
    from hiitpi.store.queries import session_detail

    return [
        StoredRep(r.t_end, r.valid, round(r.t_end - r.t_start, 3), r.reason)
        for r in session_detail(store, store_id).reps
    ]


@dataclass(eq=False)
class Viewer:
    """One open live page: a bounded queue of messages the hub fills."""

    queue: asyncio.Queue
    resyncs: int = 0


class LiveHub:
    """The live bus read once for every open live page, in the web server's event loop.

    `run` is the one reader: ``XREAD BLOCK`` from its own cursor (never popping, so other readers
    are unaffected), then one message per batch — the state, the new chart points (thinned to
    ``CHART_POINTS_PER_S``), the new events — serialised once and put in every viewer's queue. A
    viewer gets first a *sync* message: the state and the running session's reps so far
    (``history``, from the store and the stream's tail), so its chart starts complete. A viewer
    whose queue is full (a slow phone) loses its queued messages and gets a fresh sync instead.
    While Redis is down every viewer gets ``{"degraded": ...}`` once a second; when it is back
    (and the engine has written its state again) every viewer gets a sync: the reps counted
    meanwhile appear on the chart from the store, not as a flat line and a jump.
    """

    def __init__(
        self,
        url: str,
        keys: LiveKeys,
        *,
        programs: Callable[[], dict[str, Program]] = dict,
        catalog: Callable[[], Catalog] | None = None,
        session_reps: Callable[[int], list[StoredRep]] | None = None,
        block_ms: int = 1000,
        queue_size: int = 64,
        max_viewers: int = 200,
        recent: int = 300,
    ):
        self.url = url
        self.keys = keys
        self.programs = programs
        self.catalog = catalog
        self.session_reps = session_reps
        self.block_ms = block_ms
        self.queue_size = queue_size
        self.max_viewers = max_viewers
        self.recent = recent
        self.viewers: set[Viewer] = set()
        self.down: str | None = None
        self.messages_sent = 0
        self._client = None
        self._wake: asyncio.Event | None = None

    # -- viewers --------------------------------------------------------------------------------

    def subscribe(self) -> Viewer | None:
        """A new viewer, or None when ``max_viewers`` pages are open already."""
        if len(self.viewers) >= self.max_viewers:
            return None
        v = Viewer(asyncio.Queue(self.queue_size))
        self.viewers.add(v)
        if self._wake is not None:
            self._wake.set()
        return v

    def unsubscribe(self, viewer: Viewer) -> None:
        self.viewers.discard(viewer)

    async def stream(self, viewer: Viewer) -> AsyncIterator[bytes]:
        """What one viewer's Server-Sent Events response sends, until the hub stops."""
        try:
            yield b"retry: 1000\n\n"
            yield await self.sync()
            while True:
                item = await viewer.queue.get()
                if item is None:
                    return
                yield (await self.sync()) if item is RESYNC else item
        finally:
            self.unsubscribe(viewer)

    def _broadcast(self, data: bytes | None) -> None:
        for v in list(self.viewers):
            try:
                v.queue.put_nowait(data)
            except asyncio.QueueFull:  # a slow phone: forget what it missed, send it the whole picture
                while not v.queue.empty():
                    v.queue.get_nowait()
                v.resyncs += 1
                v.queue.put_nowait(RESYNC if data is not None else None)
        if data:
            self.messages_sent += 1

    # -- the sync message -----------------------------------------------------------------------

    async def sync(self) -> bytes:
        """The state and the session's reps so far (the running one, else the one that ended: its
        result card stands beside its charts), or why there is nothing to show."""
        client = self._connect()
        for attempt in (1, 2):  # a second try: the first may get a pooled connection Redis closed
            try:
                state = _text(await client.hgetall(self.keys.state))
                raw = await client.xrevrange(self.keys.stream, count=self.recent)
                break
            except redis.RedisError:
                if attempt == 2:
                    return sse({"degraded": DEGRADED}).encode()
        recent = [LiveEntry.decode(i, f) for i, f in raw]
        if self.down is not None:
            return sse({"degraded": WAITING if not state else DEGRADED}).encode()
        msg, _ = build_message(state, [], program=self._program(state), catalog=self._catalog())
        live = LiveState.decode(state)
        if live.session and live.t0 is not None:
            stored: list[StoredRep] = []
            if live.store_id is not None and self.session_reps is not None:
                try:
                    stored = await asyncio.to_thread(self.session_reps, live.store_id)
                except Exception as exc:  # the history page says why; the live view goes on
                    log.warning("live feed: no stored reps for session %s: %s", live.store_id, exc)
            msg["history"] = {
                "session": live.session,
                "reps": history_points(stored, recent[::-1], live.session, live.t0, live.total_reps),
            }
        msg["sent"] = round(time.time(), 4)
        return sse(msg).encode()

    # -- the reader -----------------------------------------------------------------------------

    def _connect(self):
        if self._client is None:
            from hiitpi.live.redisconn import make_async_client

            self._client = make_async_client(
                self.url, timeout_s=self.block_ms / 1000 + 2.0, max_connections=4
            )
        return self._client

    def _program(self, state: dict[str, str]) -> Program | None:
        name = state.get("program") or ""
        if not name:
            return None
        cat = self._catalog()
        return cat.programs.get(name) if cat is not None else self.programs().get(name)

    def _catalog(self) -> Catalog | None:
        if self.catalog is None:
            return None
        try:
            return self.catalog()
        except Exception as exc:  # the rules folder is read by the page too: it says what is wrong
            log.warning("live feed: no catalogue for titles: %s", exc)
            return None

    async def run(self, stopping: asyncio.Event) -> None:
        """Read the live bus and fan it out until ``stopping`` is set; idle while nobody watches."""
        from hiitpi.backoff import Backoff

        self._wake = asyncio.Event()
        client = self._connect()
        backoff = Backoff(0.25, 2.0)
        cursor: str | None = None
        last_chart_t: float | None = None
        try:
            while not stopping.is_set():
                if not self.viewers:
                    self._wake.clear()
                    cursor = None
                    await _wait_either(self._wake, stopping, 1.0)
                    continue
                try:
                    if cursor is None:
                        last = await client.xrevrange(self.keys.stream, count=1)
                        cursor = _text_id(last[0][0]) if last else "0-0"
                        entries: list[LiveEntry] = []
                    else:
                        res = await client.xread({self.keys.stream: cursor}, count=500, block=self.block_ms)
                        entries = [LiveEntry.decode(i, f) for i, f in res[0][1]] if res else []
                    if entries:
                        cursor = entries[-1].id
                    state = _text(await client.hgetall(self.keys.state))
                except redis.RedisError as exc:
                    if self.down is None:
                        log.warning("live feed: the live bus is not answering (%s); viewers are told", exc)
                    self.down, cursor = str(exc), None  # the stream may be new after a restart
                    self._broadcast(sse({"degraded": DEGRADED}).encode())
                    await _wait_either(stopping, stopping, backoff.next())
                    continue
                backoff.reset()
                if self.down is not None:
                    if not state:  # a new Redis the engine has not written to yet
                        self._broadcast(sse({"degraded": WAITING}).encode())
                        await _wait_either(stopping, stopping, 0.5)
                        continue
                    log.info("live feed: the live bus is back; every viewer gets the session so far")
                    self.down, last_chart_t = None, None
                    self._broadcast(await self.sync())  # the same sync for all, read once
                    continue
                msg, last_chart_t = build_message(
                    state,
                    entries,
                    program=self._program(state),
                    catalog=self._catalog(),
                    last_chart_t=last_chart_t,
                )
                msg["sent"] = round(time.time(), 4)  # the page splits its latency: engine+feed | browser
                if entries or not msg["events"]:
                    self._broadcast(sse(msg).encode())
        finally:
            self._broadcast(None)  # every viewer's stream ends
            self._client = None
            await client.aclose()


def _text(raw: dict) -> dict[str, str]:
    return {_text_id(k): _text_id(v) for k, v in raw.items()}


def _text_id(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def _wait_either(a: asyncio.Event, b: asyncio.Event, timeout_s: float) -> None:
    """Until ``a`` or ``b`` is set, at most ``timeout_s``."""
    waits = {asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())}
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
