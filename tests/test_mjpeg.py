"""The shared MJPEG encoder: real frames, a real pose from the real model, real JPEG encoding."""

from __future__ import annotations

import asyncio
import logging
import threading
import time

import cv2
import numpy as np
import pytest

from hiitpi.config import WebSettings
from hiitpi.web.mjpeg import MJPEG_MIMETYPE, MjpegBroadcaster, Overlay, render_frame


@pytest.fixture(scope="module")
def squat_and_pose(shared_data, model_mirror, tmp_path_factory):
    from hiitpi.config import load_settings
    from hiitpi.pose.registry import create_estimator

    settings = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path_factory.mktemp("d")),
            ("models", "mirror"): str(model_mirror),
        },
    )
    image = cv2.imread(str(shared_data / "images" / "squat.bmp"))
    est = create_estimator(settings)
    pose = est.estimate(image, 0.0)
    est.close()
    assert pose is not None
    return image, pose


def test_render_scales_and_draws(squat_and_pose):
    image, pose = squat_and_pose
    out = render_frame(image, pose, Overlay(reps=7, workout="squat"), max_width=320, privacy=False)
    h, w = image.shape[:2]
    assert out.shape[1] == min(320, w) and abs(out.shape[0] - round(h * out.shape[1] / w)) <= 1
    plain = cv2.resize(image, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_AREA)
    changed = np.any(out != plain, axis=2)
    # the skeleton and the count changed some pixels, most of the picture is the camera image
    assert 0.005 < changed.mean() < 0.5


def test_the_count_box_is_darkened_to_35_percent_truncated(squat_and_pose):
    image, _ = squat_and_pose
    out = render_frame(image, None, Overlay(reps=7, workout="squat"), max_width=image.shape[1], privacy=False)
    corner = image[0:6, 0:6]  # inside the box, left of and above the text (8 px of padding)
    assert corner.min() > 10  # a picture there, so the darkening shows
    assert np.array_equal(out[0:6, 0:6], (corner * 0.35).astype(np.uint8))
    assert np.array_equal(out[-20:, -20:], image[-20:, -20:])  # outside the box: the picture itself


