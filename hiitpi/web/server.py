"""The dashboard's HTTP server: uvicorn on an event loop of its own, as a part the supervisor runs.

`WebServer.start()` binds ``[web] host:port`` itself (a port in use is a `WebServerError` with
what to do, raised before anything is shown), starts a thread with a fresh event loop, and
returns once uvicorn serves on that socket: readiness is this process holding the bound socket,
not a TCP connect another listener could answer. Only then is a first start's pairing code shown. The loop runs uvicorn (with the connection limits of `hiitpi.web.connlimits`),
the live feed's one reader (`hiitpi.web.livefeed.LiveHub`) and a heartbeat; `alive()` is false
when the thread has died or the loop has not beaten for ``stall_after_s`` (something blocks it),
and the supervisor then stops the server (abandoning a stalled loop) and starts a new one.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from hiitpi.config import Settings
from hiitpi.errors import HiitpiError
from hiitpi.health import PartHealth

log = logging.getLogger(__name__)


class WebServerError(HiitpiError, RuntimeError):
    """The dashboard could not start; the message says what to do."""


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port``; `WebServerError` naming the port when it is taken."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # not SO_REUSEPORT: one owner
        if family == socket.AF_INET6 and host == "::":
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
        sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        why = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
        raise WebServerError(
            f"the dashboard cannot listen on {host}:{port} ({why}): is another program (or another "
            "hiitpi) using it?",
            "stop it, or set [web] port / --port to a free port",
        ) from exc
    return sock


class WebServer:
    """The dashboard's server as a supervised part (``start``/``stop``/``alive``/``health``)."""

    name = "web server"

    def __init__(
        self,
        settings: Settings,
        app: Any,
        *,
        sock: socket.socket | None = None,
        on_listening: Callable[[], None] | None = None,
        stall_after_s: float = 5.0,
        start_timeout_s: float = 15.0,
    ):
        from hiitpi.web.connlimits import ConnectionGuard

        self.settings = settings
        self.dash_app = app
        self.ctx = app.server.extensions["hiitpi_web"]
        self.on_listening = on_listening
        self.stall_after_s = stall_after_s
        self.start_timeout_s = start_timeout_s
        w = settings.web
        self.guard = ConnectionGuard(
            max_connections=w.max_connections,
            per_client=w.max_connections_per_client,
            head_timeout_s=w.head_timeout_s,
        )
        self.port: int | None = None
        self.policy = self.guard_policy()  # one for the server's life: its refusal counts stay
        self.hub = None
        self.last_error: str | None = None
        self.beat: float | None = None
        self._sock: socket.socket | None = None
        self._reserved = sock  # bound already (the appliance binds the port before anything starts)
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = None
        self._stopping: asyncio.Event | None = None
        self._run_id = 0  # a stalled loop left behind must not beat for the new one

    # -- the part contract ------------------------------------------------------------------------

    def start(self) -> None:
        w = self.settings.web
        self._sock, self._reserved = self._reserved or bind_socket(w.host, w.port), None
        self.port = self._sock.getsockname()[1]
        started = threading.Event()
        self.last_error = None
        self.beat = time.monotonic()
        self._run_id += 1
        self._thread = threading.Thread(
            target=self._run, args=(self._sock, started, self._run_id), name="web", daemon=True
        )
        self._thread.start()
        if not started.wait(self.start_timeout_s) or not self._thread.is_alive():
            why = self.last_error or f"it did not serve within {self.start_timeout_s:.0f} s"
            self.stop()
            raise WebServerError(f"the dashboard did not start: {why}", "see the log above")
        log.info("dashboard on http://%s:%s/ (event loop; %d page threads)", w.host, self.port, w.threads)
        gate = self.dash_app.server.extensions.get("hiitpi_auth")
        if gate is not None:
            gate.announce()  # a first start's pairing code, now that phones can use it
        if self.on_listening is not None:
            self.on_listening()

    def stop(self, timeout_s: float = 5.0) -> None:
        thread, loop = self._thread, self._loop
        if thread is not None and loop is not None and thread.is_alive():
            try:
                loop.call_soon_threadsafe(self._begin_stop)
            except RuntimeError:  # the loop has closed already
                pass
            thread.join(timeout_s if self._beating() else 0.5)
            if thread.is_alive():
                log.error("the web server's loop does not answer; abandoning it")
        if self._sock is not None:
            self._sock.close()  # a stalled loop that wakes up finds it closed and exits
        self._sock = self._thread = self._loop = self._server = None

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive() and self._beating()

    def health(self) -> PartHealth:
        data: dict[str, Any] = {
            "port": self.port,
            **self.guard.stats(),
            "refused_requests": dict(self.policy.refused),
        }
        hub = self.hub
        if hub is not None:
            data["live_viewers"] = len(hub.viewers)
        b = self.ctx.broadcaster()
        if b is not None:
            data["video_viewers"] = b.clients
        if self._thread is None:
            return PartHealth(False, self.last_error or "not started", data)
        if not self._thread.is_alive():
            return PartHealth(False, f"the server thread died: {self.last_error or 'see the log'}", data)
        if not self._beating():
            age = time.monotonic() - (self.beat or 0)
            return PartHealth(False, f"its event loop has been blocked for {age:.0f} s", data)
        return PartHealth(True, f"listening on {self.settings.web.host}:{self.port}", data)

    # -- inside the server's thread ---------------------------------------------------------------

    def _beating(self) -> bool:
        return self.beat is not None and time.monotonic() - self.beat < self.stall_after_s

    def _begin_stop(self) -> None:
        if self._stopping is not None:
            self._stopping.set()  # streams end first
        if self._server is not None:
            self._server.should_exit = True

    def _run(self, sock: socket.socket, started: threading.Event, run_id: int) -> None:
        try:
            asyncio.run(self._main(sock, started, run_id))
        except BaseException as exc:  # the thread dies: say why; the supervisor restarts the part
            if run_id == self._run_id:
                self.last_error = f"{type(exc).__name__}: {exc}"
            log.error("the web server thread died: %s: %s", type(exc).__name__, exc)

    async def _main(self, sock: socket.socket, started: threading.Event, run_id: int) -> None:
        import uvicorn

        from hiitpi.live.contract import LiveKeys
        from hiitpi.web.asgi import build_asgi
        from hiitpi.web.connlimits import guarded_protocol
        from hiitpi.web.livefeed import LiveHub, stored_reps

        s = self.settings
        ctx = self.ctx
        loop = asyncio.get_running_loop()
        self._loop = loop
        stopping = self._stopping = asyncio.Event()
        self.hub = hub = LiveHub(
            s.redis.url,
            LiveKeys(s.redis.prefix),
            catalog=ctx.catalog.get,
            session_reps=lambda sid: stored_reps(ctx.store, sid),
            max_viewers=s.web.feed_max_viewers,
        )
        broadcaster = ctx.broadcaster()
        waiters = broadcaster.attach(loop) if broadcaster is not None else None
        app = build_asgi(
            self.dash_app.server,
            ctx,
            hub=hub,
            video=waiters,
            stopping=stopping,
            threads=s.web.threads,
            policy=self.policy,
        )
        config = uvicorn.Config(
            app,
            http=guarded_protocol(self.guard),
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the client address is the socket's: no header can change it
            server_header=False,
            timeout_keep_alive=5,
            timeout_graceful_shutdown=2,
            h11_max_incomplete_event_size=s.web.max_header_bytes,  # a longer request head: 400
        )
        server = self._server = uvicorn.Server(config)
        beat = asyncio.create_task(self._heartbeat(run_id))
        reader = asyncio.create_task(hub.run(stopping))
        serving = asyncio.create_task(server.serve(sockets=[sock]))
        try:
            while not server.started and not serving.done():
                await asyncio.sleep(0.01)
            if server.started:
                started.set()
            await serving
        finally:
            stopping.set()
            if broadcaster is not None and waiters is not None:
                broadcaster.detach(waiters)
            await asyncio.wait({reader}, timeout=2.0)
            beat.cancel()
            reader.cancel()
            log.info("dashboard stopped")

    def guard_policy(self):
        """The request guards' policy (`hiitpi.web.guards`): [web] limits and allowed hosts, the
        hashes of Dash's inline scripts for the CSP, and the routes' declared body caps."""
        from hiitpi.web.guards import BODY_LIMITS_KEY, GuardPolicy

        flask_app = self.dash_app.server
        return GuardPolicy.from_settings(
            self.settings,
            script_hashes=self.dash_app.csp_hashes(),
            route_limits=flask_app.extensions.setdefault(BODY_LIMITS_KEY, {}),
        )

    async def _heartbeat(self, run_id: int) -> None:
        while run_id == self._run_id:
            self.beat = time.monotonic()
            await asyncio.sleep(0.25)
