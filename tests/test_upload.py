"""Videos sent from a phone, end to end without a browser: the real web server (event loop), the
real upload worker with the real pose model on real clips (and odd videos made from them), a real
SQLite file. Every bad input gets a message and leaves nothing behind: no file, no session."""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests

from tests.browserkit import wait_for as _wait
from tests.conftest import free_port
from tests.uploadkit import (
    SQUAT,
    SQUAT_FILMED,
    SQUAT_REPS,
    UploadDashboard,
    ffprobe,
    make_video,
    truncate,
    upload_settings,
)


@pytest.fixture()
def clip(shared_data) -> Path:
    return shared_data / "clips" / SQUAT


@pytest.fixture()
def dash(settings_factory, tmp_path):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path))
    yield d
    d.close()


def _sessions(store) -> list:
    from hiitpi.store.queries import list_sessions

    return list_sessions(store).items


def _nothing_left(d: UploadDashboard) -> None:
    assert d.files("incoming") == [] and d.files("queue") == []
    assert _sessions(d.store) == []


# --- the whole way -------------------------------------------------------------------------------


def test_a_sent_clip_becomes_a_dated_session_with_its_reps_and_a_playable_video(dash, clip):
    from hiitpi.store.queries import session_detail

    r = dash.post(clip, name="IMG_2023.mp4")
    assert r.status_code == 201, r.text
    up = r.json()["upload"]
    assert up["status"] == "queued" and up["duration_s"] == pytest.approx(5.72, abs=0.05)
    job = dash.wait(up["id"])
    assert job["status"] == "done", job
    assert (job["reps"], job["no_reps"]) == (SQUAT_REPS, 0) and job["progress"] == 1.0
    sid = job["session_id"]
    assert dash.stored == [sid]  # the appliance's follow-up (the coach's summary) was called
    d = session_detail(dash.store, sid)
    s = d.session
    assert (s.source, s.player, s.workout, s.status, s.reps) == ("video", "Ana", "squat", "done", SQUAT_REPS)
    assert s.started_at == datetime.fromisoformat(SQUAT_FILMED)  # dated from the video's creation_time
    assert s.duration_s == pytest.approx(5.72, abs=0.05)
    # its totals as a live session keeps them: every attempt, the full reps, the convention
    assert (s.attempts, s.full_reps, s.counting) == (SQUAT_REPS, SQUAT_REPS, "judge")
    assert [i.attempts for i in d.intervals] == [SQUAT_REPS]
    reps = [r for r in d.reps if r.valid]
    assert len(reps) == SQUAT_REPS and all(r.full for r in reps)
    for rep in reps:  # every rep with its timings, in the video's own clock
        assert 0 <= rep.t_start < rep.t_end <= 5.8 and rep.eccentric_s and rep.concentric_s
    # the sent file is gone; the annotated video is kept, H.264 with byte ranges for the phone
    assert dash.files("incoming") == [] and dash.files("queue") == []
    (video,) = dash.files("videos")
    assert ffprobe(video)["streams"][0] == {"codec_name": "h264", "width": 1280, "height": 720}
    url = f"{dash.base}/media/session/{sid}.mp4"
    part = requests.get(url, headers={"Range": "bytes=0-1023"}, timeout=10)
    assert (
        part.status_code == 206 and len(part.content) == 1024 and part.headers["content-type"] == "video/mp4"
    )
    whole = requests.get(url + "?download=1", timeout=10)
    assert whole.status_code == 200 and whole.content == video.read_bytes()
    assert (
        "attachment" in whole.headers["content-disposition"]
        and "IMG_2023" in whole.headers["content-disposition"]
    )
    # the page the phone opens: the session with the video player and the mark
    page = requests.get(f"{dash.base}/api/uploads", timeout=10).json()["uploads"]
    assert [u["id"] for u in page] == [up["id"]]
    assert (page[0]["workout"], page[0]["title"]) == ("squat", "Squat")  # the page shows the title


