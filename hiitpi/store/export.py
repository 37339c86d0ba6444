"""Export the history for a spreadsheet (two CSV tables) or for a program (JSON, nested).

The CSV export is two tables that join on ``session_id``:

- **sessions**: one row per session, its totals (reps, full reps, attempts, no-reps), its time
  (the absolute UTC start and end, seconds) and its average pace;
- **reps**: one row per attempt, in order: ``result`` says ``rep`` (counted), ``no-rep`` (not
  counted, with the reason) or ``partial rep`` (counted when the session counts attempts, with
  the reason); ``rep_number`` numbers the counted reps only. Every time in it is seconds from the
  session's start (the sessions table has the start in UTC), rounded to 0.01 s.

Text a person typed (player and session names) and the referee's reasons are written so that a
spreadsheet never runs them as a formula: a cell that begins with ``=``, ``+``, ``-``, ``@``, a
tab or a carriage return gets a leading ``'`` (OWASP's advice for CSV injection), and so does one
that begins so after leading spaces or line breaks (Google Sheets trims them on import) or with the
full-width signs some Excel locales read as the same.
"""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import TextIO

from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput
from hiitpi.store.queries import RepRow, SessionDetail, iter_session_details, session_detail

log = logging.getLogger(__name__)

FORMATS = ("csv", "json")
#: The CSV tables.
TABLES = ("sessions", "reps")
JSON_FORMAT_NAME = "hiitpi-history"
JSON_VERSION = 2
#: Decimals of seconds and of paces in the CSV tables.
SECONDS_DECIMALS = 2
PACE_DECIMALS = 1

SESSION_COLUMNS = (
    "session_id",
    "name",
    "player",
    "title",
    "kind",
    "workout",
    "program",
    "counting",
    "status",
    "started_utc",
    "ended_utc",
    "duration_s",
    "work_s",
    "reps",
    "full_reps",
    "attempts",
    "no_reps",
    "faults",
    "hold_s",
    "avg_pace_per_min",
    "intervals",
)
REP_COLUMNS = (
    "session_id",
    "attempt",
    "result",
    "rep_number",
    "reason",
    "interval",
    "round",
    "workout",
    "start_s",
    "end_s",
    "duration_s",
    "down_s",
    "up_s",
    "range_pct",
    "side",
    "similarity",
    "deviation",
)
#: What a spreadsheet takes for the start of a formula (with the full-width ＝ ＋ － ＠).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")

Titles = Callable[[str], str]


def _plain(name: str) -> str:
    return name


def safe_text(value: str | None) -> str:
    """A text cell a spreadsheet shows as text, never runs as a formula."""
    if not value:
        return ""
    if value.startswith(FORMULA_START) or value.lstrip(" \n\r\t\u3000").startswith(FORMULA_START):
        return "'" + value
    return value


def _iso(dt: datetime | None) -> str | None:
    return None if dt is None else dt.astimezone(UTC).isoformat()


def _utc_cell(dt: datetime | None) -> str:
    """``YYYY-MM-DD HH:MM:SS`` in UTC: what spreadsheets read as a date and time."""
    return "" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def _sec(v: float | None) -> str:
    return "" if v is None else f"{v:.{SECONDS_DECIMALS}f}"


def _details(store: Store, session_id: int | None) -> Iterator[SessionDetail]:
    if session_id is not None:
        yield session_detail(store, session_id)  # NotFound for an unknown id
        return
    yield from iter_session_details(store)


def work_seconds(d: SessionDetail) -> float:
    """Seconds of work in a session: its intervals without their rests."""
    return sum(i.active_s for i in d.intervals) if d.intervals else d.session.duration_s


def rep_result(p: RepRow) -> str:
    """``rep``, ``no-rep`` or ``partial rep`` (counted because the session counts attempts)."""
    if not p.valid:
        return "no-rep"
    return "rep" if p.full else "partial rep"


