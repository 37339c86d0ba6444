"""Frame sources on real video, the latest-frame buffer, the watchdog, source selection."""

from __future__ import annotations

import itertools
import logging
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from hiitpi.capture.base import EndOfStream, Frame, SourceError, SourceOpenError
from hiitpi.capture.buffer import LatestFrameBuffer
from hiitpi.capture.opencv import OpenCVSource, device_index
from hiitpi.capture.runner import CaptureRunner
from hiitpi.capture.select import create_source_factory
from hiitpi.capture.video import VideoFileSource
from hiitpi.config import CaptureSettings

CLIP = "jumping_jack/afrl_jumpingjacks.mp4"  # 30 fps, 4.2 s


@pytest.fixture()
def clip(shared_data) -> Path:
    return shared_data / "clips" / CLIP


@pytest.fixture()
def short_clip(tmp_path, clip) -> Path:
    """The first 12 frames of a real clip, re-encoded (for loop tests that must reach the end fast)."""
    cap = cv2.VideoCapture(str(clip))
    frames = [cap.read()[1] for _ in range(12)]
    cap.release()
    h, w = frames[0].shape[:2]
    out = tmp_path / "short.avi"
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"MJPG"), 30.0, (w, h))
    for f in frames:
        writer.write(f)
    writer.release()
    return out


def test_video_file_unpaced_reads_every_frame_with_media_timestamps(short_clip):
    with VideoFileSource(short_clip, paced=False) as src:
        assert not src.live
        assert src.fps == pytest.approx(30.0)
        frames = []
        with pytest.raises(EndOfStream):
            while True:
                frames.append(src.read())
    assert len(frames) == 12
    assert [f.seq for f in frames] == list(range(12))
    assert frames[5].timestamp == pytest.approx(5 / 30.0)
    assert frames[0].image.shape[2] == 3 and frames[0].image.dtype == np.uint8


def test_video_file_paced_runs_at_its_own_rate(clip):
    with VideoFileSource(clip, paced=True) as src:
        assert src.live
        t0 = time.monotonic()
        for _ in range(16):
            src.read()
        elapsed = time.monotonic() - t0
    # 16 frames at 30 fps: the 16th is due 15/30 = 0.5 s after the first; never sooner (a busy
    # machine can make it later)
    assert 0.45 <= elapsed <= 1.5


def test_video_file_loops_with_rising_timestamps(short_clip):
    with VideoFileSource(short_clip, paced=False, loop=True) as src:
        stamps = [src.read().timestamp for _ in range(30)]
    assert all(b > a for a, b in itertools.pairwise(stamps))
    assert stamps[12] == pytest.approx(12 / 30.0)
    assert stamps[29] == pytest.approx(29 / 30.0)


def test_missing_and_bad_files_say_what_is_wrong(tmp_path):
    with pytest.raises(SourceOpenError, match="does not exist"):
        VideoFileSource(tmp_path / "nope.mp4").open()
    with pytest.raises(SourceOpenError, match="is a folder, not a video file"):
        VideoFileSource(tmp_path).open()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video at all" * 100)
    with pytest.raises(SourceOpenError, match="ffprobe"):
        VideoFileSource(bad).open()


def test_v4l2_device_that_is_absent_is_a_clear_error():
    assert device_index("/dev/video7") == 7 and device_index("3") == 3 and device_index("x.mp4") is None
    with pytest.raises(SourceOpenError, match="v4l2-ctl --list-devices"):
        OpenCVSource("/dev/video57").open()


def _frame(i: int) -> Frame:
    return Frame(image=np.zeros((2, 2, 3), np.uint8), timestamp=i, captured_at=time.monotonic(), seq=i)


def test_latest_frame_buffer_live_drops_and_counts():
    buf = LatestFrameBuffer()
    for i in range(5):
        assert buf.put(_frame(i))
    got = buf.get(timeout=0.1)
    assert got is not None and got.seq == 4
    assert buf.dropped == 4
    assert buf.get(timeout=0.05) is None
    buf.close()
    assert not buf.put(_frame(9))


def test_latest_frame_buffer_lossless_waits_for_the_consumer():
    buf = LatestFrameBuffer(lossless=True)
    assert buf.put(_frame(0))
    assert not buf.put(_frame(1), timeout=0.05)  # previous frame not taken yet
    seen = []

    def consume():
        for _ in range(3):
            f = buf.get(timeout=1)
            seen.append(f.seq)

    t = threading.Thread(target=consume)
    t.start()
    assert buf.put(_frame(1), timeout=1)
    assert buf.put(_frame(2), timeout=1)
    t.join(2)
    assert seen == [0, 1, 2] and buf.dropped == 0