def test_auto_mode_recognises_the_workout_of_a_sent_video(dash, shared_data):
    """workout "auto": the video is refereed in auto mode; the session is named after what was
    recognised, its interval and reps are that workout's (as a live auto session's are)."""
    from hiitpi.store.queries import session_detail

    jj = shared_data / "clips" / "jumping_jack" / "unknown550_jj_1.mp4"  # 11 jumping jacks
    r = dash.post(jj, workout="auto", keep=False)
    assert r.status_code == 201 and r.json()["upload"]["workout"] == "auto", r.text
    job = dash.wait(r.json()["upload"]["id"])
    assert job["status"] == "done" and job["reps"] == 11, job
    d = session_detail(dash.store, job["session_id"])
    assert (d.session.workout, d.session.reps, d.session.source) == ("jumping_jack", 11, "video")
    assert [(iv.workout, iv.reps) for iv in d.intervals] == [("jumping_jack", 11)]
    assert [r.index for r in d.reps] == list(range(1, len(d.reps) + 1))
    assert dash.files("videos") == []  # not kept


def test_the_request_guard_lets_the_page_send_and_refuses_other_origins(dash, clip):
    """Issue 15's guard in front of the upload and video routes: a same-origin page's upload
    passes, another origin's (or another port's) is refused before it is read, and a session
    number in the video's URL is a strict number."""
    host = dash.base.removeprefix("http://")
    for origin, site in (
        ("http://evil.example", "cross-site"),
        (f"http://{host.split(':')[0]}:1", "same-site"),
    ):
        no = dash.post(clip, headers={"Origin": origin, "Sec-Fetch-Site": site})
        assert no.status_code == 403, no.text
    _nothing_left(dash)
    ok = dash.post(clip, headers={"Origin": dash.base, "Sec-Fetch-Site": "same-origin"})
    assert ok.status_code == 201, ok.text
    for sid in ("0", "%C2%B2", "9" * 30, "-1", "1e3"):
        bad = requests.get(f"{dash.base}/media/session/{sid}.mp4", timeout=10)
        assert bad.status_code in (400, 404), (sid, bad.status_code, bad.text)
    dash.wait(ok.json()["upload"]["id"])


def test_cli_save_takes_the_same_path(tmp_path, clip, model_mirror):
    """`hiitpi analyze VIDEO --save --player NAME`: a session like an upload's, from the shell."""
    import json
    import subprocess
    import sys

    from hiitpi.store.db import Store
    from hiitpi.store.queries import session_detail
    from tests.conftest import REPO

    env = {**os.environ, "HIITPI_MODEL_MIRROR": str(model_mirror), "HIITPI_DATA_DIR": str(tmp_path / "d")}
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(clip), "--workout", "squat", "--save", "--player", "Bo", "--json", "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert out["reps"] == SQUAT_REPS and out["started_at"] == SQUAT_FILMED
    store = Store.open(tmp_path / "d" / "hiitpi.db")
    try:
        s = session_detail(store, out["session_id"]).session
        assert (s.source, s.player, s.reps) == ("video", "Bo", SQUAT_REPS)
    finally:
        store.close()
    assert Path(out["annotated_video"]).is_file()
    res = subprocess.run(
        [sys.executable, "-m", "hiitpi", "analyze", str(clip), "--save"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=60,
    )  # fmt: skip
    assert res.returncode == 2 and "--player" in res.stderr and "Traceback" not in res.stderr


# --- refused before or while it streams ------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs, status, message",
    [
        ({"player": "  "}, 400, "player name is empty"),
        ({"workout": "zumba"}, 400, "zumba"),
        ({"workout": ""}, 400, "pick the workout"),
        ({"headers": {"X-Upload-Name": None}}, 400, "upload page"),
    ],
    ids=["no-player", "unknown-workout", "no-workout", "no-upload-header"],
)
def test_a_bad_form_is_refused_before_the_body(dash, clip, kwargs, status, message):
    r = dash.post(clip, **kwargs)
    assert r.status_code == status and message in r.json()["error"], r.text
    _nothing_left(dash)