def test_the_count_is_the_text_drawn_on_the_box_and_follows_the_count(squat_and_pose):
    image, _ = squat_and_pose
    w = image.shape[1]
    scale = max(0.6, w / 400)
    # on black (privacy mode) the box is exactly the text as OpenCV draws it there
    black = np.zeros_like(image)
    out = render_frame(black, None, Overlay(reps=7, workout="Squat"), max_width=w, privacy=False)
    direct = np.zeros_like(image)
    (_, th), _ = cv2.getTextSize("7", cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, 3)
    (_, uh), _ = cv2.getTextSize("Squat", cv2.FONT_HERSHEY_SIMPLEX, scale * 0.5, 1)
    cv2.putText(
        direct, "7", (8, th + 8), cv2.FONT_HERSHEY_SIMPLEX, scale * 1.6, (255, 255, 255), 3, cv2.LINE_AA
    )
    cv2.putText(
        direct,
        "Squat",
        (8, th + uh + 18),
        cv2.FONT_HERSHEY_SIMPLEX,
        scale * 0.5,
        (220, 220, 220),
        1,
        cv2.LINE_AA,
    )
    assert np.array_equal(out, direct)
    # on the picture: the strokes' cores are white over the darkened box; a new count redraws it
    seven = render_frame(image, None, Overlay(reps=7), max_width=w, privacy=False)
    eight = render_frame(image, None, Overlay(reps=8), max_width=w, privacy=False)
    box = (slice(0, th + 24), slice(0, w // 3))
    assert (seven[box] == 255).all(axis=2).sum() > 50
    assert not np.array_equal(seven[box], eight[box])
    assert np.array_equal(seven[th + 40 :], eight[th + 40 :])


def test_privacy_mode_never_sends_the_camera_image(squat_and_pose):
    image, pose = squat_and_pose
    out = render_frame(image, pose, Overlay(reps=3), max_width=640, privacy=True)
    lit = np.any(out > 0, axis=2)
    assert 0.001 < lit.mean() < 0.2  # only skeleton and the count box text
    # where the skeleton is not drawn, nothing of the photo leaks through
    assert not np.any(out[~lit])
    # no person: a black picture with the count
    empty = render_frame(image, None, Overlay(reps=0), max_width=640, privacy=True)
    assert np.any(empty > 0, axis=2).mean() < 0.02


def _check(part: bytes) -> bytes:
    head, _, rest = part.partition(b"\r\n\r\n")
    assert head.startswith(b"--frame\r\nContent-Type: image/jpeg")
    length = int(head.split(b"Content-Length: ")[1])
    jpeg = rest[:-2]
    assert len(jpeg) == length and jpeg[:2] == b"\xff\xd8"
    return jpeg


async def _take(gen, n: int) -> list[bytes]:
    out = []
    async for part in gen:
        out.append(_check(part))
        if len(out) == n:
            break
    await gen.aclose()
    return out


def test_one_encoder_shared_by_viewers_in_one_event_loop_capped_rate(squat_and_pose, caplog):
    """Two viewers as coroutines of one loop (no thread each) get the same JPEGs, encoded once."""
    image, pose = squat_and_pose
    caplog.set_level(logging.INFO, logger="hiitpi.web.mjpeg")
    b = MjpegBroadcaster(WebSettings(stream_fps=10, stream_width=320, jpeg_quality=60))
    assert "multipart/x-mixed-replace" in MJPEG_MIMETYPE
    b.start()
    offering = threading.Event()

    def offer() -> None:  # the engine: 100 frames/s offered
        i = 0
        while not offering.is_set():
            b.submit(image, pose, Overlay(reps=i))
            i += 1
            time.sleep(0.01)

    async def main() -> tuple[dict[str, list[bytes]], float]:
        waiters = b.attach(asyncio.get_running_loop())
        b.submit(image, pose, Overlay(reps=1))
        await asyncio.sleep(0.2)
        assert b.encoded == 0  # nobody watching: nothing encoded
        gens = {name: b.parts(waiters, name) for name in ("phone", "tablet")}
        tasks = {name: asyncio.ensure_future(_take(g, 5)) for name, g in gens.items()}
        while b.clients < 2:
            await asyncio.sleep(0.01)
        t0 = time.monotonic()
        feeder = threading.Thread(target=offer, daemon=True)
        feeder.start()
        got = {name: await t for name, t in tasks.items()}
        return got, time.monotonic() - t0

    try:
        got, elapsed = asyncio.run(main())
        offering.set()
        assert got["phone"] == got["tablet"]  # the same JPEGs, encoded once
        assert len(set(got["phone"])) == 5
        # 10 fps cap: 5 frames cannot come in much under 0.4 s although 100 fps were offered
        assert elapsed >= 0.35
        assert b.encoded <= 10 * elapsed + 2
        decoded = cv2.imdecode(np.frombuffer(got["phone"][0], np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape[1] == 320
        assert b.clients == 0
        assert "video client phone left" in caplog.text and "video client tablet left" in caplog.text
    finally:
        offering.set()
        b.stop()


def test_viewers_past_the_caps_get_fewer_frames_or_a_still(squat_and_pose):
    image, pose = squat_and_pose
    b = MjpegBroadcaster(WebSettings(stream_fps=30, video_full_viewers=1, video_max_viewers=2))
    b.start()
    offering = threading.Event()

    def offer() -> None:
        while not offering.is_set():
            b.submit(image, pose, Overlay())
            time.sleep(0.01)

    async def main() -> dict:
        waiters = b.attach(asyncio.get_running_loop())
        tiers = [b.admit(), b.admit(), b.admit()]  # three phones arrive at once: told apart
        assert tiers == ["full", "reduced", "still"] and b.clients == 3
        first = asyncio.ensure_future(_count(b.parts(waiters, "first", tier=tiers[0]), 2.0))
        reduced = asyncio.ensure_future(_count(b.parts(waiters, "second", tier=tiers[1]), 2.0))
        still = await b.still(waiters)
        got = {"full": await first, "reduced": await reduced, "still": still}
        for t in tiers:
            b.release(t)
        assert b.clients == 0 and b.admit() == "full"
        return got

    feeder = threading.Thread(target=offer, daemon=True)
    feeder.start()
    try:
        got = asyncio.run(main())
    finally:
        offering.set()
        b.stop()
    assert got["full"] >= 3 * got["reduced"] and got["reduced"] <= 3  # 1 frame/s past the first viewer
    assert got["still"][:2] == b"\xff\xd8"


async def _count(gen, seconds: float) -> int:
    n, t_end = 0, time.monotonic() + seconds
    async for part in gen:
        _check(part)
        n += 1
        if time.monotonic() > t_end:
            break
    await gen.aclose()
    return n


def test_the_newest_picture_at_once_and_stop_ends_streams(squat_and_pose):
    image, pose = squat_and_pose
    b = MjpegBroadcaster(WebSettings(stream_fps=30))
    b.start()

    async def main() -> tuple[bytes | None, list[bytes]]:
        waiters = b.attach(asyncio.get_running_loop())
        threading.Timer(0.1, lambda: b.submit(image, pose, Overlay())).start()
        tier = b.admit()  # a viewer counted: the encoder encodes
        jpeg = await b.still(waiters, timeout_s=2)
        b.release(tier)
        threading.Timer(0.2, b.stop).start()
        parts = [p async for p in b.parts(waiters, "late")]  # ends cleanly when the engine stops
        return jpeg, parts

    jpeg, parts = asyncio.run(main())
    assert jpeg is not None and jpeg[:2] == b"\xff\xd8"
    assert len(parts) == 1  # a new viewer gets the newest picture at once, then nothing new came


def test_the_picture_says_the_sessions_count_and_names_for_people():
    from hiitpi.live.contract import LiveState
    from hiitpi.web.mjpeg import overlay_for

    st = LiveState(running=True, workout="jumping_jack", phase="deep_squat", reps=2, total_reps=14)
    assert overlay_for(st) == Overlay(reps=14, workout="Jumping jack", phase="deep squat")
    assert overlay_for(LiveState(running=True, workout="squat", phase="-", total_reps=3)).phase == ""
    assert overlay_for(LiveState(running=False, workout="squat", total_reps=9)) == Overlay()


def test_frame_waiters_wake_at_a_notify_time_out_without_and_start_no_task():
    from hiitpi.web.mjpeg import FrameWaiters

    async def scenario() -> tuple[bool, bool, int]:
        waiters = FrameWaiters(asyncio.get_running_loop())
        tasks_seen = []

        def notify() -> None:
            tasks_seen.append(len(asyncio.all_tasks()))  # while wait() waits: only this test's task
            waiters.notify_threadsafe()

        threading.Timer(0.05, lambda: waiters.loop.call_soon_threadsafe(notify)).start()
        woken = await waiters.wait(2.0)
        timed_out = await waiters.wait(0.05)
        return woken, timed_out, tasks_seen[0]

    woken, timed_out, tasks = asyncio.run(scenario())
    assert woken and not timed_out
    assert tasks == 1  # asyncio.wait_for would have started one more per picture
