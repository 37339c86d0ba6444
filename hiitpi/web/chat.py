"""The chat with the coach on the pages: a self-contained panel, its JSON routes, its answer stream.

- `chat_panel(conv, ...)`: a card any page can place (the session page has one about its
  session, the history page one about the picked player). It holds no Dash callbacks: the
  browser script ``assets/chat.js`` finds every ``[data-chat]`` element and talks to the routes.
- Routes (behind pairing, like every route)::

      GET    /api/chat/<session|player>/<id>    {"messages": [...], "suggestions": [...]}
      POST   /api/chat/<session|player>/<id>    {"question": "..."} → 202 {"job", "events"}
      DELETE /api/chat/<session|player>/<id>    {"cleared": n}
      GET    /api/chat/jobs/<job>/events        text/event-stream: start, token, discard, done

- The answer stream is served by the web server's event loop (`hiitpi.web.asgi`), not Flask:
  `asse_events` turns a job's events into Server-Sent Events text without holding a thread while
  the model writes. Each event carries its index as ``id:``, so a browser that reconnects
  (``Last-Event-ID``) resumes where it was.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence

from dash import html
from flask import Flask, Response, jsonify, request

from hiitpi.coach.chat import kind_label
from hiitpi.coach.checked import CoachEvent
from hiitpi.coach.job import CoachJob
from hiitpi.errors import InputError
from hiitpi.store.chat import ChatMessageRow, Conversation
from hiitpi.store.errors import NotFound, StoreError

log = logging.getLogger(__name__)

MAX_BODY = 8 * 1024
#: A comment line every this many seconds keeps proxies and phones from closing a quiet stream.
KEEPALIVE_S = 10.0


# --- the panel ------------------------------------------------------------------------------------


def chat_panel(
    conv: Conversation | None,
    *,
    title: str = "Ask the coach",
    suggestions: Sequence[str] = (),
    note: str | None = None,
) -> html.Section:
    """The chat card about ``conv`` (None: a note, e.g. "pick a player", and no input)."""
    if conv is None:
        return html.Section(
            className="card chat",
            id="chat-panel",
            children=[html.H2(title), html.Div(note or "", className="msg", id="chat-note")],
        )
    return html.Section(
        className="card chat",
        id="chat-panel",
        **{"data-chat": f"/api/chat/{conv.path}"},
        children=[
            html.Div(
                className="chat-head",
                children=[
                    html.H2(title),
                    html.Button("Clear", className="btn btn-secondary btn-small chat-clear", type="button"),
                ],
            ),
            html.Div(note or "", className="sc-sub chat-note"),
            html.Div(className="chat-log", role="log", **{"aria-live": "polite"}),
            html.Div(
                className="chat-suggestions",
                children=[
                    html.Button(q, className="chip chat-suggest", type="button", **{"data-q": q})
                    for q in suggestions
                ],
            ),
            html.Div(
                className="row chat-ask",
                children=[
                    html.Label("Your question", className="sr-only", htmlFor="chat-input"),
                    html.Textarea(
                        id="chat-input",
                        className="text-input chat-input",
                        placeholder="Ask about your reps, pace, no-reps, history…",
                        maxLength=300,
                        rows=1,
                    ),
                    html.Button("Ask", className="btn btn-go chat-send", type="button"),
                ],
            ),
            html.Div("", className="msg chat-status", role="status"),
        ],
    )


# --- the answer stream --------------------------------------------------------------------------


def event_payload(ev: CoachEvent) -> dict:
    """What the browser gets for one event (the final answer's kind label, reason and facts)."""
    if ev.kind == "start":
        return {"attempt": ev.attempt, "source": ev.source}
    if ev.kind == "token":
        return {"text": ev.text}
    if ev.kind == "done":
        a = ev.result
        return {
            "kind": ev.source,
            "text": ev.text,
            "reason": getattr(a, "reason", None),
            "label": kind_label(ev.source, getattr(a, "reason", None)),
            "facts": [f.to_dict() for f in getattr(a, "facts", [])],
        }
    return {"reason": ev.text}  # discard, failed


def sse(index: int, ev: CoachEvent) -> str:
    return f"id: {index}\nevent: {ev.kind}\ndata: {json.dumps(event_payload(ev), separators=(',', ':'))}\n\n"


async def asse_events(
    job: CoachJob, *, start: int = 0, stop: Callable[[], bool] = lambda: False
) -> AsyncIterator[str]:
    """The job's events from ``start`` as Server-Sent Events, until it is done (or ``stop()``);
    for the web server's event loop (`hiitpi.web.asgi`): no thread is held while it waits."""
    yield "retry: 2000\n\n"
    async for item in job.aevents(start, keepalive_s=KEEPALIVE_S, stop=stop):
        yield ": keep-alive\n\n" if item is None else sse(*item)


def resume_from(last_event_id: str | None) -> int:
    """The index to resume a stream from after a reconnect (``Last-Event-ID`` + 1)."""
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit() and len(last_event_id) < 7:
        return int(last_event_id) + 1
    return 0


def message_dict(m: ChatMessageRow) -> dict:
    d = m.to_dict()
    if m.role == "coach":
        d["label"] = kind_label(m.kind, m.reason)
    return d


# --- routes ---------------------------------------------------------------------------------------


def _error(status: int, message: str) -> Response:
    resp = jsonify(error=message)
    resp.status_code = status
    return resp


def register_chat_routes(server: Flask, ctx) -> None:
    """The chat's routes on ``server``; ``ctx`` is the `WebContext` (``ctx.chat`` the service)."""

    def service():
        return ctx.chat

    @server.route("/api/chat/<kind>/<ident>", methods=["GET", "POST", "DELETE"])
    def chat_conversation(kind: str, ident: str):
        if kind not in ("session", "player"):
            return _error(
                404, f"no chat about {kind[:20]!r}: use /api/chat/session/ID or /api/chat/player/ID"
            )
        chat = service()
        if chat is None:
            return _error(503, "the coach is off on this appliance ([coach] enabled = false)")
        try:
            conv = Conversation.parse(kind, ident)
            if request.method == "GET":
                return jsonify(
                    messages=[message_dict(m) for m in chat.messages(conv)],
                    suggestions=chat.suggestions(conv),
                )
            if request.method == "DELETE":
                return jsonify(cleared=chat.clear(conv))
            job_id, job = chat.ask(conv, _question())
        except NotFound as exc:
            return _error(404, str(exc))
        except InputError as exc:
            return _error(400, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        resp = jsonify(job=job_id, events=f"/api/chat/jobs/{job_id}/events", status=job.snapshot().status)
        resp.status_code = 202
        return resp


def _question() -> str:
    if request.content_length and request.content_length > MAX_BODY:
        raise InputError(f"request body too large (at most {MAX_BODY} bytes)")
    data = request.get_json(silent=True) if request.is_json else request.form.to_dict()
    if not isinstance(data, dict) or "question" not in data:
        raise InputError('send {"question": "..."}')
    q = data["question"]
    if not isinstance(q, str):
        raise InputError("the question must be text")
    return q