def test_empty_and_oversized_bodies(settings_factory, tmp_path, clip):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path, max_mb=1))
    try:
        assert d.post(b"").status_code == 400
        big = d.post(clip)  # 2.4 MB: refused on its Content-Length by the request guard, before it is read
        assert big.status_code == 413 and f"at most {1024 * 1024} bytes" in big.json()["error"], big.text

        def chunks():  # no Content-Length: the guard wants one (a browser always sends it)
            data = clip.read_bytes()
            for i in range(0, len(data), 64 * 1024):
                yield data[i : i + 64 * 1024]

        streamed = requests.post(
            f"{d.base}/api/uploads?player=Ana&workout=squat",
            data=chunks(),
            headers={"X-Upload-Name": "big.mp4"},
            timeout=60,
        )
        assert streamed.status_code == 411 and "Content-Length" in streamed.json()["error"], streamed.text
        _nothing_left(d)
    finally:
        d.close()


def test_an_upload_cut_off_midway_leaves_nothing(dash, clip):
    data = clip.read_bytes()
    with socket.create_connection(("127.0.0.1", dash.web.port), timeout=10) as s:
        head = (
            "POST /api/uploads?player=Ana&workout=squat HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"X-Upload-Name: cut.mp4\r\nContent-Type: video/mp4\r\nContent-Length: {len(data)}\r\n\r\n"
        )
        s.sendall(head.encode() + data[: len(data) // 3])
        deadline = time.monotonic() + 10
        while not dash.files("incoming") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert dash.files("incoming"), "the part file should exist while the upload streams"
    # the phone went away: the part file is deleted and nothing is queued
    deadline = time.monotonic() + 10
    while dash.files("incoming") and time.monotonic() < deadline:
        time.sleep(0.05)
    _nothing_left(dash)
    assert requests.get(f"{dash.base}/api/uploads", timeout=10).json()["uploads"] == []


def test_no_disk_space_and_a_full_queue(settings_factory, tmp_path, clip):
    from hiitpi.offline.media import MB, free_bytes

    free_mb = free_bytes(tmp_path) // MB
    d = UploadDashboard(upload_settings(settings_factory, tmp_path, min_free_mb=free_mb + 1000))
    try:
        r = d.post(clip)
        assert r.status_code == 507 and "not enough free disk space" in r.json()["error"], r.text
        _nothing_left(d)
    finally:
        d.close()
    d = UploadDashboard(upload_settings(settings_factory, tmp_path, max_queued=1), worker=False)
    try:
        assert d.post(clip).status_code == 201  # waits: no worker runs
        r = d.post(clip)
        assert r.status_code == 429 and "waiting" in r.json()["error"]
        assert len(d.files("queue")) == 1
    finally:
        d.close()


@pytest.mark.parametrize(
    "make, status, message",
    [
        (
            lambda c, t: (t / "notes.mp4").write_text("workout notes\n" * 500) and t / "notes.mp4",
            422,
            "not a video",
        ),
        (lambda c, t: truncate(make_video("moov_last", c, t / "w.mp4"), t / "cut.mp4"), 422, "incomplete"),
        (lambda c, t: truncate(make_video("faststart", c, t / "f.mp4"), t / "cut.mp4"), 422, "cut off"),
    ],
    ids=["not-a-video", "cut-before-its-index", "cut-off-frames"],
)
def test_what_is_not_a_whole_video_is_refused_when_it_arrives(dash, clip, tmp_path, make, status, message):
    r = dash.post(make(clip, tmp_path))
    assert r.status_code == status and message in r.json()["error"], r.text
    assert r.json()["hint"]
    _nothing_left(dash)


def test_a_video_over_the_duration_limit(settings_factory, tmp_path, clip):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path, max_minutes=0.05))
    try:
        r = d.post(clip)
        assert r.status_code == 422 and "at most 0.05" in r.json()["error"], r.text
        _nothing_left(d)
    finally:
        d.close()


def test_not_paired_is_refused(settings_factory, tmp_path, clip):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path), auth=True)
    try:
        for method, path in (
            ("post", "/api/uploads?player=A&workout=squat"),
            ("get", "/api/uploads"),
            ("get", "/media/session/1.mp4"),
        ):
            r = getattr(requests, method)(
                d.base + path,
                data=b"x" if method == "post" else None,
                timeout=10,
                headers={"X-Upload-Name": "a.mp4"},
            )
            assert r.status_code == 401, (path, r.text)
        _nothing_left(d)
    finally:
        d.close()


