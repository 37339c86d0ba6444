"""Video files before and after an analysis: what `probe_video` finds in real clips and in odd ones
made from them (cut off, not a video, rotated, variable frame rate), the media-time clock, and the
H.264 writer with both real encoders (PyAV's libx264 and the ffmpeg program), checked by ffprobe."""

from __future__ import annotations

import itertools
import os
import struct
import subprocess
import sys
from datetime import UTC, datetime

import numpy as np
import pytest

from tests.conftest import REPO
from tests.uploadkit import SQUAT, ffmpeg, ffprobe, make_video, truncate


@pytest.fixture()
def clip(shared_data):
    return shared_data / "clips" / SQUAT


def test_probe_a_real_phone_clip(clip):
    from hiitpi.capture.probe import probe_video

    p = probe_video(clip)
    assert (p.codec, p.width, p.height, p.rotation, p.frames) == ("h264", 1280, 720, 0, 143)
    assert p.fps == pytest.approx(25.0, abs=0.01) and not p.variable_rate and not p.truncated
    assert p.duration_s == pytest.approx(5.72, abs=0.05)
    assert p.creation_time == datetime(2023, 2, 24, 10, 23, 35, tzinfo=UTC)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda c, t: t / "notes.mp4", "not a video HIIT PI can read"),
        (lambda c, t: t / "empty.mp4", "empty"),
        (lambda c, t: t / "picture.mp4", r"not a video \(a picture"),
        (lambda c, t: truncate(make_video("moov_last", c, t / "whole.mp4"), t / "cut.mp4"), "incomplete"),
    ],
    ids=["text", "empty", "picture", "cut-before-index"],
)
def test_probe_refuses_what_is_not_a_video(clip, tmp_path, shared_data, make, message):
    from hiitpi.capture.probe import VideoProbeError, probe_video

    (tmp_path / "notes.mp4").write_text("my workout notes\n" * 100)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "picture.mp4").write_bytes((shared_data / "images" / "squat.bmp").read_bytes())
    with pytest.raises(VideoProbeError, match=message) as err:
        probe_video(make(clip, tmp_path))
    assert err.value.exit_code == 2 and err.value.hint


def test_probe_finds_a_cut_off_video_and_a_variable_rate(clip, tmp_path):
    from hiitpi.capture.probe import probe_video

    cut = probe_video(truncate(make_video("faststart", clip, tmp_path / "fast.mp4"), tmp_path / "cut.mp4"))
    assert cut.truncated and cut.duration_s < 0.8 * cut.header_duration_s
    vfr = probe_video(make_video("vfr", clip, tmp_path / "vfr.mp4"))
    assert (
        vfr.variable_rate
        and vfr.fps_min == pytest.approx(25 / 3, rel=0.05)
        and vfr.fps_max == pytest.approx(25)
    )
    assert not vfr.truncated and vfr.duration_s == pytest.approx(5.72, abs=0.1)


def test_probe_reads_a_phones_rotation_and_opencv_turns_the_frames_upright(clip, tmp_path):
    import cv2

    from hiitpi.capture.probe import probe_video
    from hiitpi.capture.video import VideoFileSource

    phone = make_video("phone_rotated", clip, tmp_path / "phone.mp4")
    p = probe_video(phone)
    assert p.rotation in (90, 270) and (p.width, p.height) == (1280, 720)  # stored 720x1280, shown landscape
    src = VideoFileSource(phone, paced=False)
    src.open()
    try:
        upright = src.read().image
    finally:
        src.close()
    cap = cv2.VideoCapture(str(clip))
    _, original = cap.read()
    cap.release()
    assert upright.shape == original.shape == (720, 1280, 3)
    # the same picture (re-encoded): far closer to the original than to it turned by 180°
    diff = np.abs(upright.astype(int) - original.astype(int)).mean()
    flipped = np.abs(upright.astype(int) - original[::-1, ::-1].astype(int)).mean()
    assert diff < 12 < flipped


