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
MIMETYPES = {"csv": "text/csv; charset=utf-8", "json": "application/json"}
MAX_BODY = 64 * 1024


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
        res = start_session(ctx.reader, ctx.catalog.get(), data.get("player"), data.get("workout"))
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

    @server.route("/export/session/<sid>.<fmt>")
    def export_session(sid: str, fmt: str):
        from hiitpi.web.params import record_id

        session_id = record_id(sid)
        if session_id is None:
            return _error(400, f"session id must be a number, got {sid[:20]!r}")
        return _export(fmt, session_id)

    @server.route("/export/all.<fmt>")
    def export_all(fmt: str):
        return _export(fmt, None)

    def _export(fmt: str, session_id: int | None) -> Response:
        from hiitpi.store.export import export

        if not EXPORT_RE.match(fmt):
            return _error(400, f"export format must be csv or json, not {fmt[:10]!r}")
        buf = io.StringIO()
        try:
            export(ctx.store, buf, fmt=fmt, session_id=session_id)
        except NotFound as exc:
            return _error(404, str(exc))
        except InvalidInput as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        name = f"hiitpi-session-{session_id}.{fmt}" if session_id is not None else f"hiitpi-history.{fmt}"
        resp = Response(buf.getvalue(), mimetype=MIMETYPES[fmt])
        resp.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return resp


def _action(res, created: bool = False) -> Response:
    body = {"ok": res.ok, "message": res.message}
    if res.session:
        body["session"] = res.session
    if res.player:
        body["player"] = res.player
    resp = jsonify(body)
    resp.status_code = (201 if created else 200) if res.ok else 409 if "training" in res.message else 400
    return resp
