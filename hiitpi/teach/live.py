"""Teaching from the camera: an engine sink that collects the pose stream for a few seconds.

The engine hands every analysed frame to its sinks (`hiitpi.engine.sinks`); `PoseTap` keeps the
(already smoothed) poses of the frames while a recording runs, so the person can do a few reps in
front of the camera and the dashboard teach from them (`hiitpi.teach.session.teach_demo`) without
the engine's loop knowing anything about teaching.
"""

from __future__ import annotations

import logging
import threading
import time

import numpy as np

from hiitpi.errors import InputError
from hiitpi.teach.learn import Demo

log = logging.getLogger(__name__)

#: the longest recording the page may ask for (seconds)
MAX_SECONDS = 120.0


class PoseTap:
    """``start(seconds)``, then every frame's pose is kept until that long has passed; ``status()``
    says how far it is, ``take()`` returns the demo once it is done."""

    name = "teach"

    def __init__(self):
        self._lock = threading.Lock()
        self._poses: list = []
        self._times: list[float] = []
        self._seconds = 0.0
        self._t0: float | None = None
        self._state = "idle"  # idle | recording | done
        self._started_wall = 0.0

    def start(self, seconds: float) -> None:
        if not 3.0 <= seconds <= MAX_SECONDS:
            raise InputError(
                f"record for 3 to {MAX_SECONDS:.0f} seconds, not {seconds:g}", "pick how long your reps take"
            )
        with self._lock:
            if self._state == "recording":
                raise InputError("a recording is already running", "wait for it to finish")
            self._poses, self._times = [], []
            self._seconds = float(seconds)
            self._t0 = None
            self._state = "recording"
            self._started_wall = time.monotonic()
        log.info("teach: recording the pose stream for %.0f s", seconds)

    def cancel(self) -> None:
        with self._lock:
            self._state = "idle"
            self._poses, self._times = [], []

    def on_frame(self, result) -> None:
        if self._state != "recording":
            return
        t = float(result.frame.timestamp)
        with self._lock:
            if self._state != "recording":
                return
            if self._t0 is None:
                self._t0 = t
            self._poses.append(result.pose)
            self._times.append(t)
            if t - self._t0 >= self._seconds:
                self._state = "done"
                log.info("teach: recorded %d frames", len(self._poses))

    def on_session(self, change, state) -> None:
        """(A sink's second call; a recording is of poses only, whatever the session does.)"""

    def status(self) -> dict:
        with self._lock:
            elapsed = 0.0 if self._t0 is None or not self._times else self._times[-1] - self._t0
            return {
                "state": self._state,
                "seconds": self._seconds,
                "elapsed": round(elapsed, 1),
                "frames": len(self._poses),
                "seen": sum(p is not None for p in self._poses),
                "waiting_s": round(time.monotonic() - self._started_wall, 1)
                if self._state == "recording"
                else 0.0,
            }

    def take(self) -> Demo:
        """The recorded demo (the tap goes back to idle)."""
        with self._lock:
            if self._state != "done":
                raise InputError("nothing recorded yet", "record a few reps first")
            poses, times = self._poses, self._times
            self._poses, self._times, self._state = [], [], "idle"
        fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 30.0
        return Demo(poses, np.asarray(times, dtype=float), fps, source="the camera")