# --- refused or noted by the analysis ----------------------------------------------------------------


def test_a_video_with_nobody_in_it_fails_without_a_session(dash, clip, tmp_path):
    r = dash.post(make_video("no_person", clip, tmp_path / "empty-room.mp4"))
    assert r.status_code == 201, r.text
    job = dash.wait(r.json()["upload"]["id"])
    assert job["status"] == "failed" and "nobody was seen" in job["message"], job
    assert "film the whole body" in job["message"] and job["session_id"] is None
    _nothing_left(dash)
    assert dash.files("videos") == []  # its annotated video was written, then deleted


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, note, size",
    [
        ("portrait", "portrait video (720×1280)", (720, 1280)),
        ("phone_rotated", "turned upright", (1280, 720)),
        ("vfr", "variable frame rate", (1280, 720)),
        ("4k", "3840×2160 video", (1280, 720)),
    ],
)
def test_odd_phone_videos_are_refereed_with_a_note(dash, clip, tmp_path, kind, note, size):
    from hiitpi.store.queries import session_detail

    r = dash.post(make_video(kind, clip, tmp_path / f"{kind}.mp4"))
    assert r.status_code == 201, r.text
    assert any(note in n for n in r.json()["upload"]["notes"]), r.json()
    job = dash.wait(r.json()["upload"]["id"])
    assert job["status"] == "done", job
    d = session_detail(dash.store, job["session_id"])
    if kind == "4k":  # the first 3 s: the first squat
        assert d.session.reps == 1
    elif kind == "portrait":  # the person lies sideways in a turned picture: whatever is counted is real
        assert d.session.reps >= 0
    else:  # the same squats as the original clip, timed in the video's own clock
        assert d.session.reps == SQUAT_REPS
        bottoms = sorted(r.t_start + r.eccentric_s for r in d.reps if r.valid)
        assert bottoms[0] == pytest.approx(1.5, abs=0.4) and bottoms[1] == pytest.approx(4.4, abs=0.4)
    (video,) = dash.files("videos")
    s = ffprobe(video)["streams"][0]
    assert (s["codec_name"], s["width"], s["height"]) == ("h264", *size)
    assert d.session.started_at.year == datetime.now(UTC).year  # no filming date: dated when received


def test_a_video_filmed_in_the_dark_is_refereed_with_a_note(dash, clip, tmp_path):
    """A twentieth of the light: brightened by the exposure's most, still counted, and the session
    says it was filmed too dark to count reliably (the live page's "Too dark" for a sent video)."""
    from hiitpi.store.queries import session_detail

    r = dash.post(make_video("dark", clip, tmp_path / "evening.mp4"))
    assert r.status_code == 201, r.text
    assert not any("dark" in n for n in r.json()["upload"]["notes"])  # not known before the analysis
    job = dash.wait(r.json()["upload"]["id"])
    assert job["status"] == "done", job
    (note,) = [n for n in job["notes"] if "too dark" in n]
    assert note.startswith("filmed too dark to count reliably:") and "film with a light on" in note
    assert session_detail(dash.store, job["session_id"]).session.reps == SQUAT_REPS


@pytest.mark.slow
def test_a_60fps_clip_counts_what_hiitpi_analyze_counts(dash, shared_data):
    from hiitpi.offline.analyze import analyze_video

    clip = shared_data / "clips" / "high_knees" / "venkat_high_knees_gym.mp4"  # 60 fps, 400 frames
    r = dash.post(clip, workout="high_knees", keep=False)
    assert r.status_code == 201 and any("60 fps" in n for n in r.json()["upload"]["notes"]), r.text
    job = dash.wait(r.json()["upload"]["id"])
    offline = analyze_video(clip, dash.settings, "high_knees", progress=False)
    assert offline.frames == 400  # every frame analysed, none skipped
    assert job["status"] == "done" and job["reps"] == offline.reps and job["reps"] >= 15, job
    assert dash.files("videos") == []  # not kept: never written