def test_pts_clock_times_each_frame_of_a_variable_rate_video(clip, tmp_path):
    from hiitpi.capture.base import EndOfStream
    from hiitpi.capture.video import VideoFileSource

    vfr = make_video("vfr", clip, tmp_path / "vfr.mp4")
    times = {}
    for clock in ("index", "pts"):
        src = VideoFileSource(vfr, paced=False, clock=clock)
        src.open()
        ts = []
        try:
            while True:
                try:
                    ts.append(src.read().timestamp)
                except EndOfStream:
                    break
        finally:
            src.close()
        times[clock] = ts
    pts = times["pts"]
    assert len(pts) == 93 and pts[0] == 0.0
    assert pts[1] == pytest.approx(0.12, abs=1e-3)  # every third frame of a 25 fps clip
    assert pts[-1] == pytest.approx(5.68, abs=0.01)  # the clip's own end, not 93 frames / 16 fps
    assert all(b > a for a, b in itertools.pairwise(pts))
    assert times["index"][-1] == pytest.approx(92 / (93 / 5.72), abs=0.05)  # evenly spread: wrong


def _boxes(path) -> list[str]:
    data = path.read_bytes()
    i, order = 0, []
    while i + 8 <= len(data):
        n, kind = struct.unpack(">I4s", data[i : i + 8])
        order.append(kind.decode("latin-1"))
        if n < 8:
            break
        i += n
    return order


@pytest.mark.parametrize("backend", ["pyav", "ffmpeg"])
def test_h264_writer_makes_a_faststart_mp4_that_ffprobe_calls_h264(clip, tmp_path, backend):
    from hiitpi.capture.base import EndOfStream
    from hiitpi.capture.video import VideoFileSource
    from hiitpi.offline.h264 import even_size, find_encoder, open_h264

    enc = find_encoder(backend)
    assert enc.backend == backend and enc.codec in ("libx264", "libopenh264")
    src = VideoFileSource(clip, paced=False)
    src.open()
    size = even_size(1279, 719, 640)
    assert size == (640, 358)
    out = tmp_path / "out.mp4"
    writer = open_h264(out, src.info.fps, size, encoder=enc)
    import cv2

    try:
        while True:
            try:
                f = src.read()
            except EndOfStream:
                break
            writer.write(cv2.resize(f.image, size), f.timestamp)
    finally:
        src.close()
    assert not out.exists()  # written under a temporary name until closed
    writer.close()
    info = ffprobe(out, "stream=codec_name,width,height,nb_frames:format=duration")
    s = info["streams"][0]
    assert (s["codec_name"], s["width"], s["height"], int(s["nb_frames"])) == ("h264", 640, 358, 143)
    assert float(info["format"]["duration"]) == pytest.approx(5.72, abs=0.1)
    boxes = _boxes(out)
    assert boxes.index("moov") < boxes.index("mdat"), boxes  # faststart: playable while it downloads
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def test_h264_writer_abort_leaves_nothing(tmp_path):
    from hiitpi.offline.h264 import open_h264

    w = open_h264(tmp_path / "x.mp4", 25, (64, 48))
    w.write(np.zeros((48, 64, 3), np.uint8), 0.0)
    w.abort()
    assert list(tmp_path.iterdir()) == []


def test_no_h264_encoder_is_one_clear_message(tmp_path):
    """No PyAV (its import blocked) and no ffmpeg on PATH: the command says what to install."""
    code = (
        "import sys; sys.modules['av'] = None\n"
        "from hiitpi.offline.h264 import find_encoder, NoH264Encoder\n"
        "try:\n    find_encoder()\nexcept NoH264Encoder as e:\n    print('|'.join(e.lines()))\n"
    )
    env = {**os.environ, "PATH": str(tmp_path)}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, env=env, timeout=60
    )
    assert res.returncode == 0, res.stderr
    assert (
        "no H.264 encoder found" in res.stdout
        and "pip install av" in res.stdout
        and "apt install ffmpeg" in res.stdout
    )


def test_ffmpeg_test_helper_is_real(tmp_path, clip):
    """The odd videos the tests make are what they say (ffprobe on two of them)."""
    four_k = make_video("4k", clip, tmp_path / "4k.mp4")
    assert ffprobe(four_k)["streams"][0]["width"] == 3840
    portrait = make_video("portrait", clip, tmp_path / "p.mp4")
    s = ffprobe(portrait)["streams"][0]
    assert (s["width"], s["height"]) == (720, 1280)
    ffmpeg("-i", str(clip), "-t", "1", "-c", "copy", str(tmp_path / "one.mp4"))
    assert (tmp_path / "one.mp4").stat().st_size > 0
