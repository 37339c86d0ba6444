"""One MJPEG encoder per engine, shared by every HTTP client.

The broadcaster is one of the engine's sinks (the appliance registers it with
`Engine.add_sink`): each analysed frame reaches `MjpegBroadcaster.on_frame` (it only keeps a
reference);
an encoder thread turns the newest one into a JPEG at most ``stream_fps`` times a second, scaled
to at most ``stream_width``, with the skeleton and the count drawn on it — or, in privacy mode,
the skeleton on a black background and never the camera image. Nothing is encoded while nobody
watches. Each HTTP client gets its own generator (`stream`) that yields the newest JPEG as a
multipart part; a client that leaves is a log line.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from hiitpi.config import WebSettings
from hiitpi.pose.types import Pose

log = logging.getLogger(__name__)

BOUNDARY = "frame"
MJPEG_MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"


@dataclass(slots=True)
class Overlay:
    """What is written on the picture."""

    reps: int = 0
    workout: str = ""
    phase: str = ""
    message: str = ""


def scaled_size(width: int, height: int, max_width: int) -> tuple[int, int]:
    if width <= max_width:
        return width, height
    return max_width, max(2, round(height * max_width / width))


def render_frame(
    image: np.ndarray | None,
    pose: Pose | None,
    overlay: Overlay,
    *,
    max_width: int,
    privacy: bool,
    min_score: float = 0.2,
) -> np.ndarray:
    """The picture viewers see: scaled, skeleton drawn, count written. Pure: tests call it."""
    from hiitpi.pose.draw import draw_pose

    if image is None:
        if pose is None:
            image = np.zeros((360, 640, 3), np.uint8)
        else:
            image = np.zeros((pose.height, pose.width, 3), np.uint8)
    h, w = image.shape[:2]
    sw, sh = scaled_size(w, h, max_width)
    if privacy:
        canvas = np.zeros((sh, sw, 3), np.uint8)
    elif (sw, sh) != (w, h):
        canvas = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA)
    else:
        canvas = image.copy()
    canvas = draw_pose(canvas, pose, min_score=min_score, copy=False, antialias=False)  # 15 a second
    text = f"{overlay.reps}"
    sub = " ".join(s for s in (overlay.workout, overlay.phase, overlay.message) if s)
    scale = max(0.6, sw / 400)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, 3)
    (uw, uh), _ = cv2.getTextSize(sub, cv2.FONT_HERSHEY_SIMPLEX, scale * 0.5, 1)
    box_w, box_h = max(tw, uw) + 16, th + uh + 24
    roi = canvas[0:box_h, 0:box_w]
    roi[:] = (roi * 0.35).astype(np.uint8)
    cv2.putText(
        canvas, text, (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, (255, 255, 255), 3, cv2.LINE_AA
    )
    if sub:
        cv2.putText(
            canvas,
            sub,
            (8, th + uh + 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.5,
            (220, 220, 220),
            1,
            cv2.LINE_AA,
        )
    return canvas


class MjpegBroadcaster:
    def __init__(self, web: WebSettings, *, min_score: float = 0.2):
        self.fps = web.stream_fps
        self.max_width = web.stream_width
        self.quality = web.jpeg_quality
        self.privacy = web.privacy_mode
        self.min_score = min_score
        self.encoded = 0
        self.encode_ms = 0.0  # last encode's cost
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray | None, Pose | None, Overlay] | None = None
        self._jpeg: bytes | None = None
        self._jpeg_seq = 0
        self._clients = 0
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_settings(cls, settings) -> MjpegBroadcaster:
        """A broadcaster for ``[web]`` stream settings and the pose model's ``min_score``."""
        return cls(settings.web, min_score=settings.pose.min_score)

    # -- engine side ------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._encode_loop, name="mjpeg-encoder", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def submit(self, image: np.ndarray | None, pose: Pose | None, overlay: Overlay) -> None:
        """Offer the newest analysed frame. Cheap: keeps a reference; never waits."""
        if self._clients == 0:
            return
        with self._cond:
            self._pending = (image, pose, overlay)
            self._cond.notify_all()

    @property
    def clients(self) -> int:
        return self._clients

    # -- as an engine sink ----------------------------------------------------------------------

    name = "video"

    def on_frame(self, result) -> None:
        """An analysed frame (`hiitpi.engine.FrameResult`): offered to the encoder while anyone watches."""
        if self._clients == 0:
            return
        st = result.state
        self.submit(
            result.frame.viewing_image,
            result.pose,
            Overlay(
                reps=st.reps if st.running else 0, workout=st.workout if st.running else "", phase=st.phase
            ),
        )

    def on_session(self, change, state) -> None:
        """Session changes show in the next frame's overlay; nothing to do here."""

    # -- encoder thread ---------------------------------------------------------------------

    def _encode_loop(self) -> None:
        period = 1.0 / self.fps
        next_due = 0.0
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop.is_set(), timeout=0.5)
                if self._stop.is_set():
                    return
                item, self._pending = self._pending, None
            if item is None:
                continue
            wait = next_due - time.monotonic()
            if wait > 0:
                # Too soon: wait out the cap, then encode whatever is newest by then.
                if self._stop.wait(wait):
                    return
                with self._cond:
                    if self._pending is not None:
                        item, self._pending = self._pending, None
            next_due = max(next_due, time.monotonic()) + period
            t0 = time.perf_counter()
            picture = render_frame(
                *item[:2], item[2], max_width=self.max_width, privacy=self.privacy, min_score=self.min_score
            )
            ok, buf = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, self.quality])
            self.encode_ms = (time.perf_counter() - t0) * 1000
            if not ok:
                log.warning("JPEG encoding failed for a %s frame", picture.shape)
                continue
            with self._cond:
                self._jpeg = buf.tobytes()
                self._jpeg_seq += 1
                self.encoded += 1
                self._cond.notify_all()

    # -- HTTP side --------------------------------------------------------------------------

    def stream(self, client: str | None = None, *, timeout_s: float = 5.0) -> Iterator[bytes]:
        """Multipart parts for one HTTP client, newest frame each time; ends when the engine stops.

        Use as a Flask/WSGI response body with mimetype `MJPEG_MIMETYPE`. A frame a slow client
        misses is skipped, never queued.
        """
        name = client or f"client-{next(self._ids)}"
        with self._cond:
            self._clients += 1
            seen = 0
        log.info("video client %s connected (%d watching)", name, self._clients)
        sent = 0
        try:
            while not self._stop.is_set():
                with self._cond:
                    if not self._cond.wait_for(
                        lambda seen=seen: self._jpeg_seq != seen or self._stop.is_set(), timeout=timeout_s
                    ):
                        continue
                    if self._stop.is_set():
                        return
                    jpeg, seen = self._jpeg, self._jpeg_seq
                assert jpeg is not None
                yield (
                    f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
                    + jpeg
                    + b"\r\n"
                )
                sent += 1
        finally:
            with self._cond:
                self._clients -= 1
            log.info("video client %s left after %d frames (%d watching)", name, sent, self._clients)

    def snapshot(self, timeout_s: float = 2.0) -> bytes | None:
        """The next JPEG encoded (counts as a viewer while it waits); None if none comes in time."""
        with self._cond:
            self._clients += 1
            start = self._jpeg_seq
            try:
                if not self._cond.wait_for(lambda: self._jpeg_seq != start, timeout=timeout_s):
                    return None
                return self._jpeg
            finally:
                self._clients -= 1
