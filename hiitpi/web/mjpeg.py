"""One MJPEG encoder per engine, shared by every HTTP client.

The broadcaster is one of the engine's sinks (the appliance registers it with
`Engine.add_sink`): each analysed frame reaches `MjpegBroadcaster.on_frame` (it only keeps a
reference);
an encoder thread turns the newest one into a JPEG at most ``stream_fps`` times a second, scaled
to at most ``stream_width``, with the skeleton and the count drawn on it — or, in privacy mode,
the skeleton on a black background and never the camera image. Nothing is encoded while nobody
watches. The web server's event loop hands the JPEGs out (`parts`, an async generator per
viewer: no thread per viewer): the encoder wakes each loop once per frame (`attach`), every viewer
takes the same bytes, a slow one skips frames instead of queueing them, and past ``[web]
video_full_viewers`` a viewer gets one frame a second, past ``video_max_viewers`` one still
picture (`admit`), so another phone never slows the ones already watching.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import logging
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import cv2
import numpy as np

from hiitpi.config import WebSettings
from hiitpi.pose.types import Pose

log = logging.getLogger(__name__)

BOUNDARY = "frame"
MJPEG_MIMETYPE = f"multipart/x-mixed-replace; boundary={BOUNDARY}"
#: What a viewer past ``[web] video_full_viewers`` gets.
REDUCED_FPS = 1.0


@dataclass(slots=True, frozen=True)
class Overlay:
    """What is written on the picture."""

    reps: int = 0
    workout: str = ""
    phase: str = ""
    message: str = ""


#: Under the count the picture is darkened to 35 % (each value scaled and truncated, as
#: ``(pixel * 0.35).astype(uint8)`` would: a table of the 256 results).
_SHADE = (np.arange(256) * 0.35).astype(np.uint8)


def overlay_for(state) -> Overlay:
    """The picture's text for a live state: the session's count (every interval of a program, as
    the page shows it), the workout's and the phase's names for people (the font is ASCII only).
    Called for every analysed frame; the same count, workout and phase give the same (shared,
    not to be changed) `Overlay`."""
    if not state.running:
        return _NO_OVERLAY
    return _overlay(state.total_reps, state.workout, state.phase)


@functools.lru_cache(maxsize=64)
def _overlay(reps: int, workout: str, phase: str) -> Overlay:
    from hiitpi.referee.catalog import pretty_name

    phase = "" if phase in ("", "-") else pretty_name(phase).lower()
    return Overlay(reps=reps, workout=pretty_name(workout) if workout else "", phase=phase)


_NO_OVERLAY = Overlay()


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
    return draw_overlay(canvas, pose, overlay, min_score=min_score)


def draw_overlay(
    canvas: np.ndarray, pose: Pose | None, overlay: Overlay, *, min_score: float = 0.2
) -> np.ndarray:
    """The skeleton and the count, drawn in place on ``canvas`` (a viewer's picture, or the Pi
    camera's own buffer before its hardware encoder takes it)."""
    from hiitpi.pose.draw import draw_pose

    canvas = draw_pose(canvas, pose, min_score=min_score, copy=False, antialias=False)  # 15 a second
    sub = " ".join(s for s in (overlay.workout, overlay.phase, overlay.message) if s)
    layer = text_layer(f"{overlay.reps}", sub, max(0.6, canvas.shape[1] / 400))
    h, w = min(layer.shape[0], canvas.shape[0]), min(layer.shape[1], canvas.shape[1])
    roi = canvas[0:h, 0:w]
    cv2.LUT(roi, _SHADE, dst=roi)  # darkened in place: a table look-up, not a float copy of the box
    cv2.max(roi, layer[0:h, 0:w], dst=roi)  # the text over it, lighten-blended
    return canvas


@functools.lru_cache(maxsize=16)
def text_layer(text: str, sub: str, scale: float) -> np.ndarray:
    """The count's box with its text drawn on black (anti-aliased), the size of the box.

    The text changes at a rep or a phase, the picture 15 times a second: drawn once here, then
    laid over each darkened box with a per-pixel maximum (a text pixel is white or light grey,
    the box under it at most 35 % bright), two table-sized operations instead of drawing the
    glyphs' strokes again."""
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, 3)
    (uw, uh), _ = cv2.getTextSize(sub, cv2.FONT_HERSHEY_SIMPLEX, scale * 0.5, 1)
    layer = np.zeros((th + uh + 24, max(tw, uw) + 16, 3), np.uint8)
    cv2.putText(
        layer, text, (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, (255, 255, 255), 3, cv2.LINE_AA
    )
    if sub:
        cv2.putText(
            layer,
            sub,
            (8, th + uh + 18),
            cv2.FONT_HERSHEY_SIMPLEX,
            scale * 0.5,
            (220, 220, 220),
            1,
            cv2.LINE_AA,
        )
    layer.flags.writeable = False  # shared by every picture with this text
    return layer


class MjpegBroadcaster:
    def __init__(self, web: WebSettings, *, min_score: float = 0.2):
        self.fps = web.stream_fps
        self.max_width = web.stream_width
        self.quality = web.jpeg_quality
        self.privacy = web.privacy_mode
        self.full_viewers = web.video_full_viewers
        self.max_viewers = web.video_max_viewers
        self.min_score = min_score
        self.encoded = 0
        self.encode_ms = 0.0  # last encode's cost
        self._cond = threading.Condition()
        self._pending: tuple[np.ndarray | None, Pose | None, Overlay] | None = None
        self._latest: tuple[int, bytes | None] = (0, None)  # (sequence number, JPEG), swapped whole
        self._clients = 0
        self._full = 0
        self._waiters: list[FrameWaiters] = []
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        # the Pi camera's hardware encoder, when it makes the stream (`hiitpi.capture.picam_video`)
        self._drawn: tuple[Pose | None, Overlay] = (None, Overlay())
        self._camera_jpeg_at = -1e9
        self._camera_next_due = 0.0

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
            waiters = list(self._waiters)
        for w in waiters:
            w.notify_threadsafe()  # streams end
        if self._thread is not None:
            self._thread.join(timeout=3)

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def health(self):
        from hiitpi.health import PartHealth

        data = {"viewers": self._clients, "encoded": self.encoded, "encode_ms": round(self.encode_ms, 1)}
        if not self.alive():
            return PartHealth(False, "the video encoder thread is not running", data)
        return PartHealth(True, f"{self._clients} watching, {self.encoded} frames encoded", data)

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
        """An analysed frame (`hiitpi.engine.FrameResult`): offered to the encoder while anyone
        watches; while the camera's own encoder makes the stream, only its overlay is kept."""
        if self._clients == 0:
            return
        st = result.state
        overlay = overlay_for(st)
        self._drawn = (result.pose, overlay)
        if self.camera_encodes:
            return
        self.submit(result.frame.viewing_image, result.pose, overlay)

    # -- as the Pi camera's viewers' side (`hiitpi.capture.base.VideoTap`) ---------------------

    @property
    def camera_encodes(self) -> bool:
        """Whether the camera's hardware encoder made the stream in the last second."""
        return time.monotonic() - self._camera_jpeg_at < 1.0

    def watching(self) -> bool:
        return self._clients > 0

    def accepts_camera_jpeg(self) -> bool:
        return not self.privacy  # privacy mode: the skeleton on black, never the camera's picture

    def paint(self, picture: np.ndarray) -> None:
        """The newest frame's skeleton and count, drawn on the camera's picture before it is encoded."""
        pose, overlay = self._drawn
        draw_overlay(picture, pose, overlay, min_score=self.min_score)

    def camera_jpeg(self, data: bytes) -> None:
        """A JPEG from the camera's encoder (its thread): handed out at most ``stream_fps`` a
        second, as the CPU encoder's are; the others are dropped."""
        now = time.monotonic()
        self._camera_jpeg_at = now
        if now < self._camera_next_due:
            return
        due = self._camera_next_due + 1.0 / self.fps  # keeps the average rate ...
        self._camera_next_due = due if due > now else now + 1.0 / self.fps  # ... and restarts after a gap
        self._publish(data)

    def on_session(self, change, state) -> None:
        """Session changes show in the next frame's overlay; nothing to do here."""

    # -- encoder thread ---------------------------------------------------------------------

    def _encode_loop(self) -> None:
        period = 1.0 / self.fps
        next_due = 0.0
        while not self._stop.is_set():
            # The cap first: sleep until a picture is due, then take the newest frame (or wait for
            # the next one), so the thread wakes once a picture, not also at the frame before it.
            wait = next_due - time.monotonic()
            if wait > 0 and self._stop.wait(wait):
                return
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop.is_set(), timeout=0.5)
                if self._stop.is_set():
                    return
                item, self._pending = self._pending, None
            if item is None:
                continue
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
            self._publish(buf.tobytes())

    def _publish(self, jpeg: bytes) -> None:
        """The newest JPEG for every viewer (the CPU encoder's, or the camera's)."""
        with self._cond:
            self._latest = (self._latest[0] + 1, jpeg)
            self.encoded += 1
            waiters = list(self._waiters)
        for w in waiters:
            w.notify_threadsafe()

    # -- HTTP side (the web server's event loop) -----------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> FrameWaiters:
        """Wake coroutines on ``loop`` at each new JPEG (one thread-safe call per frame per loop)."""
        waiters = FrameWaiters(loop)
        with self._cond:
            self._waiters.append(waiters)
        return waiters

    def detach(self, waiters: FrameWaiters) -> None:
        with self._cond:
            if waiters in self._waiters:
                self._waiters.remove(waiters)

    def admit(self) -> str:
        """Count a new viewer in and say what it gets: ``full`` (every frame), ``reduced`` (one a
        second) or ``still`` (one picture). The first ``video_full_viewers`` get every frame, the
        next ones up to ``video_max_viewers`` fewer, the rest a still, so one more phone never costs
        the others. Counted at once (many phones arriving together are told apart); the caller
        gives the tier back with `release` when the viewer leaves."""
        with self._cond:
            if self._full < self.full_viewers:
                tier = "full"
            else:
                tier = "reduced" if self._clients < self.max_viewers else "still"
            self._clients += 1
            self._full += tier == "full"
            return tier

    def release(self, tier: str) -> None:
        with self._cond:
            self._clients -= 1
            self._full -= tier == "full"

    async def parts(
        self,
        waiters: FrameWaiters,
        client: str | None = None,
        *,
        tier: str | None = None,
        timeout_s: float = 5.0,
    ) -> AsyncIterator[bytes]:
        """Multipart parts for one viewer, the newest JPEG each time, until the engine stops.

        The newest picture comes at once, then each new one; a viewer whose connection is slow
        (its send waits) skips the frames it could not take, never queues them. A ``reduced``
        viewer gets at most ``REDUCED_FPS`` frames a second. Without ``tier`` the viewer is
        admitted (and released) here; with one, the caller admitted it.
        """
        name = client or f"client-{next(self._ids)}"
        own = tier is None
        tier = self.admit() if own else tier
        log.info("video client %s connected (%s rate, %d watching)", name, tier, self._clients)
        pause = 1.0 / REDUCED_FPS if tier == "reduced" else 0.0
        seen, sent = 0, 0
        try:
            while not self._stop.is_set():
                seq, jpeg = self._latest
                if seq == seen or jpeg is None:
                    await waiters.wait(timeout_s)
                    continue
                seen = seq
                yield multipart(jpeg)
                sent += 1
                if pause:
                    await asyncio.sleep(pause)
        finally:
            if own:
                self.release(tier)
            log.info(
                "video client %s left after %d frames (%d watching)", name, sent, self._clients - (not own)
            )

    async def still(self, waiters: FrameWaiters, timeout_s: float = 2.0) -> bytes | None:
        """The newest JPEG, waiting up to ``timeout_s`` for the first one (the caller has admitted
        the viewer: the encoder runs while anyone is counted)."""
        deadline = time.monotonic() + timeout_s
        while self._latest[1] is None and not self._stop.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            await waiters.wait(left)
        return self._latest[1]


def multipart(jpeg: bytes) -> bytes:
    """One part of the ``multipart/x-mixed-replace`` stream."""
    return (
        f"--{BOUNDARY}\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}\r\n\r\n".encode()
        + jpeg
        + b"\r\n"
    )


class FrameWaiters:
    """The coroutines of one event loop waiting for the next JPEG, woken together."""

    def __init__(self, loop: asyncio.AbstractEventLoop):
        self.loop = loop
        self._event = asyncio.Event()

    def notify_threadsafe(self) -> None:
        """From the encoder thread; a loop that has closed is ignored."""
        try:
            self.loop.call_soon_threadsafe(self._notify)
        except RuntimeError:
            pass

    def _notify(self) -> None:
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def wait(self, timeout_s: float) -> bool:
        """True when a new JPEG came within ``timeout_s``. (``asyncio.timeout`` around the wait in
        this task: ``wait_for`` would start a task of its own for every picture.)"""
        try:
            async with asyncio.timeout(timeout_s):
                await self._event.wait()
            return True
        except TimeoutError:
            return False
