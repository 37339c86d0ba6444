"""Video files: the one way HIIT PI opens them (`open_video`), and a file as a frame source, paced
at its own frame rate (a live demo) or as fast as possible (offline analysis, `frames()`)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from hiitpi.capture.base import EndOfStream, Frame, FrameSource, SourceError, SourceOpenError
from hiitpi.errors import InputError

log = logging.getLogger(__name__)

#: Frame rates outside this range are a broken header: 30 is assumed.
FPS_RANGE = (1.0, 240.0)


class VideoOpenError(SourceOpenError, InputError):
    """A video file that does not exist or cannot be decoded; the message says what to check."""


@dataclass
class VideoInfo:
    path: Path
    fps: float
    width: int
    height: int
    frames: int  # as the container says; may be 0 or approximate


def open_video(path: str | Path, *, ahead: bool = False) -> tuple[cv2.VideoCapture, VideoInfo]:
    """An opened OpenCV capture of a video file and what its header says. Raises `VideoOpenError`.

    ``ahead``: the file is read as fast as it decodes (offline analysis), so FFmpeg may decode the
    next frames on other cores meanwhile (`hiitpi.threadpools`: ``decoder_ahead`` threads)."""
    path = Path(path)
    if path.is_dir():
        raise VideoOpenError(f"{path} is a folder, not a video file", "pass the path of a video file in it")
    if not path.is_file():
        raise VideoOpenError(f"video file {path} does not exist", "pass the path of a video file")
    from hiitpi import threadpools

    # FFmpeg's decoder threads are sized here, per file (`hiitpi.threadpools`)
    plan = threadpools.current()
    threads = plan.decoder_ahead if ahead else plan.decoder
    cap = cv2.VideoCapture(str(path), cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, threads])
    if not cap.isOpened():
        cap.release()
        raise VideoOpenError(
            f"cannot decode video file {path}", f"is it a video? check that it plays with `ffprobe {path}`"
        )
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    if not (FPS_RANGE[0] <= fps <= FPS_RANGE[1]):
        log.warning("video %s reports %.3f fps; assuming 30", path, fps)
        fps = 30.0
    info = VideoInfo(
        path,
        fps,
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT)),
        max(0, int(cap.get(cv2.CAP_PROP_FRAME_COUNT))),
    )
    return cap, info


class VideoFileSource(FrameSource):
    """Frames of a video file, decoded with OpenCV, in the thread that reads them (not `threaded`).

    ``paced=True`` delivers frames at the file's own rate (and is `live`: a slow consumer loses
    frames, as with a camera: a frame whose successor is already due when it is asked for is
    skipped, counted in ``dropped``); ``paced=False`` delivers them as fast as they decode and
    loses none. ``loop=True`` starts again at the end; timestamps keep rising across loops.
    ``timestamp`` is the media time, so the referee sees the clip's own clock either way: frame
    index / fps (``clock="index"``), or each frame's own presentation time from the container
    (``clock="pts"``, for a variable frame-rate phone video, whose frames are not evenly spaced),
    from 0.
    """

    threaded = False

    def __init__(self, path: str | Path, *, paced: bool = True, loop: bool = False, clock: str = "index"):
        if clock not in ("index", "pts"):
            raise ValueError(f"clock must be 'index' or 'pts', not {clock!r}")
        self.path = Path(path)
        self.name = str(self.path)
        self.paced = paced
        self.live = paced
        self.loop = loop
        self.clock = clock
        self._pts0: float | None = None
        self._last_t = -1.0
        self.dropped = 0  # frames skipped with drop_late
        self._cap: cv2.VideoCapture | None = None
        self.info: VideoInfo | None = None
        self._fps = 0.0
        self._index = 0  # frames delivered since open, across loops
        self._loop_offset = 0.0
        self._frame_in_loop = 0
        self._t0 = 0.0

    @property
    def fps(self) -> float | None:
        return self._fps or None

    def fps_probe(self) -> float | None:
        """The file's frame rate without opening it as a source."""
        cap, info = open_video(self.path)
        cap.release()
        return info.fps

    def open(self) -> None:
        cap, info = open_video(self.path, ahead=not self.paced)
        fps = info.fps
        self._cap = cap
        self.info = info
        self._fps = fps
        self._index = 0
        self._frame_in_loop = 0
        self._loop_offset = 0.0
        self._pts0 = None
        self._last_t = -1.0
        self.dropped = 0
        self._t0 = time.monotonic()
        log.info(
            "opened video %s at %.3f fps (%s%s)",
            self.path,
            fps,
            "paced" if self.paced else "unpaced",
            ", looping" if self.loop else "",
        )

    def _decode(self) -> np.ndarray:
        if self._cap is None:
            raise SourceError(f"video {self.path} is not open")
        ok, image = self._cap.read()
        if ok:
            return image
        if not self.loop:
            raise EndOfStream(str(self.path))
        if self._frame_in_loop == 0:
            raise SourceError(f"video {self.path} has no decodable frames")
        if self.clock == "pts":
            self._loop_offset = self._last_t + 1 / self._fps
        else:
            self._loop_offset += self._frame_in_loop / self._fps
        self._frame_in_loop = 0
        self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
        ok, image = self._cap.read()
        if not ok:
            raise SourceError(f"video {self.path} could not be rewound for looping")
        log.debug("video %s looped", self.path)
        return image

    def _media_time(self) -> float:
        if self.clock == "index":
            return self._loop_offset + self._frame_in_loop / self._fps
        pts = float(self._cap.get(cv2.CAP_PROP_POS_MSEC)) / 1000.0
        if self._pts0 is None or self._frame_in_loop == 0:
            self._pts0 = pts
        t = self._loop_offset + pts - self._pts0
        if t <= self._last_t:  # a repeated or unordered timestamp: keep the clock moving forward
            t = self._last_t + 1e-3
        self._last_t = t
        return t

    def frames_due(self) -> int:
        """Frames this source has delivered or had due: a paced file keeps time like a camera, so
        frames fall due while the reader is busy (and are then dropped)."""
        if not self.paced or self._cap is None:
            return self._index
        return max(self._index, int((time.monotonic() - self._t0) * self._fps) + 1)

    def _skip_overdue(self) -> None:
        """Skip (decode without converting) every frame whose successor is already due."""
        period = 1.0 / self._fps
        behind = time.monotonic() - (self._t0 + self._index * period)
        if behind > 1.0:
            return  # a suspended process: read() re-anchors instead
        while behind >= period and self._cap is not None and self._cap.grab():
            self._index += 1
            self._frame_in_loop += 1
            self.dropped += 1
            behind -= period

    def read(self) -> Frame:
        if self.paced and self.drop_late:
            self._skip_overdue()
        image = self._decode()
        timestamp = self._media_time()
        if self.paced:
            at = timestamp if self.clock == "pts" else self._index / self._fps
            delay = self._t0 + at - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            elif delay < -1.0:
                # Fell more than a second behind (a suspended process): re-anchor instead of bursting.
                self._t0 = time.monotonic() - at
        frame = Frame(image=image, timestamp=timestamp, captured_at=time.monotonic(), seq=self._index)
        self._index += 1
        self._frame_in_loop += 1
        return frame

    def frames(self) -> Iterator[Frame]:
        """Every frame once, opened and closed here (offline analysis: no pacing, no loop)."""
        self.open()
        try:
            while True:
                try:
                    yield self.read()
                except EndOfStream:
                    return
        finally:
            self.close()

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
            self._cap = None
