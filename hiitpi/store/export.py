"""Export one session or the whole history as CSV (one row per rep) or JSON (nested)."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TextIO

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput
from hiitpi.store.queries import SessionDetail, iter_session_details, session_detail

log = logging.getLogger(__name__)

FORMATS = ("csv", "json")
JSON_FORMAT_NAME = "hiitpi-history"
JSON_VERSION = 1

CSV_COLUMNS = (
    "session_id",
    "player",
    "workout",
    "program",
    "status",
    "session_started_at",
    "session_ended_at",
    "session_duration_s",
    "interval_index",
    "interval_workout",
    "round",
    "rep_index",
    "valid",
    "reason",
    "t_start",
    "t_end",
    "at_s",
    "eccentric_s",
    "concentric_s",
    "rom",
    "side",
    "recorded_at",
    "similarity",
    "deviation",
)


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def _details(store: Store, session_id: int | None) -> Iterator[SessionDetail]:
    if session_id is not None:
        yield session_detail(store, session_id)  # NotFound for an unknown id
        return
    yield from iter_session_details(store)


def session_to_dict(d: SessionDetail) -> dict:
    r = d.session
    return {
        "id": r.id,
        "player": r.player,
        "workout": r.workout,
        "program": r.program,
        "status": r.status,
        "source": r.source,
        "started_at": _iso(r.started_at),
        "ended_at": _iso(r.ended_at),
        "duration_s": r.duration_s,
        "reps": r.reps,
        "no_reps": r.no_reps,
        "faults": r.faults,
        "hold_s": r.hold_s,
        "t0": d.t0,
        "summary": d.summary,
        "summary_kind": r.summary_kind,
        "summary_reason": d.summary_reason,
        "intervals": [
            {
                "index": i.index,
                "workout": i.workout,
                "round": i.round,
                "started_at": _iso(i.started_at),
                "ended_at": _iso(i.ended_at),
                "duration_s": i.duration_s,
                "reps": i.reps,
                "no_reps": i.no_reps,
                "faults": i.faults,
                "hold_s": i.hold_s,
            }
            for i in d.intervals
        ],
        "rep_log": [
            {
                "index": p.index,
                "interval_index": p.interval_index,
                "valid": p.valid,
                "reason": p.reason,
                "t_start": p.t_start,
                "t_end": p.t_end,
                "at_s": p.at_s,
                "eccentric_s": p.eccentric_s,
                "concentric_s": p.concentric_s,
                "rom": p.rom,
                "side": p.side,
                "recorded_at": _iso(p.recorded_at),
                "similarity": p.similarity,
                "deviation": p.deviation,
            }
            for p in d.reps
        ],
    }


def export(store: Store, out: TextIO, *, fmt: str = "csv", session_id: int | None = None) -> int:
    """Write one session (``session_id``) or every session to ``out``; returns sessions written.

    One session is read at a time, so the whole history never sits in memory at once.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    n = 0
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\n")
        w.writerow(CSV_COLUMNS)
        for d in _details(store, session_id):
            n += 1
            _write_csv_session(w, d)
        return n
    out.write(
        "{"
        f'"format": "{JSON_FORMAT_NAME}", "version": {JSON_VERSION}, '
        f'"exported_at": {json.dumps(_iso(datetime.now(UTC)))}, "sessions": ['
    )
    for d in _details(store, session_id):
        out.write((",\n" if n else "\n") + json.dumps(session_to_dict(d), ensure_ascii=False))
        n += 1
    out.write("\n]}\n")
    return n


def _num(v: float | None) -> str:
    return "" if v is None else repr(float(v))


def _write_csv_session(w, d: SessionDetail) -> None:
    r = d.session
    head = [
        r.id,
        r.player,
        r.workout,
        r.program or "",
        r.status,
        _iso(r.started_at),
        _iso(r.ended_at) or "",
        _num(r.duration_s),
    ]
    by_index = {i.index: i for i in d.intervals}
    if not d.reps:  # keep sessions without reps visible in the export
        w.writerow(head + [""] * (len(CSV_COLUMNS) - len(head)))
        return
    for p in d.reps:
        i = by_index[p.interval_index]
        w.writerow(
            [
                *head,
                i.index,
                i.workout,
                "" if i.round is None else i.round,
                p.index,
                int(p.valid),
                p.reason or "",
                _num(p.t_start),
                _num(p.t_end),
                _num(p.at_s),
                _num(p.eccentric_s),
                _num(p.concentric_s),
                _num(p.rom),
                p.side or "",
                _iso(p.recorded_at),
                _num(p.similarity),
                p.deviation or "",
            ]
        )
