"""What a paced run on a file costs whatever the code around the model does: the parts no Python
can take away, each measured alone under the pipeline's own spacing (`hiitpi bench pipeline
--paced`).

The pose model spaced at the frame rate is `hiitpi.bench.pose.bare_invoke`'s; here the file's
decoding (FFmpeg's H.264 decode and its conversion to B, G, R, one decoder thread as a paced file
has) spaced at the frame rate, and with a viewer the JPEG of one picture of the size viewers get,
at ``[web] jpeg_quality``, spaced at the stream's rate. Their sum per analysed frame, over the
bare invoke, is the lowest ratio the run could reach with nothing else at all: the crop,
smoothing, referee, publishing, drawing, hand-out and Redis come on top.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def spaced_cpu_ms(step: Callable[[], object], runs: int, period_s: float, warmup: int = 5) -> float:
    """Process CPU milliseconds per call of ``step``, called once every ``period_s`` (the thread
    asleep in between, as the pipeline's threads are); run it while nothing else in the process works."""
    for _ in range(warmup):
        step()
    cpu = 0.0
    due = time.monotonic()
    for _ in range(runs):
        due += period_s
        delay = due - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        c0 = time.process_time()
        step()
        cpu += time.process_time() - c0
    return cpu / runs * 1000


def decode_spaced_ms(source: Path, runs: int, period_s: float) -> float:
    """CPU ms to decode one frame of ``source`` as a paced file is decoded (`open_video`, one
    decoder thread), spaced at ``period_s``; the file starts again at its end."""
    import cv2

    from hiitpi.capture.video import open_video

    cap, _ = open_video(source)

    def step() -> None:
        ok, _ = cap.read()
        if not ok:
            cap.set(cv2.CAP_PROP_POS_FRAMES, 0)

    try:
        return spaced_cpu_ms(step, runs, period_s)
    finally:
        cap.release()


def jpeg_spaced_ms(frame: Any, web: Any, runs: int) -> float:
    """CPU ms of one JPEG of ``frame`` scaled to ``web.stream_width`` at ``web.jpeg_quality``
    (nothing drawn on it), spaced at ``web.stream_fps``."""
    import cv2

    from hiitpi.web.mjpeg import scaled_size

    h, w = frame.shape[:2]
    size = scaled_size(w, h, web.stream_width)
    picture = frame if size == (w, h) else cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    params = [cv2.IMWRITE_JPEG_QUALITY, web.jpeg_quality]
    return spaced_cpu_ms(lambda: cv2.imencode(".jpg", picture, params), runs, 1.0 / web.stream_fps)


def paced_floor(
    source: Path,
    frame: Any,
    web: Any,
    *,
    source_fps: float,
    invoke_spaced_ms: float,
    invoke_ms: float,
    pictures_per_frame: float = 0.0,
    runs: int = 60,
) -> dict[str, float]:
    """The fixed costs of a paced run per analysed frame and their sum over the bare invoke.
    ``pictures_per_frame``: JPEGs made per analysed frame in the run (0: nobody watched)."""
    decode = decode_spaced_ms(source, runs, 1.0 / source_fps)
    jpeg = jpeg_spaced_ms(frame, web, max(10, runs // 2)) if pictures_per_frame > 0 else 0.0
    total = invoke_spaced_ms + decode + jpeg * pictures_per_frame
    log.debug("paced floor: decode %.3f ms, JPEG %.3f ms a picture", decode, jpeg)
    return {
        "invoke_spaced_ms": round(invoke_spaced_ms, 3),
        "decode_ms": round(decode, 3),
        "jpeg_ms_per_picture": round(jpeg, 3),
        "pictures_per_frame": round(pictures_per_frame, 3),
        "sum_ms": round(total, 3),
        "to_invoke": round(total / invoke_ms, 3) if invoke_ms else None,
        "to_invoke_spaced": round(total / invoke_spaced_ms, 3) if invoke_spaced_ms else None,
    }
