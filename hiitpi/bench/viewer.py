"""One viewer on the video, for `hiitpi bench pipeline --viewer`: the appliance's MJPEG encoder as an
engine sink, and a ``web`` thread running an event loop that takes every part it hands out
(`MjpegBroadcaster.parts`), as the web server's loop does for a phone (what goes over the
network is the phone's business, not the Pi's CPU)."""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import Any

log = logging.getLogger(__name__)


class BenchViewer:
    def __init__(self, settings: Any):
        from hiitpi.web.mjpeg import MjpegBroadcaster

        self.video = MjpegBroadcaster.from_settings(settings)
        self.parts = 0
        self.bytes = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self.video.start()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(self._watch()), name="web-viewer", daemon=True
        )
        self._thread.start()

    async def _watch(self) -> None:
        waiters = self.video.attach(asyncio.get_running_loop())
        try:
            async for part in self.video.parts(waiters, "bench", timeout_s=0.5):
                self.parts += 1
                self.bytes += len(part)
                if self._stop.is_set():
                    return
        finally:
            self.video.detach(waiters)

    def stop(self) -> None:
        self._stop.set()
        self.video.stop()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def report(self, seconds: float) -> dict:
        return {
            "parts": self.parts,
            "fps": round(self.parts / seconds, 2) if seconds > 0 else 0.0,
            "kb_per_part": round(self.bytes / self.parts / 1024, 1) if self.parts else None,
            "encoded": self.video.encoded,
        }
