"""The live engine end to end: a real clip, the real model and referee, a real redis-server."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from hiitpi.capture.base import SourceOpenError
from hiitpi.capture.video import VideoFileSource
from hiitpi.config import load_settings
from hiitpi.engine import Engine
from hiitpi.live.contract import LiveKeys
from hiitpi.live.reader import LiveReader

pytestmark = pytest.mark.slow

CLIP = "jumping_jack/afrl_jumpingjacks.mp4"  # 126 frames at 30 fps, 3 reps
WORKOUT = "jumping_jack"
REPO = Path(__file__).resolve().parent.parent


def make_settings(tmp_path, model_mirror, redis_url, extra: dict | None = None):
    overrides = {
        ("general", "data_dir"): str(tmp_path / "data"),
        ("models", "mirror"): str(model_mirror),
        ("redis", "url"): redis_url,
        ("referee", "workout"): WORKOUT,
    }
    overrides.update(extra or {})
    return load_settings(None, env={}, overrides=overrides)


def _recording_engine(settings, clip: Path, tmp_path: Path):
    """A started engine on the looping clip that waits for a start command, with a recorder."""
    from hiitpi.store.db import Store
    from hiitpi.store.recorder import SessionRecorder

    store = Store.open(tmp_path / "h.db")
    recorder = SessionRecorder(store, flush_interval_s=0.1)
    engine = Engine(
        settings,
        source_factory=lambda: VideoFileSource(clip, paced=True, loop=True),
        recorder=recorder,
        autostart=False,
    )
    engine.start()
    return store, recorder, engine


@pytest.fixture(scope="module")
def clip(shared_data) -> Path:
    return shared_data / "clips" / CLIP


@pytest.fixture(scope="module")
def analyze_result(clip, model_mirror, tmp_path_factory) -> dict:
    """What `hiitpi analyze --json` says about the clip (the offline path, a separate process)."""
    out = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(clip), "--workout", WORKOUT, "--json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
        env={
            "PATH": "/usr/bin:/bin",
            "HIITPI_MODEL_MIRROR": str(model_mirror),
            "HIITPI_DATA_DIR": str(tmp_path_factory.mktemp("analyze")),
        },
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _follow(reader: LiveReader, seen: list, stop: threading.Event) -> None:
    for e in reader.follow("0-0", block_ms=100, stop=stop):
        seen.append((e.id, e.type, e.kind, e.seq, e.count))


def test_clip_to_redis_count_equals_analyze_and_readers_agree(
    tmp_path, model_mirror, redis_url, clip, analyze_result
):
    settings = make_settings(tmp_path, model_mirror, redis_url)
    keys = LiveKeys(settings.redis.prefix)
    readers = [LiveReader(redis_url, keys) for _ in range(2)]
    seen: list[list] = [[], []]
    stop = threading.Event()
    threads = [
        threading.Thread(target=_follow, args=(r, s, stop)) for r, s in zip(readers, seen, strict=True)
    ]
    for t in threads:
        t.start()
    engine = Engine(settings, source_factory=lambda: VideoFileSource(clip, paced=False))
    engine.start()
    try:
        # a file is decoded in the analysis thread: no capture thread, no hand-over; and the
        # supervisor sees the capture alive (it would restart it otherwise)
        assert not [t.name for t in threading.enumerate() if t.name.startswith("capture")]
        assert engine.capture_alive
        assert engine.wait(timeout=120)
        time.sleep(0.3)
    finally:
        engine.stop()
        stop.set()
        for t in threads:
            t.join(3)
    assert engine.capture_alive  # a file that has ended is not a dead camera
    state = readers[0].state()
    assert analyze_result["reps"] >= 1
    assert int(state["reps"]) == analyze_result["reps"]
    assert int(state["no_reps"]) == analyze_result["no_reps"]
    assert state["running"] == "0" and state["workout"] == WORKOUT
    # every frame analysed (an unpaced file loses none)
    assert engine.stats.frames == analyze_result["frames"] == 126
    assert state["dropped"] == "0"
    # two viewers saw exactly the same entries in the same order, and nothing was consumed
    assert seen[0] == seen[1]
    history = readers[0].history()
    assert [e.id for e in history] == [s[0] for s in seen[0]]
    kinds = [e.kind for e in history if e.type == "event"]
    assert kinds[0] == "session_start" and kinds[-1] == "session_stop"
    assert kinds.count("rep") == analyze_result["reps"]
    samples = [e for e in history if e.type == "sample"]
    # samples at the viewers' rate ([redis] sample_fps), not one per frame; each rep beside its frame's
    seqs = [e.seq for e in samples]
    assert seqs == sorted(set(seqs)) and set(seqs) <= set(range(126)) and seqs[0] == 0
    assert len(seqs) < 126
    assert all(history[i + 1].type == "sample" for i, e in enumerate(history) if e.kind == "rep")
    assert all(e.stages.get("pose", 0) > 0 for e in samples)
    assert sum(e.keypoints is not None for e in samples) > 0.8 * len(samples)
    for r in readers:
        r.close()


def test_redis_killed_mid_clip_same_count_and_reconnect_reported(
    tmp_path, model_mirror, redis_server, redis_url, clip, analyze_result, caplog
):
    from hiitpi.store.db import Store
    from hiitpi.store.queries import session_detail
    from hiitpi.store.recorder import SessionRecorder

    caplog.set_level(logging.WARNING, logger="hiitpi.live.publisher")
    settings = make_settings(tmp_path, model_mirror, redis_url)
    store = Store.open(tmp_path / "h.db")
    recorder = SessionRecorder(store, flush_interval_s=0.1)
    engine = Engine(settings, source_factory=lambda: VideoFileSource(clip, paced=False), recorder=recorder)
    engine.start()
    try:
        while engine.stats.frames < 30:
            time.sleep(0.01)
        redis_server.stop()
        down_at = engine.stats.frames
        time.sleep(0.8)
        redis_server.start()  # same port, empty
        assert engine.wait(timeout=120)
        deadline = time.monotonic() + 10
        while engine.publisher.degraded and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.3)
    finally:
        engine.stop()
    assert down_at < 126 and engine.stats.frames == 126  # the referee kept going through the outage
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    state = reader.state()
    assert int(state["reps"]) == analyze_result["reps"]
    assert state["redis_reconnects"] == "1"
    statuses = [e for e in reader.history() if e.kind == "status"]
    assert statuses and statuses[0].data["message"] == "live bus reconnected"
    assert statuses[0].data["samples_lost"] > 0
    assert "reconnected" in caplog.text
    assert engine.publisher.reconnects == 1
    reader.close()
    # the session was saved whole, outage or not
    recorder.close()
    row = session_detail(store, 1).session
    assert (row.reps, row.no_reps, row.status) == (analyze_result["reps"], analyze_result["no_reps"], "done")
    store.close()


class StallingVideo(VideoFileSource):
    """A real clip whose first opening stops delivering after 20 frames (a hung camera)."""

    threaded = True  # a camera: read in a capture thread, watched by the watchdog
    opened = 0

    def __init__(self, path, release: threading.Event):
        super().__init__(path, paced=True, loop=True)
        self.release = release

    def open(self):
        super().open()
        type(self).opened += 1
        self.first = type(self).opened == 1

    def read(self):
        if self.first and self._index >= 20:
            self.release.wait(10)
        return super().read()


def test_source_that_stops_is_restarted_by_the_watchdog(tmp_path, model_mirror, redis_url, clip, caplog):
    caplog.set_level(logging.WARNING, logger="hiitpi.capture.runner")
    settings = make_settings(tmp_path, model_mirror, redis_url, {("capture", "stall_timeout_s"): 0.5})
    release = threading.Event()
    StallingVideo.opened = 0
    engine = Engine(settings, source_factory=lambda: StallingVideo(clip, release))
    engine.start()
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    try:
        deadline = time.monotonic() + 15
        while engine.capture.restarts == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.capture.restarts == 1
        frames_at_restart = engine.stats.frames
        while engine.stats.frames < frames_at_restart + 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert engine.stats.frames >= frames_at_restart + 10  # frames flow again
        assert reader.state()["source_restarts"] == "1"
        assert engine.analysing  # the analysis thread survived the source's restart
    finally:
        release.set()
        engine.stop()
        reader.close()
    assert "stalled" in caplog.text and "restarted" in caplog.text


def test_source_that_cannot_open_is_a_clear_error(tmp_path, model_mirror, redis_url):
    settings = make_settings(
        tmp_path, model_mirror, redis_url, {("capture", "source"): str(tmp_path / "x.mp4")}
    )
    before = threading.active_count()
    engine = Engine(settings)
    with pytest.raises(SourceOpenError, match="not a video file"):
        engine.start()
    time.sleep(0.3)
    assert threading.active_count() <= before  # everything started was stopped again
    engine = Engine(settings, source_factory=lambda: VideoFileSource(tmp_path / "gone.mp4"))
    with pytest.raises(SourceOpenError, match="does not exist"):
        engine.start()


def test_commands_start_switch_stop_and_store(tmp_path, model_mirror, redis_url, clip):
    from hiitpi.store.queries import session_detail

    settings = make_settings(tmp_path, model_mirror, redis_url)
    store, recorder, engine = _recording_engine(settings, clip, tmp_path)
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    try:
        time.sleep(0.3)
        ok = reader.wait_command(
            reader.send_command("start", player="ana", workout="jumping_jack"), timeout_s=10
        )
        assert ok is not None and ok[0], ok
        st = reader.state()
        assert (st["running"], st["player"], st["workout"]) == ("1", "ana", "jumping_jack")
        bad = reader.wait_command(reader.send_command("switch", workout="no_such_workout"), timeout_s=10)
        assert bad is not None and not bad[0] and "no workout rules named" in bad[1]
        ok = reader.wait_command(reader.send_command("switch", workout="squat"), timeout_s=10)
        assert ok is not None and ok[0]
        assert reader.state()["workout"] == "squat"
        ok = reader.wait_command(reader.send_command("stop"), timeout_s=10)
        assert ok is not None and ok[0]
        assert reader.state()["running"] == "0"
        again = reader.wait_command(reader.send_command("stop"), timeout_s=10)
        assert again is not None and not again[0] and "nothing to stop" in again[1]
        assert engine.live_state().player == "ana"  # the ended session stays on show
    finally:
        engine.stop()
        reader.close()
        recorder.close()
    kinds = [
        e.kind for e in LiveReader(redis_url, LiveKeys(settings.redis.prefix)).history() if e.type == "event"
    ]
    assert kinds[:1] == ["session_start"] and "interval_start" in kinds and kinds[-1] == "session_stop"
    detail = session_detail(store, 1)
    assert detail is not None
    store.close()


def test_video_clients_get_frames_from_the_engine(tmp_path, model_mirror, redis_url, clip):
    settings = make_settings(tmp_path, model_mirror, redis_url, {("web", "stream_fps"): 10.0})
    from hiitpi.web.mjpeg import MjpegBroadcaster

    video = MjpegBroadcaster.from_settings(settings)
    video.start()
    engine = Engine(
        settings, source_factory=lambda: VideoFileSource(clip, paced=True, loop=True), sinks=(video,)
    )
    engine.start()
    try:
        import asyncio

        async def watch() -> list[bytes]:
            gen = video.parts(video.attach(asyncio.get_running_loop()), "phone")
            parts = [await anext(gen) for _ in range(3)]
            await gen.aclose()
            return parts

        parts = asyncio.run(watch())
        assert all(b"\xff\xd8" in p for p in parts)
        assert video.clients == 0
    finally:
        engine.stop()
        video.stop()


def test_hiit_program_switches_rests_and_finishes(tmp_path, model_mirror, redis_url, clip):
    from hiitpi.store.queries import session_detail

    rules = tmp_path / "rules"
    (rules / "programs").mkdir(parents=True)
    for f in (REPO / "rules").glob("*.toml"):
        (rules / f.name).symlink_to(f)
    (rules / "programs" / "quick.toml").write_text(
        'name = "quick"\ntitle = "Quick"\nrounds = 2\n\n'
        '[[blocks]]\nworkout = "jumping_jack"\nwork_s = 1.5\nrest_s = 1.0\n'
    )
    settings = make_settings(tmp_path, model_mirror, redis_url, {("referee", "rules_dir"): str(rules)})
    store, recorder, engine = _recording_engine(settings, clip, tmp_path)
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    try:
        ok = reader.wait_command(reader.send_command("start", player="bo", workout="quick"), timeout_s=10)
        assert ok is not None and ok[0], ok
        time.sleep(0.5)
        st = reader.state()
        assert (st["program"], st["round"], st["rounds"], st["segment"]) == ("quick", "1", "2", "work")
        deadline = time.monotonic() + 15
        while engine.session is not None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert engine.session is None  # the program ended by itself after 4 s of clip time
    finally:
        engine.stop()
        recorder.close()
        reader.close()
    history = LiveReader(redis_url, LiveKeys(settings.redis.prefix)).history()
    engine_kinds = {"session_start", "session_stop", "interval_start", "interval_end", "rest_start"}
    kinds = [e.kind for e in history if e.kind in engine_kinds]
    assert kinds == ["session_start", "rest_start", "interval_end", "interval_start", "session_stop"]
    stop = next(e for e in history if e.kind == "session_stop")
    # the session's total is every rep event of both work intervals (none counted while resting)
    assert stop.data["total_reps"] == sum(e.kind == "rep" for e in history)
    final = LiveReader(redis_url, LiveKeys(settings.redis.prefix)).state()
    assert final["running"] == "0" and final["program"] == "quick"  # the result card is titled by it
    detail = session_detail(store, 1)
    assert len(detail.intervals) == 2
    store.close()


def _served(settings, video: Path) -> Engine:
    """The engine run over ``video`` (unpaced) to its end, then stopped."""
    engine = Engine(settings, source_factory=lambda: VideoFileSource(video, paced=False))
    engine.start()
    try:
        assert engine.wait(timeout=120)
        time.sleep(0.3)
    finally:
        engine.stop()
    return engine


def test_a_camera_on_its_side_is_counted_as_upright_and_the_model_then_sees_it_upright(
    tmp_path, model_mirror, redis_url, clip, analyze_result, turned_clip
):
    # the clip as a camera stood on its side films it (up points right in the picture)
    turned = turned_clip(clip, tmp_path / "turned.mp4")
    settings = make_settings(tmp_path, model_mirror, redis_url)
    engine = _served(settings, turned)
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    assert int(reader.state()["reps"]) == analyze_result["reps"] == 3
    assert engine.stage.turn == 90  # the pose model saw the rest of the clip upright
    # the live page is told (it says "Camera on its side: counted as if upright.")
    assert reader.live_state().turn == 90
    assert not reader.live_state().dark  # and the room is lit
    reader.close()


def test_a_room_too_dark_for_the_exposure_is_said_and_its_reps_still_kept(
    tmp_path, model_mirror, redis_url, clip, analyze_result, camera_clips
):
    """The clip in a room with a twentieth of its light: the pose model's input is brightened by the
    exposure's most and the live state says the picture is still too dark (the page: "Too dark to
    count reliably"); its reps are still counted, as in the lit clip."""
    dark = tmp_path / "dark.mp4"
    assert camera_clips.change_video(clip, dark, camera_clips.Camera(max_side=100_000, dim=0.05)) > 0
    settings = make_settings(tmp_path, model_mirror, redis_url)
    engine = _served(settings, dark)
    assert engine.estimator.frame_gain == engine.estimator.exposure.max_gain
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
    st = reader.live_state()
    assert st.dark
    assert st.reps == analyze_result["reps"] == 3
    reader.close()