def session_to_dict(d: SessionDetail) -> dict:
    r = d.session
    return {
        "id": r.id,
        "name": r.name,
        "player": r.player,
        "workout": r.workout,
        "program": r.program,
        "counting": r.counting or "judge",
        "status": r.status,
        "source": r.source,
        "started_at": _iso(r.started_at),
        "ended_at": _iso(r.ended_at),
        "duration_s": r.duration_s,
        "work_s": work_seconds(d),
        "reps": r.reps,
        "full_reps": r.full_reps,
        "attempts": r.attempts,
        "no_reps": r.no_reps,
        "faults": r.faults,
        "hold_s": r.hold_s,
        "avg_pace_per_min": r.avg_pace_rpm,
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
                "work_s": i.work_s,
                "reps": i.reps,
                "no_reps": i.no_reps,
                "attempts": i.attempts,
                "faults": i.faults,
                "hold_s": i.hold_s,
            }
            for i in d.intervals
        ],
        "rep_log": [
            {
                "index": p.index,
                "interval_index": p.interval_index,
                "result": rep_result(p),
                "valid": p.valid,
                "full": p.full,
                "reason": p.reason,
                "t_start": p.t_start,
                "t_end": p.t_end,
                "start_s": p.start_s,
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


def export(
    store: Store,
    out: TextIO,
    *,
    fmt: str = "csv",
    table: str = "sessions",
    session_id: int | None = None,
    titles: Titles | None = None,
) -> int:
    """Write one session (``session_id``) or every session to ``out``; returns sessions written.

    CSV writes one ``table`` (``sessions`` or ``reps``); ``titles`` turns a workout's or program's
    name into what people read (the catalogue's titles; default: the name). One session is read
    at a time, so the whole history never sits in memory at once.
    """
    if fmt not in FORMATS:
        raise InvalidInput(f"export format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if fmt == "csv" and table not in TABLES:
        raise InvalidInput(f"export table must be one of {', '.join(TABLES)}, not {table!r}")
    title = titles or _plain
    n = 0
    if fmt == "csv":
        w = csv.writer(out, lineterminator="\r\n")  # RFC 4180, what spreadsheets expect
        w.writerow(SESSION_COLUMNS if table == "sessions" else REP_COLUMNS)
        for d in _details(store, session_id):
            n += 1
            if table == "sessions":
                w.writerow(session_csv_row(d, title))
            else:
                w.writerows(rep_csv_rows(d, title))
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


def session_csv_row(d: SessionDetail, title: Titles = _plain) -> list:
    r = d.session
    pace = r.avg_pace_rpm
    return [
        r.id,
        safe_text(r.name),
        safe_text(r.player),
        safe_text(title(r.what)),
        "program" if r.program else "workout",
        r.workout,
        r.program or "",
        r.counting or "judge",
        r.status,
        _utc_cell(r.started_at),
        _utc_cell(r.ended_at),
        _sec(r.duration_s),
        _sec(work_seconds(d)),
        r.reps,
        r.full_reps,
        r.attempts,
        r.no_reps,
        r.faults,
        _sec(r.hold_s),
        "" if pace is None else f"{pace:.{PACE_DECIMALS}f}",
        len(d.intervals),
    ]


def rep_csv_rows(d: SessionDetail, title: Titles = _plain) -> Iterator[list]:
    rounds = {i.index: i.round for i in d.intervals}
    counted = 0
    for n, p in enumerate(d.reps, 1):
        counted += p.valid
        yield [
            d.session.id,
            n,
            rep_result(p),
            counted if p.valid else "",
            safe_text(p.reason),
            p.interval_index,
            "" if rounds.get(p.interval_index) is None else rounds[p.interval_index],
            safe_text(title(p.workout)),
            _sec(p.start_s),
            _sec(p.at_s),
            _sec(p.duration_s),
            _sec(p.eccentric_s),
            _sec(p.concentric_s),
            "" if p.rom is None else round(p.rom * 100),
            p.side or "",
            "" if p.similarity is None else f"{p.similarity:.{PACE_DECIMALS}f}",
            p.deviation or "",
        ]
