"""The live page's feed: Redis stream entries + the state hash → small JSON messages for the browser.

`LiveFeed.messages()` is a generator for one viewer (a Server-Sent Events response): it follows
the stream with ``XREAD BLOCK`` from its own cursor (never popping, so every viewer sees every
entry), and after each batch sends one message with the current state, the new chart points and
the new events. While Redis is down it sends ``{"degraded": "..."}`` once a second and retries.
`build_message` is the pure part and is tested directly.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import redis

from hiitpi.live.contract import ENTRY_EVENT, ENTRY_SAMPLE, LiveEntry, LiveState
from hiitpi.live.reader import LiveReader
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


def program_position(program: Program | None, state: dict[str, str]) -> dict[str, Any] | None:
    if program is None:
        return None
    elapsed = _f(state.get("program_elapsed")) or _f(state.get("elapsed")) or 0.0
    pos = program.position(elapsed)
    return {
        "name": program.name,
        "title": program.title,
        "round": pos.round,
        "rounds": pos.rounds,
        "kind": pos.kind,
        "workout": pos.workout,
        "remaining": round(pos.remaining_s, 1),
        "done": pos.done,
    }


def build_message(
    state: dict[str, str],
    entries: Sequence[LiveEntry],
    *,
    program: Program | None = None,
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
    msg: dict[str, Any] = {"state": st, "points": points, "events": events}
    pos = program_position(program, state)
    if pos is not None:
        msg["program"] = pos
    if newest is not None:
        msg["seq"] = newest.seq
        cap = captured_at(newest)
        if cap is not None:
            msg["captured"] = round(cap, 4)
    return msg, last_chart_t


def sse(data: dict[str, Any], event: str | None = None) -> str:
    head = f"event: {event}\n" if event else ""
    return head + "data: " + json.dumps(data, separators=(",", ":")) + "\n\n"


class LiveFeed:
    """One viewer's feed; ``programs`` maps a program name to its `Program` (for the countdown)."""

    def __init__(
        self,
        reader: LiveReader,
        programs: Callable[[], dict[str, Program]] = dict,
        *,
        block_ms: int = 1000,
        stop: Callable[[], bool] = lambda: False,
    ):
        self.reader = reader
        self.programs = programs
        self.block_ms = block_ms
        self.stop = stop

    def messages(self) -> Iterator[str]:
        cursor: str | None = None
        last_chart_t: float | None = None
        delay = 0.5
        yield "retry: 1000\n\n"
        while not self.stop():
            try:
                if cursor is None:
                    cursor = self.reader.last_id()
                    entries: list[LiveEntry] = []
                else:
                    entries = self.reader.read(cursor, block_ms=self.block_ms, count=500)
                if entries:
                    cursor = entries[-1].id
                state = self.reader.state()
            except redis.RedisError as exc:
                log.debug("live feed: Redis unavailable: %s", exc)
                cursor = None  # the stream may be gone after a restart: start from its end again
                yield sse({"degraded": "Live view degraded: the live bus (Redis) is not answering. "
                           "Reps are still counted and saved; the view comes back by itself."})  # fmt: skip
                time.sleep(delay)
                delay = min(delay * 2, 4.0)
                continue
            delay = 0.5
            prog = self.programs().get(state.get("program") or "") if state.get("program") else None
            msg, last_chart_t = build_message(state, entries, program=prog, last_chart_t=last_chart_t)
            msg["sent"] = round(time.time(), 4)  # lets the page split its latency: engine+feed vs. browser
            if entries or not msg["events"]:
                yield sse(msg)
