"""The dashboard as one ASGI app: the long-lived streams served by the event loop, and every page
and API route by the Dash app (Flask underneath) through a WSGI adapter.

- ``GET /video``: the MJPEG stream (`hiitpi.web.mjpeg.MjpegBroadcaster.parts`); past the full-rate
  viewers fewer frames, past the cap one still picture (``X-Hiitpi-Video: full|reduced|still``).
- ``GET /api/live/events``: Server-Sent Events from the one `hiitpi.web.livefeed.LiveHub`.
- ``GET /api/chat/jobs/{job}/events``: the coach's answer as it is written
  (`hiitpi.web.chat.asse_events`; ``Last-Event-ID`` resumes).
- ``GET /favicon.ico``, ``/_favicon.ico``, ``/robots.txt``: public, never the app shell
  (`hiitpi.web.public`).
- everything else: the Flask app on a small thread pool (``[web] threads``), so a page never waits
  for a stream and a stream never holds a thread.

The streams check the same pairing cookie as the Flask routes (`hiitpi.web.auth.cookie_is_paired`).
Limits on connections sit below this, in the server's protocol (`hiitpi.web.connlimits`);
request-level checks (header count, the Host allow-list, body limits per route, CSRF, security
headers) are `request_guards`: `hiitpi.web.guards.RequestGuard`, in front of every route.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from a2wsgi import WSGIMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from hiitpi.web.context import WebContext
from hiitpi.web.guards import GuardPolicy, RequestGuard
from hiitpi.web.livefeed import LiveHub
from hiitpi.web.mjpeg import MJPEG_MIMETYPE, FrameWaiters

log = logging.getLogger(__name__)

STREAM_HEADERS = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse(
        {"error": message, **extra}, status_code=status, headers={"Cache-Control": "no-store"}
    )


async def _until(gen: AsyncIterator[bytes], stopping: asyncio.Event) -> AsyncIterator[bytes]:
    """``gen``'s items until the server stops."""
    try:
        async for item in gen:
            yield item
            if stopping.is_set():
                return
    finally:
        await gen.aclose()


class Released(StreamingResponse):
    """A streaming response that gives back what its viewer was counted for when it ends."""

    def __init__(self, content: AsyncIterator[bytes], *, release, **kwargs: Any):
        super().__init__(content, **kwargs)
        self._release = release

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


def build_asgi(
    flask_app: Any,
    ctx: WebContext,
    *,
    hub: LiveHub,
    video: FrameWaiters | None,
    stopping: asyncio.Event,
    threads: int,
    policy: GuardPolicy | None = None,
) -> Starlette:
    """The ASGI app for one run of the server (its hub and frame waiters belong to its loop).

    ``policy``: what `request_guards` enforces (`GuardPolicy.from_settings`); None only for a bare
    app in tests that is not served to anyone."""
    from hiitpi.web.public import favicon, robots

    def paired(request: Request) -> bool:
        from hiitpi.web.auth import cookie_is_paired

        return cookie_is_paired(flask_app, request.headers.get("cookie"))

    async def video_stream(request: Request) -> Response:
        if not paired(request):
            return _error(401, "not paired", login="/login")
        b = ctx.broadcaster()
        if b is None or video is None:
            return _error(503, "no video here: the engine runs in another process or has not started")
        client = request.client.host if request.client else None
        tier = b.admit()  # counted now; released when the response is done, however it ends
        if tier == "still":
            try:
                jpeg = await b.still(video)
            finally:
                b.release(tier)
            if jpeg is None:
                return _error(503, "no picture yet: the camera has not delivered a frame")
            return Response(jpeg, media_type="image/jpeg", headers={**STREAM_HEADERS, "X-Hiitpi-Video": tier})
        return Released(
            _until(b.parts(video, client, tier=tier), stopping),
            release=lambda: b.release(tier),
            media_type=MJPEG_MIMETYPE,
            headers={**STREAM_HEADERS, "X-Hiitpi-Video": tier},
        )

    async def live_events(request: Request) -> Response:
        if not paired(request):
            return _error(401, "not paired", login="/login")
        viewer = hub.subscribe()
        if viewer is None:
            return _error(503, "too many live pages open; close one and reload", retry_after=10)
        return StreamingResponse(
            _until(hub.stream(viewer), stopping), media_type="text/event-stream", headers=STREAM_HEADERS
        )

    async def chat_events(request: Request) -> Response:
        from hiitpi.web.chat import asse_events, resume_from

        if not paired(request):
            return _error(401, "not paired", login="/login")
        job_id = request.path_params["job_id"]
        chat = getattr(ctx, "chat", None)
        job = chat.job(job_id) if chat is not None and len(job_id) <= 32 else None
        if job is None:
            return _error(404, "no such answer (it finished a while ago): ask again")
        start = resume_from(request.headers.get("last-event-id"))
        events = (text.encode() async for text in asse_events(job, start=start, stop=stopping.is_set))
        return StreamingResponse(events, media_type="text/event-stream", headers=STREAM_HEADERS)

    app = Starlette(
        routes=[
            Route("/video", video_stream, methods=["GET"]),
            Route("/api/live/events", live_events, methods=["GET"]),
            Route("/api/chat/jobs/{job_id}/events", chat_events, methods=["GET"]),
            Route("/favicon.ico", favicon, methods=["GET", "HEAD"]),
            Route("/_favicon.ico", favicon, methods=["GET", "HEAD"]),
            Route("/robots.txt", robots, methods=["GET", "HEAD"]),
        ],
        middleware=request_guards(policy),
    )
    app.router.redirect_slashes = False
    app.router.default = WSGIMiddleware(flask_app, workers=threads)  # every other path: the pages
    return app


def request_guards(policy: GuardPolicy | None) -> list[Middleware]:
    """Checks in front of every route, pages and streams alike: `hiitpi.web.guards.RequestGuard`
    (header count, Host allow-list, body limit per route, CSRF, security headers)."""
    return [] if policy is None else [Middleware(RequestGuard, policy=policy)]