def test_runner_delivers_a_whole_unpaced_file_then_finishes(short_clip):
    runner = CaptureRunner(lambda: VideoFileSource(short_clip, paced=False))
    runner.start()
    seqs = []
    try:
        while True:
            f = runner.buffer.get(timeout=2)
            if f is None:
                break
            seqs.append(f.seq)
    finally:
        runner.stop()
    assert seqs == list(range(12))
    assert runner.finished.is_set() and runner.status().dropped == 0


def test_runner_cannot_open_is_a_clear_error(tmp_path):
    runner = CaptureRunner(lambda: VideoFileSource(tmp_path / "missing.mp4"))
    with pytest.raises(SourceOpenError, match="does not exist"):
        runner.start()


class StallingVideo(VideoFileSource):
    """A real video whose first instance stops delivering after ``stall_after`` frames (a hung camera)."""

    instances = 0

    def __init__(self, path, stall_after: int, release: threading.Event, **kw):
        super().__init__(path, **kw)
        type(self).instances += 1
        self.first = type(self).instances == 1
        self.stall_after = stall_after
        self.release = release

    def read(self):
        if self.first and self._index >= self.stall_after:
            self.release.wait(10)  # hangs like a wedged driver until the test ends
        return super().read()


class FailingVideo(VideoFileSource):
    instances = 0

    def __init__(self, path, **kw):
        super().__init__(path, **kw)
        type(self).instances += 1
        self.first = type(self).instances == 1

    def read(self):
        if self.first and self._index >= 5:
            raise SourceError("USB camera unplugged")
        return super().read()


def test_watchdog_restarts_a_source_that_stops_delivering(clip, caplog):
    StallingVideo.instances = 0
    release = threading.Event()
    runner = CaptureRunner(
        lambda: StallingVideo(clip, stall_after=5, release=release, paced=True),
        stall_timeout_s=0.4,
        backoff_initial_s=0.1,
        check_interval_s=0.05,
    )
    caplog.set_level(logging.WARNING, logger="hiitpi.capture.runner")
    runner.start()
    try:
        seqs = []
        deadline = time.monotonic() + 5
        while len(seqs) < 12 and time.monotonic() < deadline:
            f = runner.buffer.get(timeout=0.5)
            if f is not None:
                seqs.append(f.seq)
        assert runner.restarts == 1
        assert StallingVideo.instances == 2
        # The first source gave frames 0..4, then the restarted one numbers its frames from 0 again
        # (the latest-frame buffer may skip one when this reader is slow on a busy machine)
        restart = next(i for i in range(1, len(seqs)) if seqs[i] < seqs[i - 1])
        assert seqs[:restart] == list(range(restart)) and restart <= 5 and seqs[restart] <= 2, seqs
        assert "stalled" in caplog.text and "restarted" in caplog.text
    finally:
        release.set()
        runner.stop()


def test_watchdog_restarts_a_failed_source_with_backoff(clip, caplog):
    FailingVideo.instances = 0
    runner = CaptureRunner(
        lambda: FailingVideo(clip, paced=True), backoff_initial_s=0.2, check_interval_s=0.05
    )
    caplog.set_level(logging.WARNING, logger="hiitpi.capture.runner")
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while runner.restarts == 0 and time.monotonic() < deadline:
            runner.buffer.get(timeout=0.2)
        assert runner.restarts == 1
        assert "USB camera unplugged" in caplog.text
        assert runner.buffer.get(timeout=1) is not None  # frames flow again
    finally:
        runner.stop()


def test_select_sources(clip, tmp_path):
    factory = create_source_factory(CaptureSettings(source=str(clip), paced=False))
    src = factory()
    assert isinstance(src, VideoFileSource) and not src.paced
    assert isinstance(create_source_factory(CaptureSettings(source="/dev/video3"))(), OpenCVSource)
    assert (
        create_source_factory(CaptureSettings(source="rtsp://cam.local/s1"))().name == "rtsp://cam.local/s1"
    )
    with pytest.raises(SourceOpenError, match="not a video file"):
        create_source_factory(CaptureSettings(source=str(tmp_path / "nothing.mp4")))


def test_auto_on_a_machine_without_cameras_says_what_to_do():
    from hiitpi.capture.picam import picamera2_available

    if picamera2_available() or list(Path("/dev").glob("video[0-9]*")):
        pytest.skip("this machine has a camera")
    with pytest.raises(SourceOpenError, match="--source FILE"):
        create_source_factory(CaptureSettings(source="auto"))


