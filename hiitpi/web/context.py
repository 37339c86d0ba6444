"""What the dashboard's pages and routes share: settings, the store, the live reader, the catalogue."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hiitpi.config import Settings
from hiitpi.live.reader import LiveReader
from hiitpi.referee.catalog import CatalogLoader
from hiitpi.store.db import Store


@dataclass
class WebContext:
    settings: Settings
    store: Store
    reader: LiveReader
    catalog: CatalogLoader
    #: the engine's MJPEG broadcaster when it runs in this process (None otherwise)
    broadcaster: Callable[[], Any] = lambda: None
    #: the coach's live snapshot for a session id ({"status", "text", "kind", "source", ...}) or None
    coach_snapshot: Callable[[int], dict | None] = lambda _sid: None
    #: the chat with the coach (`hiitpi.coach.service.ChatService`); None when [coach] is off
    chat: Any = None
    #: the analysis of sent videos (`hiitpi.offline.worker.UploadWorker`: ``wake()``) when this
    #: process runs it; None: the upload page says uploads are analysed by `hiitpi serve`
    uploads: Any = None
    #: the health report (`HealthMonitor.report`) when installed
    health_report: Callable[[], dict] | None = None
    #: the summaries on the coach worker (`hiitpi.coach.summaries.Summaries`): the page asks for
    #: one (a recovered session has none); None when [coach] is off
    summaries: Any = None
    #: the engine's pose stream for teaching from the camera (`hiitpi.teach.live.PoseTap`), or None
    teach_source: Any = None
    #: taught workouts waiting to be saved (`hiitpi.web.teach.Drafts`)
    teach_drafts: Any = None
