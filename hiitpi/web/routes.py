"""Plain HTTP routes beside the Dash pages: a small JSON API for the live state, start/stop and
players, and exports. (The video and the live feed are streams the event loop serves itself:
`hiitpi.web.asgi`.)

Every input is validated and answered with 4xx JSON (``{"error": "..."}``) — never a 500 — and every
route sits behind the pairing check when `hiitpi.web.auth` is installed on the same server.
"""

from __future__ import annotations

import io
import logging
import re

from flask import Flask, Response, jsonify, request

from hiitpi.store.errors import InvalidInput, NotFound, StoreError
from hiitpi.web.context import WebContext

log = logging.getLogger(__name__)

EXPORT_RE = re.compile(r"^(csv|json)$")
#: full Content-Type values (a ``mimetype`` would get a second charset from Flask)
CONTENT_TYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
MAX_BODY = 64 * 1024
#: A UTF-8 byte-order mark first in a CSV download: Excel then reads accented names right.
CSV_BOM = "\ufeff"


def _error(status: int, message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


def _form() -> dict:
    """JSON body or form fields; `InvalidInput` for anything else."""
    if request.content_length and request.content_length > MAX_BODY:
        raise InvalidInput(f"request body too large (at most {MAX_BODY} bytes)")
    if request.is_json:
        data = request.get_json(silent=True)
        if not isinstance(data, dict):
            raise InvalidInput('send a JSON object, e.g. {"player": "Ana", "workout": "squat"}')
        return data
    return request.form.to_dict()


def register_routes(server: Flask, ctx: WebContext) -> None:
    @server.route("/api/live/state")
    def live_state():
        import redis

        try:
            return jsonify(state=ctx.reader.state())
        except redis.RedisError:
            return _error(503, "live bus (Redis) unavailable")

    @server.route("/api/start", methods=["POST"])
    def api_start():
        from hiitpi.web.actions import start_session

        try:
            data = _form()
        except InvalidInput as exc:
            return _error(400, str(exc))
        res = start_session(
            ctx.reader, ctx.catalog.get(), data.get("player"), data.get("workout"), data.get("counting")
        )
        return _action(res)

    @server.route("/api/stop", methods=["POST"])
    def api_stop():
        from hiitpi.web.actions import stop_session

        return _action(stop_session(ctx.reader))

    @server.route("/api/players", methods=["GET", "POST"])
    def api_players():
        from hiitpi.store.players import list_players
        from hiitpi.web.actions import add_player

        if request.method == "GET":
            try:
                rows = list_players(ctx.store)
            except StoreError as exc:
                return _error(503, str(exc))
            return jsonify(players=[{"id": r.id, "name": r.name, "sessions": r.sessions} for r in rows])
        try:
            data = _form()
        except InvalidInput as exc:
            return _error(400, str(exc))
        res = add_player(ctx.store, data.get("name"))
        return _action(res, created=True)

    # The spreadsheet export: two tables, sessions and reps, of the whole history or of one
    # session (?session=ID); the JSON export: everything nested. See hiitpi.store.export.
    @server.route("/export/<table>.csv")
    def export_table(table: str):
        if table == "all":  # the old single-file export's address: the sessions table now
            table = "sessions"
        if table not in ("sessions", "reps"):
            return _error(404, f"no export named {table[:20]!r}: use sessions.csv or reps.csv")
        from hiitpi.web.params import record_id

        sid = request.args.get("session")
        session_id = record_id(sid) if sid is not None else None
        if sid is not None and session_id is None:
            return _error(400, f"session id must be a number, got {sid[:20]!r}")
        return _export("csv", session_id, table)

    @server.route("/export/session/<sid>.<fmt>")
    def export_session(sid: str, fmt: str):
        from hiitpi.web.params import record_id

        session_id = record_id(sid)
        if session_id is None:
            return _error(400, f"session id must be a number, got {sid[:20]!r}")
        return _export(fmt, session_id, "reps")

    @server.route("/export/all.<fmt>")
    def export_all(fmt: str):
        return _export(fmt, None, "sessions")

    def _export(fmt: str, session_id: int | None, table: str) -> Response:
        from hiitpi.store.export import export

        if not EXPORT_RE.match(fmt):
            return _error(400, f"export format must be csv or json, not {fmt[:10]!r}")
        buf = io.StringIO()
        if fmt == "csv":
            buf.write(CSV_BOM)
        try:
            export(
                ctx.store, buf, fmt=fmt, table=table, session_id=session_id, titles=ctx.catalog.get().title
            )
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidInput as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        resp = Response(buf.getvalue(), content_type=CONTENT_TYPES[fmt])
        resp.headers["Content-Disposition"] = f'attachment; filename="{export_name(fmt, table, session_id)}"'
        return resp


def export_name(fmt: str, table: str, session_id: int | None) -> str:
    """hiitpi-sessions.csv, hiitpi-reps.csv, hiitpi-session-12-reps.csv, hiitpi-session-12.json..."""
    if fmt == "json":
        return f"hiitpi-session-{session_id}.json" if session_id is not None else "hiitpi-history.json"
    return f"hiitpi-session-{session_id}-{table}.csv" if session_id is not None else f"hiitpi-{table}.csv"


def _action(res, created: bool = False) -> Response:
    body = {"ok": res.ok, "message": res.message}
    if getattr(res, "store_id", None) is not None:
        body["session"] = res.store_id  # the history's id: /session/<id>, `hiitpi summary <id>`
    if res.player:
        body["player"] = res.player
    resp = jsonify(body)
    resp.status_code = (201 if created else 200) if res.ok else 409 if "training" in res.message else 400
    return resp