# --- the queue across a restart, the pause, the priority ------------------------------------------------


def test_the_queue_survives_a_restart_and_waits_for_a_live_session(settings_factory, tmp_path, clip):
    from hiitpi.store.uploads import get_upload

    training = [True]
    settings = upload_settings(settings_factory, tmp_path)
    d = UploadDashboard(settings, session_running=lambda: training[0])
    try:
        first = d.post(clip).json()["upload"]["id"]
        second = d.post(clip, player="Bo").json()["upload"]["id"]
        job = d.wait(first, statuses=("analysing",), timeout=60)
        deadline = time.monotonic() + 60
        while "paused" not in (job["message"] or "") and time.monotonic() < deadline:
            time.sleep(0.1)
            job = d.job(first)
        assert "paused while a live session runs" in job["message"], job
        assert d.job(second)["status"] == "queued" and d.job(second)["position"] == 1
        # the analysis runs in a process of its own at [upload] nice, its worker thread too
        assert d.worker.child_pid not in (None, os.getpid())
        assert os.getpriority(os.PRIO_PROCESS, d.worker.child_pid) >= settings.upload.nice
        tid = d.worker._thread.native_id
        assert os.getpriority(os.PRIO_PROCESS, tid) >= settings.upload.nice
        assert os.getpriority(os.PRIO_PROCESS, 0) < settings.upload.nice  # not the appliance
        health = d.worker.health()
        assert health.ok and "paused" in health.detail
        d.worker.stop()  # the appliance stops mid-analysis
        assert get_upload(d.store, first).status == "queued"  # back in the queue, its file kept
        assert len(d.files("queue")) == 2 and _sessions(d.store) == []
    finally:
        d.close()
    training[0] = False
    d = UploadDashboard(settings)  # the next start
    try:
        assert d.wait(first)["status"] == "done" and d.wait(second)["status"] == "done"
        assert sorted(s.player for s in _sessions(d.store)) == ["Ana", "Bo"]
        assert d.files("queue") == []
    finally:
        d.close()


def test_an_analysis_process_that_dies_fails_its_upload_and_leaves_nothing(settings_factory, tmp_path, clip):
    import signal

    training = [True]
    d = UploadDashboard(upload_settings(settings_factory, tmp_path), session_running=lambda: training[0])
    try:
        token = d.post(clip).json()["upload"]["id"]
        _wait("the paused analysis", lambda: "paused" in (d.job(token)["message"] or ""), 60, 0.2)
        pid = d.worker.child_pid
        os.kill(pid, signal.SIGKILL)  # the kernel's OOM killer, a crash in native code
        training[0] = False
        job = d.wait(token)
        assert job["status"] == "failed" and "analysis process ended without an answer" in job["message"], job
        assert d.worker.alive() and d.worker.child_pid is None
        _nothing_left(d)
        assert d.files("videos") == []  # its unfinished annotated video is gone too
        again = d.post(clip).json()["upload"]["id"]  # the worker goes on with the next one
        assert d.wait(again)["status"] == "done"
    finally:
        d.close()


def test_a_waiting_upload_can_be_cancelled(settings_factory, tmp_path, clip):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path), worker=False)
    try:
        token = d.post(clip).json()["upload"]["id"]
        r = requests.post(
            f"{d.base}/api/uploads/{token}/cancel", headers={"X-Requested-With": "t"}, timeout=10
        )
        assert r.status_code == 200 and r.json()["upload"]["status"] == "cancelled"
        again = requests.post(
            f"{d.base}/api/uploads/{token}/cancel", headers={"X-Requested-With": "t"}, timeout=10
        )
        assert again.status_code == 409
        assert requests.get(f"{d.base}/api/uploads/{'0' * 32}", timeout=10).status_code == 404
        assert requests.get(f"{d.base}/api/uploads/nope", timeout=10).status_code == 404
        d.worker.start()  # a cancelled upload's file is tidied away, never analysed
        assert d.files("queue") == []
    finally:
        d.close()


# --- retention -------------------------------------------------------------------------------------


