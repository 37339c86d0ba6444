"""picamera2: only the `Picamera2` class (and the request it hands out), its hardware JPEG encoder
and the output/mapped-buffer helpers are faked; the code that configures the camera, reads both
streams, converts YUV420 and drives the encoder is the real one."""

from __future__ import annotations

import io
import sys
import time
import types

import cv2
import numpy as np
import pytest

from hiitpi.capture.base import SourceOpenError
from hiitpi.capture.picam import PiCameraSource, lores_size, yuv420_to_bgr
from hiitpi.capture.select import create_source_factory
from hiitpi.config import CaptureSettings


def _i420_with_stride(bgr: np.ndarray, stride: int) -> np.ndarray:
    """What libcamera hands out for a YUV420 stream: I420 planes, rows padded to ``stride``."""
    h, w = bgr.shape[:2]
    i420 = cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).reshape(-1)
    y = i420[: h * w].reshape(h, w)
    u = i420[h * w : h * w + h * w // 4].reshape(h // 2, w // 2)
    v = i420[h * w + h * w // 4 :].reshape(h // 2, w // 2)
    out_y = np.zeros((h, stride), np.uint8)
    out_y[:, :w] = y
    out_u = np.zeros((h // 2, stride // 2), np.uint8)
    out_u[:, : w // 2] = u
    out_v = np.zeros((h // 2, stride // 2), np.uint8)
    out_v[:, : w // 2] = v
    flat = np.concatenate([out_y.reshape(-1), out_u.reshape(-1), out_v.reshape(-1)])
    return flat.reshape(h * 3 // 2, stride)


class FakeRequest:
    """One frame's buffers, as the camera filled them (main can be drawn on in place)."""

    def __init__(self, cam):
        self.cam = cam
        self.buffers = {}
        for name in ("main", "lores"):
            cfg = cam.configured[name]
            w, h = cfg["size"]
            image = cv2.resize(cam.scene, (w, h), interpolation=cv2.INTER_AREA)
            if cfg["format"] == "YUV420":
                image = _i420_with_stride(image, cam.stride_pad + w)
            else:
                assert cfg["format"] == "RGB888"  # picamera2's RGB888 is B,G,R in memory
            self.buffers[name] = image

    def make_array(self, name):
        self.cam.copied.append(name)
        return self.buffers[name].copy()

    def release(self):
        self.cam.released += 1


class FakeMappedArray:
    """picamera2.MappedArray: the request's buffer itself, writable, as a context manager."""

    def __init__(self, request, stream):
        self.array = request.buffers[stream]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


class FakeFileOutput:
    """picamera2.outputs.FileOutput as it treats a file object: only an ``io.BufferedIOBase`` is
    taken, and each encoded frame is written and flushed."""

    def __init__(self, file=None, pts=None, split=None):
        if not isinstance(file, io.BufferedIOBase):
            raise RuntimeError("Must pass io.BufferedIOBase")
        self.file = file

    def outputframe(self, frame, keyframe=True, timestamp=None):
        self.file.write(frame)
        self.file.flush()


class MJPEGEncoder:
    """The VideoCore's JPEG encoder (stands in for the hardware: OpenCV does the encoding)."""

    def encode_to(self, output, picture):
        _, jpeg = cv2.imencode(".jpg", picture)
        output.outputframe(memoryview(jpeg.tobytes()))


class LibavMjpegEncoder(MJPEGEncoder):
    """What a Pi 5's picamera2 calls MJPEGEncoder: libav on the CPU."""


class FakePicamera2:
    """Stands in for picamera2.Picamera2: the camera hardware."""

    instances: list = []  # noqa: RUF012
    scene: np.ndarray
    stride_pad = 0
    fail_open = False

    fail_encoder = False

    def __init__(self, camera_num=0):
        if self.fail_open:
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.configured = None
        self.started = self.closed = False
        self.released = 0
        self.copied = []
        self.pre_callback = None
        self.encoder = self.output = None
        self.encoders_started = 0
        type(self).instances.append(self)

    def create_video_configuration(self, main, lores, controls, buffer_count):
        return {"main": dict(main), "lores": dict(lores), "controls": controls, "buffer_count": buffer_count}

    def configure(self, config):
        self.configured = config

    def start(self):
        assert self.configured is not None
        self.started = True

    def capture_request(self):
        assert self.started
        time.sleep(1 / self.configured["controls"]["FrameRate"])  # the camera delivers at its rate
        request = FakeRequest(self)
        if self.pre_callback is not None:  # before the encoders and the application get it
            self.pre_callback(request)
        if self.encoder is not None:
            self.encoder.encode_to(self.output, request.buffers[self.encoder_stream])
        return request

    def start_encoder(self, encoder, output, name=None):
        assert self.started and isinstance(output, FakeFileOutput)
        if self.fail_encoder:
            raise RuntimeError("Hardware MJPEG not available on this platform")
        self.encoder, self.output, self.encoder_stream = encoder, output, name
        self.encoders_started += 1

    def stop_encoder(self, encoders=None):
        self.encoder = self.output = None

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture()
def fake_picamera2(monkeypatch, shared_data):
    scene = cv2.imread(str(shared_data / "images" / "squat.bmp"))
    FakePicamera2.instances = []
    FakePicamera2.scene = scene
    FakePicamera2.stride_pad = 0
    FakePicamera2.fail_open = False
    FakePicamera2.fail_encoder = False
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    module.MappedArray = FakeMappedArray
    encoders = types.ModuleType("picamera2.encoders")
    encoders.MJPEGEncoder = MJPEGEncoder
    encoders._hw_encoder_available = True
    outputs = types.ModuleType("picamera2.outputs")
    outputs.FileOutput = FakeFileOutput
    monkeypatch.setitem(sys.modules, "picamera2", module)
    monkeypatch.setitem(sys.modules, "picamera2.encoders", encoders)
    monkeypatch.setitem(sys.modules, "picamera2.outputs", outputs)
    FakePicamera2.encoders_module = encoders
    return FakePicamera2


def test_lores_size_keeps_aspect_and_unpadded_rows():
    assert lores_size((640, 480), 320) == (320, 240)
    assert lores_size((1280, 720), 300) == (256, 144)
    assert lores_size((320, 240), 640) == (320, 240)


@pytest.mark.parametrize("pad", [0, 64])
def test_picamera_reads_lores_for_inference_and_main_for_viewing(fake_picamera2, pad):
    fake_picamera2.stride_pad = pad
    with PiCameraSource(width=640, height=480, fps=30, lores_width=320) as src:
        cam = fake_picamera2.instances[0]
        assert cam.configured["lores"] == {"size": (320, 240), "format": "YUV420"}
        assert cam.configured["main"] == {"size": (640, 480), "format": "RGB888"}
        assert cam.configured["controls"] == {"FrameRate": 30.0}
        f0, f1 = src.read(), src.read()
    assert cam.closed and not cam.started and cam.released == 2
    assert f0.image.shape == (240, 320, 3) and f0.view.shape == (480, 640, 3)
    assert (f0.seq, f1.seq) == (0, 1) and f1.captured_at >= f0.captured_at
    expected = cv2.resize(fake_picamera2.scene, (320, 240), interpolation=cv2.INTER_AREA)
    # lores comes straight as R, G, B (the models' order); YUV420 loses chroma detail, not the picture.
    assert f0.rgb and not np.shares_memory(f0.image, f0.view)
    assert np.abs(f0.image.astype(int) - expected[..., ::-1].astype(int)).mean() < 6


def test_yuv420_padded_equals_unpadded(shared_data):
    img = cv2.resize(cv2.imread(str(shared_data / "images" / "squat.bmp")), (320, 240))
    a = yuv420_to_bgr(_i420_with_stride(img, 320), 320, 240)
    b = yuv420_to_bgr(_i420_with_stride(img, 384), 320, 240)
    assert np.array_equal(a, b)


def test_no_camera_attached_says_what_to_check(fake_picamera2):
    fake_picamera2.fail_open = True
    with pytest.raises(SourceOpenError, match="rpicam-hello --list-cameras"):
        PiCameraSource().open()


def test_picamera_without_picamera2_says_what_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "picamera2", None)  # import fails, as on this machine
    with pytest.raises(SourceOpenError, match=r"sudo apt install python3-picamera2.*--system-site-packages"):
        create_source_factory(CaptureSettings(source="picamera"))().open()


def test_auto_prefers_the_pi_camera_when_picamera2_is_there(fake_picamera2):
    src = create_source_factory(CaptureSettings(source="auto", width=320, height=240, lores_width=192))()
    assert isinstance(src, PiCameraSource)
    with src:
        assert src.read().image.shape == (144, 192, 3)


def test_a_hung_pi_camera_is_closed_and_reopened_by_the_watchdog(fake_picamera2, monkeypatch):
    import threading
    import time

    from hiitpi.capture.runner import CaptureRunner

    unblock = threading.Event()
    real_capture = FakePicamera2.capture_request

    def capture_request(self):
        if self is FakePicamera2.instances[0] and self.requests >= 3:
            unblock.wait(10)  # the first camera hangs after 3 frames ...
            raise RuntimeError("camera closed")  # ... until closed from another thread
        self.requests += 1
        return real_capture(self)

    def close(self):
        self.closed = True
        unblock.set()

    monkeypatch.setattr(FakePicamera2, "requests", 0, raising=False)
    monkeypatch.setattr(FakePicamera2, "capture_request", capture_request)
    monkeypatch.setattr(FakePicamera2, "close", close)
    runner = CaptureRunner(
        lambda: PiCameraSource(width=320, height=240, lores_width=192),
        stall_timeout_s=0.3,
        backoff_initial_s=0.05,
        check_interval_s=0.05,
    )
    runner.start()
    try:
        deadline = time.monotonic() + 5
        while runner.restarts == 0 and time.monotonic() < deadline:
            runner.buffer.get(timeout=0.1)
        assert runner.restarts == 1
        assert FakePicamera2.instances[0].closed  # freed for the new camera object
        assert runner.buffer.get(timeout=1) is not None
    finally:
        unblock.set()
        runner.stop()


def test_an_rgb_camera_frame_skips_the_colour_conversion_and_gives_the_same_pose(
    fake_picamera2, model_mirror, tmp_path, monkeypatch
):
    """The Pi camera's RGB lores frame goes to the model without a BGR->RGB conversion, and the
    pose is the one the same picture in BGR gives."""
    from hiitpi.engine.pipeline import PoseStage
    from hiitpi.pose.geometry import RegionWarp
    from hiitpi.pose.registry import create_estimator
    from tests.test_pose_support import make_settings

    with PiCameraSource(width=640, height=480, lores_width=320) as src:
        frame = src.read()
    est = create_estimator(make_settings(model_mirror, tmp_path))
    stage = PoseStage(est)
    conversions = []
    real_sample = RegionWarp.sample

    def sample(self, img, rgb=True):
        conversions.append(rgb)
        return real_sample(self, img, rgb)

    monkeypatch.setattr(RegionWarp, "sample", sample)
    from_rgb = stage.process(frame.image, 0.0, rgb=True)
    est.reset()
    from_bgr = stage.process(np.ascontiguousarray(frame.image[..., ::-1]), 0.0)
    assert conversions == [False, True]
    assert from_rgb is not None and np.array_equal(from_rgb.keypoints, from_bgr.keypoints)
    assert frame.viewing_image is frame.view


class Viewers:
    """The viewers' side of the camera (what `hiitpi.web.mjpeg.MjpegBroadcaster` is to it)."""

    def __init__(self, watching=True, camera_pictures=True):
        self.is_watching = watching
        self.camera_pictures = camera_pictures
        self.jpegs: list[bytes] = []
        self.painted = 0

    def watching(self):
        return self.is_watching

    def accepts_camera_jpeg(self):
        return self.camera_pictures

    def camera_jpeg(self, data):
        self.jpegs.append(data)

    def paint(self, picture):
        self.painted += 1
        picture[:40, :40] = (0, 0, 255)  # a red mark where the count would go


def test_the_hardware_encoder_makes_the_viewers_stream_from_main(fake_picamera2):
    """With picamera2's hardware MJPEGEncoder: the overlay is painted on main in the camera's own
    buffer, the encoder hands JPEGs of it to the viewers, and main is never copied out."""
    viewers = Viewers()
    with PiCameraSource(width=640, height=480, lores_width=320, video=viewers) as src:
        frames = [src.read() for _ in range(3)]
        cam = fake_picamera2.instances[0]
        assert src.hardware_video is not None and src.hardware_video.running
    assert (
        cam.encoders_started == 1 and cam.encoder_stream == "main" and cam.encoder is None
    )  # stopped at close
    assert cam.copied == ["lores"] * 3  # main stays in the camera's buffers
    assert all(f.view is None and f.rgb for f in frames)
    assert len(viewers.jpegs) == 3 and viewers.painted == 3
    picture = cv2.imdecode(np.frombuffer(viewers.jpegs[0], np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (480, 640, 3)
    assert picture[5:35, 5:35, 2].mean() > 200 and picture[5:35, 5:35, :2].mean() < 60  # the overlay


def test_the_hardware_encoder_runs_only_while_someone_watches(fake_picamera2):
    viewers = Viewers(watching=False)
    with PiCameraSource(width=320, height=240, lores_width=192, video=viewers) as src:
        cam = fake_picamera2.instances[0]
        src.read()
        assert cam.encoder is None and not viewers.jpegs and cam.copied == ["lores"]
        viewers.is_watching = True
        src.read()
        src.read()
        assert cam.encoder is not None and len(viewers.jpegs) == 2
        viewers.is_watching = False
        src.read()
        assert cam.encoder is None and cam.pre_callback is None and len(viewers.jpegs) == 2


@pytest.mark.parametrize("why", ["libav", "no hardware", "start fails", "privacy"])
def test_without_the_hardware_encoder_main_goes_to_the_cpu_encoder(fake_picamera2, why):
    """A Pi 5 (picamera2's MJPEGEncoder is libav's, on the CPU), no /dev/video11 codec, a codec
    that will not start, or privacy mode: the camera makes no JPEGs; main is copied out for the
    CPU encoder while someone watches, and not at all while nobody does."""
    viewers = Viewers(camera_pictures=why != "privacy")
    if why == "libav":
        fake_picamera2.encoders_module.MJPEGEncoder = LibavMjpegEncoder
    elif why == "no hardware":
        fake_picamera2.encoders_module._hw_encoder_available = False
    elif why == "start fails":
        fake_picamera2.fail_encoder = True
    with PiCameraSource(width=640, height=480, lores_width=320, video=viewers) as src:
        watched = src.read()
        viewers.is_watching = False
        unwatched = src.read()
        cam = fake_picamera2.instances[0]
    assert not viewers.jpegs and cam.encoder is None and cam.pre_callback is None
    assert watched.view is not None and watched.view.shape == (480, 640, 3)
    assert unwatched.view is None and cam.copied == ["lores", "main", "lores"]
    if why == "start fails":
        assert src.hardware_video is not None and "not available" in src.hardware_video.failed
    else:
        assert src.hardware_video is None


def test_the_source_factory_hands_the_viewers_side_to_the_camera(fake_picamera2):
    viewers = Viewers()
    src = create_source_factory(CaptureSettings(source="picamera", width=320, height=240), video=viewers)()
    with src:
        src.read()
    assert len(viewers.jpegs) == 1


@pytest.mark.parametrize("privacy", [False, True])
def test_the_mjpeg_broadcaster_takes_the_cameras_jpegs_or_encodes_itself(fake_picamera2, privacy):
    """The appliance's MJPEG broadcaster is the camera's viewers' side: with a viewer admitted the
    camera's hardware JPEGs (the count painted on) are what viewers get, at most stream_fps a
    second, and the broadcaster's CPU encoder is left alone; in privacy mode the camera encodes
    nothing and the CPU encoder draws the skeleton on black."""
    from hiitpi.config import WebSettings
    from hiitpi.engine.sinks import FrameResult
    from hiitpi.live.contract import LiveState
    from hiitpi.web.mjpeg import MjpegBroadcaster

    video = MjpegBroadcaster(WebSettings(stream_fps=15.0, privacy_mode=privacy))
    video.start()
    tier = video.admit()
    try:
        with PiCameraSource(width=640, height=480, lores_width=320, video=video) as src:
            t0 = time.monotonic()
            for _ in range(6):
                frame = src.read()
                video.on_frame(
                    FrameResult(frame, None, [], {}, LiveState(running=True, reps=7, workout="squat"))
                )  # the camera delivers at 30 a second
            deadline = time.monotonic() + 5
            while video.encoded == 0 and time.monotonic() < deadline:
                time.sleep(0.02)
            elapsed = time.monotonic() - t0
            cam = fake_picamera2.instances[0]
        jpeg = video._latest[1]
        assert jpeg is not None
        picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
        if privacy:
            assert cam.encoders_started == 0 and "main" in cam.copied and not video.camera_encodes
            assert picture.mean() < 20  # the skeleton (none here) and the count on black
        else:
            assert cam.encoders_started == 1 and "main" not in cam.copied and video.camera_encodes
            assert picture.shape == (480, 640, 3)
            # 6 camera JPEGs (0.2 s at 30 a second), handed out at no more than 15 a second: on a
            # loaded machine the six frames take longer, so the bound follows the time they took
            assert 1 <= video.encoded <= int(elapsed * 15) + 2, (video.encoded, elapsed)
            box = picture[5:40, 5:60].astype(int)
            assert box.max() > 200  # the count, painted on by the broadcaster before encoding
    finally:
        video.release(tier)
        video.stop()


class PosesSeen:
    """An engine sink that counts the analysed frames and those with a person."""

    name = "poses"

    def __init__(self):
        self.frames = self.poses = self.frames_rgb = 0

    def on_frame(self, result):
        self.frames += 1
        self.poses += result.pose is not None
        self.frames_rgb += result.frame.rgb and result.frame.view is None

    def on_session(self, change, state):
        pass


def test_the_engine_hands_the_appliances_video_to_the_pi_camera(
    fake_picamera2, model_mirror, redis_url, tmp_path
):
    """As `hiitpi serve` wires it: the engine's camera is given the appliance's MJPEG broadcaster,
    so with a viewer the stream is the camera's own JPEGs (count and skeleton painted on main in
    its buffer), the broadcaster's CPU encoder idles, main is never copied, and the model gets the
    lores frames: the person in the picture is found."""
    from hiitpi.config import WebSettings, load_settings
    from hiitpi.engine import Engine
    from hiitpi.web.mjpeg import MjpegBroadcaster

    settings = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path / "data"),
            ("models", "mirror"): str(model_mirror),
            ("redis", "url"): redis_url,
            ("referee", "workout"): "squat",
            ("capture", "source"): "picamera",
            ("capture", "width"): 640,
            ("capture", "height"): 480,
        },
    )
    video = MjpegBroadcaster(WebSettings(stream_fps=15.0))
    video.start()
    tier = video.admit()
    seen = PosesSeen()
    engine = Engine(settings, sinks=(video, seen), video=video)
    engine.start()
    try:
        deadline = time.monotonic() + 20
        while (engine.stats.frames < 10 or video.encoded < 3) and time.monotonic() < deadline:
            time.sleep(0.05)
        cam = fake_picamera2.instances[0]
        assert engine.stats.frames >= 10 and engine.stats.errors == 0
        assert video.camera_encodes and cam.encoders_started == 1 and "main" not in cam.copied
        assert seen.poses > 0 and seen.frames_rgb == seen.frames
        jpeg = video._latest[1]
    finally:
        engine.stop()
        video.release(tier)
        video.stop()
    picture = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
    assert picture.shape == (480, 640, 3)
    assert cam.closed and cam.encoder is None
