"""The dashboard: `create_app` builds the Dash app (Flask underneath); `hiitpi.web.server.WebServer`
serves it, with the streams, on an event loop.

For the appliance (`hiitpi.appliance`)::

    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer
    app = create_app(settings, store=store, broadcaster=lambda: video,
                     coach_snapshot=snapshot_for, coach=worker, health=monitor)
    web = WebServer(settings, app)
    web.start()          # bound and serving when it returns; WebServerError if the port is taken
    ...
    web.stop()

Everything except ``settings`` is optional: without ``store`` one is opened from the settings
(migrations applied); without ``reader`` one is made from ``[redis]``; ``broadcaster`` returns the
engine's `MjpegBroadcaster` when it runs in this process; ``coach_snapshot(session_id)`` returns
the coach's live text for a session being summarised; ``coach`` is the appliance's `CoachWorker`
(the chat queues on it and shares its model; without one, and with [coach] enabled, the
dashboard starts its own on the first question); ``summaries`` the appliance's
`hiitpi.coach.summaries.Summaries` (made on ``coach`` when not given: the session page's "Write
the summary"); ``health`` is a `HealthMonitor`; ``uploads`` the appliance's `UploadWorker`
(sent videos are queued for it); ``teach_source`` is the engine's
`hiitpi.teach.live.PoseTap` (teaching from the camera). When
`hiitpi.web.auth` / `hiitpi.web.health` exist their hooks are installed on the Flask server.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from hiitpi.config import Settings

log = logging.getLogger(__name__)

ASSETS = __file__.rsplit("/", 1)[0] + "/assets"


def create_app(
    settings: Settings,
    *,
    store=None,
    reader=None,
    broadcaster: Callable[[], Any] | None = None,
    coach_snapshot: Callable[[int], dict | None] | None = None,
    coach=None,
    health=None,
    uploads=None,
    summaries=None,
    auth: bool = True,
    teach_source=None,
):
    """The Dash app with its pages, callbacks and routes; ``app.server`` is the Flask WSGI app."""
    import dash

    from hiitpi.live.contract import LiveKeys
    from hiitpi.live.reader import LiveReader
    from hiitpi.referee.catalog import CatalogLoader
    from hiitpi.store.db import Store
    from hiitpi.web.callbacks import register_callbacks
    from hiitpi.web.chat import register_chat_routes
    from hiitpi.web.context import WebContext
    from hiitpi.web.layout import shell
    from hiitpi.web.routes import register_routes
    from hiitpi.web.teach import register_teach

    if store is None:
        store = Store.from_settings(settings)
    if reader is None:
        reader = LiveReader(settings.redis.url, LiveKeys(settings.redis.prefix))
    app = dash.Dash(
        __name__,
        title="HIIT PI",
        assets_folder=ASSETS,
        update_title=None,
        suppress_callback_exceptions=True,
        meta_tags=[
            {"name": "viewport", "content": "width=device-width, initial-scale=1, viewport-fit=cover"},
            {"name": "theme-color", "content": "#0f172a"},
        ],
    )
    app.layout = shell()
    wc = WebContext(
        settings=settings,
        store=store,
        reader=reader,
        catalog=CatalogLoader(settings.referee.rules_dir),
        broadcaster=broadcaster or (lambda: None),
        coach_snapshot=coach_snapshot or (lambda _sid: None),
    )
    wc.chat = _chat_service(settings, wc, coach)
    wc.uploads = uploads
    if summaries is None and coach is not None:  # the page can ask the worker for a summary itself
        from hiitpi.coach.summaries import Summaries

        summaries = Summaries(store, coach, titles=lambda name: wc.catalog.get().title(name))
    wc.summaries = summaries
    if coach_snapshot is None and summaries is not None:
        wc.coach_snapshot = summaries.snapshot
    wc.teach_source = teach_source  # the engine's pose stream, for teaching from the camera
    server = app.server
    from hiitpi.web.callguard import install_callback_guard
    from hiitpi.web.guards import install_flask_body_limits

    install_flask_body_limits(server, settings.web.max_body_bytes)  # the guard's caps, in Flask too
    from hiitpi.web.upload import declare_body_limits

    declare_body_limits(server, settings)  # a sent video: up to [upload] max_mb on its route
    if auth:
        _install_auth(server, settings)
    install_callback_guard(app)  # after the pairing check: an unpaired request learns nothing
    _install_health(server, settings, wc, health)
    register_routes(server, wc)
    register_chat_routes(server, wc)
    register_callbacks(app, wc)
    register_teach(app, wc)
    server.extensions["hiitpi_web"] = wc
    return app


def _chat_service(settings: Settings, wc, worker):
    """The chat on ``worker`` (else a worker of its own), or None when [coach] is off."""
    if worker is None and not settings.coach.enabled:
        return None
    from hiitpi.coach.job import CoachWorker
    from hiitpi.coach.service import ChatService

    if worker is None:
        worker = CoachWorker.from_settings(settings, session_running=wc.reader.session_running)

    return ChatService(wc.store, worker, known_workouts=lambda: wc.catalog.get().names())


def _install_auth(server, settings: Settings) -> None:
    try:
        from hiitpi.web.auth import install_auth
    except ImportError:
        log.warning("hiitpi.web.auth not available: the dashboard is open to the LAN")
        return
    install_auth(server, settings, defer_code=True)  # a first start's code: shown once the server listens


def _install_health(server, settings: Settings, wc, monitor) -> None:
    try:
        from hiitpi.web.health import default_monitor, register_health
    except ImportError:
        return
    if monitor is None:
        monitor = default_monitor(settings)
    register_health(server, monitor)
    wc.health_report = monitor.report