def test_retention_deletes_old_videos_and_keeps_the_reps(dash, clip):
    from hiitpi.offline.media import prune
    from hiitpi.store.queries import session_detail

    sid = dash.wait(dash.post(clip).json()["upload"]["id"])["session_id"]
    (video,) = dash.files("videos")
    assert prune(dash.store, dash.settings) == []  # new: kept
    old = time.time() - 31 * 86400
    os.utime(video, (old, old))
    assert prune(dash.store, dash.settings) == [sid]
    assert dash.files("videos") == []
    assert session_detail(dash.store, sid).session.reps == SQUAT_REPS  # the session stays
    r = requests.get(f"{dash.base}/media/session/{sid}.mp4", timeout=10)
    assert r.status_code == 404 and "no annotated video" in r.json()["error"]


# --- inside the whole appliance -------------------------------------------------------------------


@pytest.mark.slow
def test_the_appliance_waits_for_the_live_session_then_referees_and_summarises(settings_factory, shared_data):
    """`hiitpi serve` in this process (its private Redis, the engine on a real clip, the coach):
    a video sent while someone trains waits for the live session (the real engine's state), is
    refereed after it, and gets the coach's summary like a live session."""
    import redis

    from hiitpi.appliance import Appliance
    from hiitpi.live.contract import LiveKeys
    from hiitpi.live.reader import LiveReader
    from hiitpi.pairing import create_secrets
    from hiitpi.store.queries import session_detail

    settings = settings_factory(
        {
            # nothing there: a private one, with this password (the private Redis wants one)
            ("redis", "url"): f"redis://:test-pw@127.0.0.1:{free_port()}/0",
            ("capture", "source"): str(shared_data / "clips" / "push_up" / "tayyab_pushup2.mp4"),  # 15.7 s
            ("referee", "workout"): "push_up",
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
            ("upload", "min_free_mb"): 0,
        }
    )
    _, code = create_secrets(settings.general.data_dir)
    app = Appliance(settings)
    app.pairing_code = code
    app.start()
    try:
        assert app.settings.upload.during_session == "pause" and app.uploads is not None
        state = redis.Redis.from_url(settings.redis.url, decode_responses=True)
        base = f"http://127.0.0.1:{settings.web.port}"
        phone = requests.Session()
        assert phone.post(base + "/login", data={"code": code}, allow_redirects=False, timeout=5).ok
        _wait("the engine's first state", lambda: state.hget("hiitpi:state", "updated"), 60)
        if state.hget("hiitpi:state", "running") != "1":  # nothing starts by itself: start one
            LiveReader(settings.redis.url, LiveKeys()).send_command("start", player="Bo", workout="push_up")
        _wait("the live session", lambda: state.hget("hiitpi:state", "running") == "1", 60)
        q = {"player": "Ana", "workout": "squat", "keep": "1"}
        r = phone.post(
            base + "/api/uploads",
            params=q,
            data=(shared_data / "clips" / SQUAT).read_bytes(),
            headers={"X-Upload-Name": "park.mp4"},
            timeout=60,
        )
        assert r.status_code == 201, r.text
        token = r.json()["upload"]["id"]

        def job() -> dict:
            return phone.get(f"{base}/api/uploads/{token}", timeout=10).json()["upload"]

        paused = _wait(
            "the upload to wait", lambda: "paused while a live session" in (job()["message"] or ""), 60, 0.2
        )
        assert paused and state.hget("hiitpi:state", "running") == "1"
        _wait("the live clip to end", lambda: state.hget("hiitpi:state", "running") == "0", 90)
        done = _wait("the analysis", lambda: (j := job())["status"] in ("done", "failed") and j, 240, 0.2)
        assert done["status"] == "done" and done["reps"] == SQUAT_REPS, done
        sid = done["session_id"]
        d = _wait("the coach's summary", lambda: (x := session_detail(app.store, sid)).summary and x, 60, 0.2)
        assert d.session.source == "video" and d.session.summary_kind == "template"  # no LLM here
        assert "squat" in d.summary.lower() and str(SQUAT_REPS) in d.summary
        sources = sorted(s.source for s in _sessions(app.store))
        assert sources == ["live", "video"]
        state.close()
    finally:
        app.stop()
