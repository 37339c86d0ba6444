"""Videos sent from a phone: the routes the event loop serves itself (a big upload never holds a
thread nor sits in memory), the job's state for the page, and the annotated video.

- ``POST /api/uploads?player=&workout=&keep=1`` with the file as the body (``X-Upload-Name``: its
  name, URL-encoded; a cross-site form cannot send that header, so it doubles as a CSRF check, beside
  the request guard's Sec-Fetch-Site/Origin check, `hiitpi.web.guards`): refused before a byte is
  read when the Content-Length is over ``[upload] max_mb`` (the guard's cap for this route,
  `declare_body_limits`; a body without a Content-Length gets its 411), the queue is full or the
  disk would be; then streamed to ``incoming/`` in 1 MB writes on a worker thread,
  counting bytes as they come (over the limit: cut off, 413). A cut-off upload leaves nothing: its
  part file is deleted. Once whole, the file is probed (`hiitpi.offline.ingest.check_video`): not
  a video, cut off, too long → a message, and the file is gone. Else it is queued in the store
  and the worker woken. 201 with the job.
- ``GET /api/uploads`` (the latest jobs), ``GET /api/uploads/{id}`` (one, with its place in the
  queue), ``POST /api/uploads/{id}/cancel`` (a job still waiting).
- ``GET /media/session/{id}.mp4``: a session's annotated video, with byte ranges (a phone's
  ``<video>`` seeks with them); ``?download=1`` to save it.

Every answer is JSON ``{"error", "hint"}`` with a 4xx/5xx status on a problem: never a traceback.
The route is general (any video, any workout, a player): other features that take a video from a
phone can send theirs here and follow the job.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import unicodedata
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from hiitpi.web.context import WebContext

log = logging.getLogger(__name__)

UPLOAD_PATH = "/api/uploads"
WRITE_CHUNK = 1 << 20
VIDEO_EXTENSIONS = (".mp4", ".mov", ".m4v", ".3gp", ".webm", ".mkv", ".avi")
TOKEN_RE = re.compile(r"^[0-9a-f]{32}$")
NO_STORE = {"Cache-Control": "no-store"}


def _error(status: int, message: str, hint: str | None = None, **extra: Any) -> JSONResponse:
    body = {"error": message, **({"hint": hint} if hint else {}), **extra}
    return JSONResponse(body, status_code=status, headers=NO_STORE)


def clean_file_name(raw: str | None) -> str:
    """The sent file's name as shown on the page: its last path part, printable, at most 120 chars."""
    name = unquote(raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(
        ch for ch in unicodedata.normalize("NFC", name) if not unicodedata.category(ch).startswith("C")
    )
    name = name.strip().strip(".") or "video"
    if len(name) > 120:
        stem, dot, ext = name.rpartition(".")
        name = (stem[: 110 - len(ext)] + "…." + ext) if dot and len(ext) <= 8 else name[:120]
    return name


def _extension(name: str) -> str:
    ext = os.path.splitext(name)[1].lower()
    return ext if ext in VIDEO_EXTENSIONS else ".video"


class _Refused(Exception):
    def __init__(self, response: Response):
        self.response = response


def declare_body_limits(server: Any, settings: Any) -> None:
    """The request guard's body caps for these routes (`hiitpi.web.guards.allow_body`): a sent
    video up to ``[upload] max_mb`` on ``POST /api/uploads``; the job routes under it keep
    ``[web] max_body_bytes`` (they take no body)."""
    from hiitpi.offline.media import MB
    from hiitpi.web.guards import allow_body

    allow_body(server, UPLOAD_PATH, settings.upload.max_mb * MB)
    allow_body(server, UPLOAD_PATH + "/", settings.web.max_body_bytes)


def upload_routes(ctx: WebContext, paired) -> list[Route]:
    """The upload and media routes of the ASGI app (``paired(request)``: the pairing check)."""

    def settings():
        return ctx.settings

    def check_form(request: Request) -> tuple[str, str, bool, str]:
        from hiitpi.recognition import AUTO, is_auto
        from hiitpi.referee.catalog import UnknownNameError
        from hiitpi.store.errors import InvalidInput
        from hiitpi.store.players import clean_player_name

        q = request.query_params
        try:
            player = clean_player_name(q.get("player") or "")
        except InvalidInput as exc:
            raise _Refused(_error(400, str(exc), "pick a player or type a name")) from None
        name = (q.get("workout") or "").strip()
        if not name:
            raise _Refused(_error(400, "pick the workout the video shows"))
        keep = (q.get("keep") or "").lower() in ("1", "true", "yes", "on")
        file_name = clean_file_name(request.headers.get("x-upload-name"))
        if is_auto(name):  # recognised as the video is analysed
            return player, AUTO, keep, file_name
        try:
            rule = ctx.catalog.get().workout(name[:64])
        except UnknownNameError as exc:
            raise _Refused(_error(400, exc.message, exc.hint)) from None
        return player, rule.name, keep, file_name

    async def receive(request: Request) -> Response:
        from hiitpi.offline.media import MB, MediaDirs, NoSpace, check_space

        if not paired(request):
            return _error(401, "not paired", login="/login")
        up = settings().upload
        if ctx.uploads is None or not up.enabled:
            return _error(
                503,
                "videos are not analysed here",
                "uploads are analysed by the appliance (`hiitpi serve`) with [upload] enabled = true",
            )
        if "x-upload-name" not in request.headers:
            return _error(400, "send the video from the upload page (the X-Upload-Name header is missing)")
        try:
            player, workout, keep, file_name = check_form(request)
        except _Refused as r:
            return r.response
        max_bytes = up.max_mb * MB
        length_header = request.headers.get("content-length")
        length: int | None = None
        if length_header is not None:
            if not length_header.isdigit():
                return _error(400, "the Content-Length header is not a number")
            length = int(length_header)
            if length == 0:
                return _error(400, "the file is empty: nothing was sent", "pick the video again")
            if length > max_bytes:
                return _error(
                    413,
                    f"this video is {length / MB:.0f} MB; at most {up.max_mb} MB can be sent",
                    "trim it on the phone, or film at a lower resolution",
                    max_mb=up.max_mb,
                )
        dirs = MediaDirs.from_settings(settings())
        try:
            await asyncio.to_thread(dirs.ensure)
            need = (length or max_bytes) * 2  # the video, and room for its annotated copy
            await asyncio.to_thread(check_space, dirs.root, need, up.min_free_mb, "this video")
        except NoSpace as exc:
            return _error(507, exc.message, exc.hint)
        except OSError as exc:
            log.error("upload folder %s unusable: %s", dirs.root, exc)
            return _error(503, f"the upload folder cannot be written ({exc.strerror})")
        if await asyncio.to_thread(_queue_full, ctx.store, up.max_queued):
            return _error(
                429,
                f"{up.max_queued} videos are waiting for their analysis already",
                "send this one when they are done",
                retry_after=60,
            )
        token = uuid.uuid4().hex
        part = dirs.incoming / f"{token}.part"
        try:
            got = await _stream_to(request, part, max_bytes)
        except _Refused as r:
            return r.response
        if length is not None and got != length:
            await asyncio.to_thread(part.unlink, True)
            return _error(400, f"the upload was cut off ({got} of {length} bytes arrived)", "send it again")
        final = dirs.queue / f"{token}{_extension(file_name)}"
        try:
            os.replace(part, final)
            queued = await asyncio.to_thread(
                _probe_and_queue, ctx, final, token, player, workout, keep, file_name, got
            )
        except _Refused as r:
            await asyncio.to_thread(final.unlink, True)
            return r.response
        except BaseException:
            await asyncio.to_thread(final.unlink, True)
            raise
        ctx.uploads.wake()
        return JSONResponse({"upload": queued}, status_code=201, headers=NO_STORE)

    async def list_jobs(request: Request) -> Response:
        from hiitpi.store.errors import StoreError
        from hiitpi.store.uploads import list_uploads

        if not paired(request):
            return _error(401, "not paired", login="/login")
        try:
            rows = await asyncio.to_thread(list_uploads, ctx.store, limit=20)
        except StoreError as exc:
            return _error(503, str(exc))
        return JSONResponse({"uploads": [_shown(ctx, r.to_dict()) for r in rows]}, headers=NO_STORE)

    async def one_job(request: Request) -> Response:
        if not paired(request):
            return _error(401, "not paired", login="/login")
        token = request.path_params["token"]
        if not TOKEN_RE.match(token):
            return _error(404, "no such upload")
        return await asyncio.to_thread(_job_response, ctx, token)

    async def cancel_job(request: Request) -> Response:
        from hiitpi.store.errors import InvalidInput, NotFound, StoreError
        from hiitpi.store.uploads import cancel_upload

        if not paired(request):
            return _error(401, "not paired", login="/login")
        if "x-upload-name" not in request.headers and request.headers.get("x-requested-with") is None:
            return _error(400, "cancel from the upload page")
        token = request.path_params["token"]
        if not TOKEN_RE.match(token):
            return _error(404, "no such upload")
        try:
            row = await asyncio.to_thread(cancel_upload, ctx.store, token)
        except NotFound:
            return _error(404, "no such upload")
        except InvalidInput as exc:
            return _error(409, str(exc))
        except StoreError as exc:
            return _error(503, str(exc))
        return JSONResponse({"upload": row.to_dict()}, headers=NO_STORE)

    async def session_video(request: Request) -> Response:
        from hiitpi.offline.media import MediaDirs
        from hiitpi.store.errors import NotFound, StoreError
        from hiitpi.store.videosessions import session_video as lookup

        if not paired(request):
            return _error(401, "not paired", login="/login")
        from hiitpi.web.params import record_id

        sid = record_id(request.path_params["sid"])
        if sid is None:
            return _error(400, "a session number, please")
        try:
            _source, video_name, video_file = await asyncio.to_thread(lookup, ctx.store, sid)
        except NotFound:
            return _error(404, f"there is no session {sid}")
        except StoreError as exc:
            return _error(503, str(exc))
        path = MediaDirs.from_settings(settings()).videos / (video_file or "")
        if not video_file or not await asyncio.to_thread(path.is_file):
            return _error(404, "this session has no annotated video (not kept, or deleted by the retention)")
        headers = {"Cache-Control": "private, max-age=3600"}
        if request.query_params.get("download"):
            stem = Path(clean_file_name(video_name)).stem or "video"
            return FileResponse(
                path, media_type="video/mp4", filename=f"hiitpi-session-{sid}-{stem}.mp4", headers=headers
            )
        return FileResponse(path, media_type="video/mp4", headers=headers)

    return [
        Route(UPLOAD_PATH, receive, methods=["POST"]),
        Route(UPLOAD_PATH, list_jobs, methods=["GET"]),
        Route(UPLOAD_PATH + "/{token}", one_job, methods=["GET"]),
        Route(UPLOAD_PATH + "/{token}/cancel", cancel_job, methods=["POST"]),
        Route("/media/session/{sid}.mp4", session_video, methods=["GET", "HEAD"]),
    ]


async def _stream_to(request: Request, part: Path, max_bytes: int) -> int:
    """The request body into ``part``, in 1 MB writes off the loop; the bytes received. Over
    ``max_bytes`` or cut off: the part file is deleted and `_Refused` raised."""
    from hiitpi.offline.media import MB

    f = await asyncio.to_thread(open, part, "wb")
    got = 0
    buf = bytearray()
    ok = False
    try:
        async for chunk in request.stream():
            got += len(chunk)
            if got > max_bytes:
                raise _Refused(
                    _error(
                        413,
                        f"this video is larger than {max_bytes // MB} MB, the most that can be sent",
                        "trim it on the phone, or film at a lower resolution",
                    )
                )
            buf += chunk
            if len(buf) >= WRITE_CHUNK:
                data, buf = bytes(buf), bytearray()
                await asyncio.to_thread(f.write, data)
        if buf:
            await asyncio.to_thread(f.write, bytes(buf))
        ok = True
    except ClientDisconnect:
        log.info("upload %s cut off by the phone after %d bytes: nothing kept", part.stem, got)
        raise _Refused(_error(400, "the upload was cut off", "send it again")) from None
    except OSError as exc:
        log.error("upload %s: cannot write %s: %s", part.stem, part, exc)
        raise _Refused(_error(507, f"the video cannot be written to disk ({exc.strerror})")) from None
    finally:
        await asyncio.to_thread(f.close)
        if not ok:
            await asyncio.to_thread(part.unlink, True)
    return got


def _queue_full(store, max_queued: int) -> bool:
    from hiitpi.store.uploads import ACTIVE, list_uploads

    return sum(1 for u in list_uploads(store, limit=max_queued + 50) if u.status in ACTIVE) >= max_queued


def _probe_and_queue(ctx: WebContext, path: Path, token, player, workout, keep, file_name, size) -> dict:
    """On a worker thread: the probe's verdict, then the queued job (or `_Refused`)."""
    from hiitpi.offline.ingest import VideoRejected, check_video
    from hiitpi.store.errors import StoreError
    from hiitpi.store.uploads import QueueFull, add_upload, queue_position

    try:
        probe, notes = check_video(path, ctx.settings)
    except VideoRejected as exc:
        log.info("upload %s (%s) refused: %s", token, file_name, exc.message)
        raise _Refused(_error(422, exc.message, exc.hint)) from None
    try:
        row = add_upload(
            ctx.store,
            token=token,
            player=player,
            workout=workout,
            file_name=file_name,
            stored_file=path.name,
            size_bytes=size,
            keep_video=keep,
            duration_s=round(probe.duration_s, 3),
            notes=notes,
            max_queued=ctx.settings.upload.max_queued,
        )
    except QueueFull as exc:
        raise _Refused(_error(429, str(exc), retry_after=60)) from None
    except StoreError as exc:
        raise _Refused(_error(503, str(exc))) from None
    return {**row.to_dict(), "position": queue_position(ctx.store, row.id)}


def _shown(ctx: WebContext, job: dict) -> dict:
    """A job as the page shows it: with its workout's title ("Squat", "Auto mode")."""
    from hiitpi.recognition import is_auto

    workout = job.get("workout")
    job["title"] = "Auto mode" if workout and is_auto(workout) else ctx.catalog.get().title(workout)
    return job


def _job_response(ctx: WebContext, token: str) -> Response:
    from hiitpi.store.errors import NotFound, StoreError
    from hiitpi.store.uploads import get_upload, queue_position

    try:
        row = get_upload(ctx.store, token)
        body = _shown(ctx, row.to_dict())
        body["position"] = queue_position(ctx.store, row.id) if row.status == "queued" else 0
    except NotFound:
        return _error(404, "no such upload")
    except StoreError as exc:
        return _error(503, str(exc))
    return JSONResponse({"upload": body}, headers=NO_STORE)