def test_network_stream_through_opencv(clip, tmp_path):
    """An http:// stream (ffmpeg underneath, as for rtsp://) served from this machine: the real
    clip remuxed to MPEG-TS, a streamable container like a camera's."""
    import functools
    import http.server
    import shutil
    import subprocess

    if not shutil.which("ffmpeg"):
        pytest.skip("ffmpeg not installed")
    ts = tmp_path / "cam.ts"
    subprocess.run(
        ["ffmpeg", "-loglevel", "error", "-i", str(clip), "-t", "1", "-c", "copy", str(ts)],
        check=True,
        timeout=60,
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/cam.ts"
        src = create_source_factory(CaptureSettings(source=url))()
        assert isinstance(src, OpenCVSource) and src.live
        with src:
            frames = [src.read() for _ in range(5)]
        assert [f.seq for f in frames] == list(range(5))
        assert frames[0].image.shape == (720, 640, 3)
        with pytest.raises(SourceOpenError, match="ffprobe"):
            OpenCVSource(f"http://127.0.0.1:{server.server_address[1]}/missing.mp4").open()
    finally:
        server.shutdown()
        server.server_close()


def test_a_file_is_read_inline_and_a_camera_in_a_capture_thread(clip, short_clip):
    from hiitpi.capture.inline import InlineCapture
    from hiitpi.capture.runner import open_capture

    class Camera(VideoFileSource):
        threaded = True  # a file standing in for a camera

    before = {t.name for t in threading.enumerate()}
    inline = open_capture(lambda: VideoFileSource(short_clip, paced=False))
    assert isinstance(inline, InlineCapture)
    assert {t.name for t in threading.enumerate()} == before  # no thread for a file
    threaded = open_capture(lambda: Camera(clip, paced=True))
    try:
        assert isinstance(threaded, CaptureRunner) and threaded.next_frame(timeout=2) is not None
        assert {"capture-1", "capture-watchdog"} <= {t.name for t in threading.enumerate()}
        assert inline.next_frame().seq == 0
    finally:
        threaded.stop()
        inline.stop()


def test_inline_unpaced_file_every_frame_decoded_in_the_callers_thread(short_clip):
    from hiitpi.capture.inline import InlineCapture

    class Recording(VideoFileSource):
        readers: set = set()  # noqa: RUF012

        def read(self):
            self.readers.add(threading.current_thread().name)
            return super().read()

    capture = InlineCapture(lambda: Recording(short_clip, paced=False))
    capture.start()
    seqs = []

    def analysis():
        while (f := capture.next_frame(timeout=0.2)) is not None:
            seqs.append(f.seq)

    t = threading.Thread(target=analysis, name="analysis")
    t.start()
    t.join(10)
    capture.stop()
    assert seqs == list(range(12)) and Recording.readers == {"analysis"}
    st = capture.status()
    assert st.finished and st.healthy and st.dropped == 0 and st.frames == 12


def test_inline_paced_file_keeps_time_and_drops_what_a_slow_reader_misses(clip):
    """A reader taking 0.1 s per frame of a 30 fps file: about 2 of every 3 frames are skipped
    (never decoded into pictures), timestamps follow the clock, and the skipped ones count as
    dropped, as with a camera's latest-frame buffer."""
    from hiitpi.capture.inline import InlineCapture

    capture = InlineCapture(lambda: VideoFileSource(clip, paced=True))
    capture.start()
    try:
        t0 = time.monotonic()
        frames = []
        while time.monotonic() - t0 < 1.2:
            frames.append(capture.next_frame())
            time.sleep(0.1)
        wall = time.monotonic() - t0
        st = capture.status()
    finally:
        capture.stop()
    assert len(frames) <= 13
    # media time keeps up with the clock (within a couple of frames), not with the reads
    assert frames[-1].timestamp == pytest.approx(wall - 0.1, abs=0.15)
    gaps = [b.seq - a.seq for a, b in itertools.pairwise(frames)]
    assert min(gaps) >= 2 and st.dropped == frames[-1].seq + 1 - len(frames)
    assert st.frames >= frames[-1].seq + 1 and not st.finished


def test_inline_file_that_fails_says_why_and_delivers_again_after_a_restart(clip, caplog):
    """A decoding failure: no more frames (and no busy loop), not running, the reason in status();
    stop + start (what the supervisor does) opens it again and frames flow."""
    from hiitpi.capture.inline import InlineCapture

    FailingVideo.instances = 0
    capture = InlineCapture(lambda: FailingVideo(clip, paced=False))
    capture.start()
    caplog.set_level(logging.WARNING, logger="hiitpi.capture.inline")
    n = 0
    while capture.next_frame() is not None:
        n += 1
    t0 = time.monotonic()
    assert capture.next_frame(timeout=0.2) is None and time.monotonic() - t0 >= 0.15
    st = capture.status()
    assert n == 5 and not st.finished and not st.healthy and not capture.running
    assert "USB camera unplugged" in st.last_error and "until restarted" in caplog.text
    capture.stop()
    capture.start()  # the second FailingVideo does not fail
    assert capture.running and capture.next_frame() is not None and capture.status().restarts == 1
    capture.stop()
