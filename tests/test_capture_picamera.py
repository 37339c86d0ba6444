"""picamera2: only the `Picamera2` class (and the request it hands out) is faked; the code that
configures the camera, reads both streams and converts YUV420 is the real one."""

from __future__ import annotations

import sys
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
    def __init__(self, cam):
        self.cam = cam

    def make_array(self, name):
        cfg = self.cam.configured[name]
        w, h = cfg["size"]
        image = cv2.resize(self.cam.scene, (w, h), interpolation=cv2.INTER_AREA)
        if cfg["format"] == "YUV420":
            return _i420_with_stride(image, self.cam.stride_pad + w)
        assert cfg["format"] == "RGB888"  # picamera2's RGB888 is B,G,R in memory
        return image

    def release(self):
        self.cam.released += 1


class FakePicamera2:
    """Stands in for picamera2.Picamera2: the camera hardware."""

    instances: list = []  # noqa: RUF012
    scene: np.ndarray
    stride_pad = 0
    fail_open = False

    def __init__(self, camera_num=0):
        if self.fail_open:
            raise IndexError("list index out of range")
        self.camera_num = camera_num
        self.configured = None
        self.started = self.closed = False
        self.released = 0
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
        return FakeRequest(self)

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
    module = types.ModuleType("picamera2")
    module.Picamera2 = FakePicamera2
    monkeypatch.setitem(sys.modules, "picamera2", module)
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
