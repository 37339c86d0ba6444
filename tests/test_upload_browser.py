"""Sending a workout from the phone, in real headless Chromium: the upload page with a real clip,
the real worker and pose model, the session page playing the annotated H.264 video.

Screenshots (390 px and 1280 px) of the upload page and the session go to test-artifacts/.
"""

from __future__ import annotations

import time

import pytest

from tests.browserkit import ARTIFACTS, PHONE
from tests.browserkit import text_of as _text
from tests.browserkit import wait_for as _wait
from tests.uploadkit import SQUAT, SQUAT_REPS, UploadDashboard, upload_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def dash(settings_factory, tmp_path, redis_url):
    d = UploadDashboard(upload_settings(settings_factory, tmp_path, redis_url))
    yield d
    d.close()


def _pick(d, path) -> None:
    from selenium.webdriver.common.by import By

    _wait("the upload form", lambda: d.find_elements(By.ID, "upload-file"))
    d.find_element(By.ID, "upload-file").send_keys(str(path))


def _fill(d, player: str, workout: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select

    field = d.find_element(By.ID, "upload-player")
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.BACKSPACE)
    field.send_keys(player)
    Select(d.find_element(By.ID, "upload-workout")).select_by_value(workout)


def test_send_a_clip_from_the_page_and_play_its_annotated_video(dash, browser, shared_data):
    from selenium.webdriver.common.by import By

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    clip = shared_data / "clips" / SQUAT
    d = browser
    d.set_window_size(*PHONE)  # a phone's 390 px (headless Chromium's own window is 500)
    d.get(dash.base + "/upload")
    _wait("the upload page", lambda: _text(d, "#upload-jobs") == "No video sent yet.")
    film = d.find_element(By.ID, "upload-film")  # the phone's camera, straight from the page
    assert film.get_attribute("accept") == "video/*" and film.get_attribute("capture") == "environment"
    options = [o.get_attribute("value") for o in d.find_elements(By.CSS_SELECTOR, "#upload-workout option")]
    assert options[0] == "auto" and "squat" in options  # auto mode: the workout recognised
    d.find_element(By.ID, "upload-send").click()
    _wait("the pick-first message", lambda: "Pick or film a video first" in _text(d, "#upload-msg"))
    _pick(d, clip)
    _wait("the file's size and duration", lambda: "0:06" in _text(d, "#upload-file-info"))
    _fill(d, "Ana", "squat")
    d.save_screenshot(str(ARTIFACTS / "upload-phone.png"))
    d.find_element(By.ID, "upload-send").click()
    _wait("the upload to be accepted", lambda: "Sent:" in _text(d, "#upload-msg"), timeout=30)
    stats = d.execute_script("return window.hiitpiUpload;")
    assert stats["sent"] == 1 and stats["progress"] and stats["progress"][-1] == 100, stats
    _wait("the job in the list", lambda: d.find_elements(By.CSS_SELECTOR, ".upload-job"))
    banner = _wait(
        "the analysis to finish",
        lambda: "is refereed" in _text(d, "#upload-banner") and d.find_element(By.ID, "upload-banner"),
        timeout=240,
        every=0.2,
    )
    assert f"{SQUAT_REPS} reps, 0 no-reps" in banner.text
    assert d.execute_script("return window.hiitpiUpload.done.length;") == 1
    d.save_screenshot(str(ARTIFACTS / "upload-done-phone.png"))
    d.find_element(By.ID, "upload-banner-link").click()

    _wait("the session page", lambda: _text(d, "#sess-reps") == str(SQUAT_REPS), timeout=20)
    assert "from a video" in _text(d, "#sess-sub")
    video = _wait("the video player", lambda: d.find_elements(By.ID, "sess-video"))[0]
    assert d.execute_script("return arguments[0].canPlayType('video/mp4; codecs=\"avc1.42E01E\"')", video)
    d.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    _wait(
        "the video to play",
        lambda: d.execute_script(
            "return arguments[0].readyState >= 2 && arguments[0].currentTime > 0.2", video
        ),
        timeout=30,
    )
    assert d.execute_script("return arguments[0].error", video) is None
    duration = d.execute_script("return arguments[0].duration", video)
    assert duration == pytest.approx(5.72, abs=0.1)
    time.sleep(0.5)
    d.save_screenshot(str(ARTIFACTS / "session-video-phone.png"))
    href = d.find_element(By.ID, "sess-video-download").get_attribute("href")
    assert href.endswith(".mp4?download=1")

    d.set_window_size(1280, 1000)
    d.refresh()
    video = _wait("the video player (laptop)", lambda: d.find_elements(By.ID, "sess-video"))[0]
    _wait("the video's first picture", lambda: d.execute_script("return arguments[0].readyState >= 1", video))
    d.execute_script("arguments[0].currentTime = 1.5;", video)
    _wait(
        "the seek",
        lambda: d.execute_script("return arguments[0].readyState >= 2 && !arguments[0].seeking", video),
    )
    time.sleep(0.5)
    d.save_screenshot(str(ARTIFACTS / "session-video-laptop.png"))
    d.get(dash.base + "/upload")
    _wait("the list (laptop)", lambda: "2 reps" in _text(d, "#upload-jobs"))
    d.save_screenshot(str(ARTIFACTS / "upload-laptop.png"))


def test_the_page_says_what_is_wrong(settings_factory, tmp_path, redis_url, browser, shared_data):
    """Too big for the limit: said before sending. Not a video: the server's message, nothing kept."""
    from selenium.webdriver.common.by import By

    d = UploadDashboard(upload_settings(settings_factory, tmp_path, redis_url, max_mb=2))
    try:
        b = browser
        b.set_window_size(*PHONE)  # a phone's 390 px (headless Chromium's own window is 500)
        b.get(d.base + "/upload")
        big = shared_data / "clips" / "burpee" / "wahoo_burpees.mp4"  # 4 MB
        _pick(b, big)
        _wait("the size message", lambda: "at most 2 MB can be sent" in _text(b, "#upload-msg"))
        _fill(b, "Ana", "burpee")
        b.find_element(By.ID, "upload-send").click()
        time.sleep(0.5)
        assert b.execute_script("return window.hiitpiUpload.sent;") == 0 and d.files("incoming") == []
        notes = tmp_path / "notes.mp4"
        notes.write_text("not a video\n" * 1000)
        _pick(b, notes)
        _fill(b, "Ana", "squat")
        b.find_element(By.ID, "upload-send").click()
        _wait("the refusal", lambda: "This file is not a video HIIT PI can read" in _text(b, "#upload-msg"))
        assert "AnaAna" not in b.find_element(By.ID, "upload-player").get_attribute("value")
        assert "msg-err" in b.find_element(By.ID, "upload-msg").get_attribute("class")
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        b.save_screenshot(str(ARTIFACTS / "upload-refused-phone.png"))
        assert d.files("queue") == [] and d.files("incoming") == []
    finally:
        d.close()


def test_a_video_filmed_in_the_dark_says_so_on_its_session(dash, browser, shared_data, tmp_path):
    """Its session and the upload list carry the analysis's note, at a phone's width and a laptop's."""
    from tests.uploadkit import make_video

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    r = dash.post(make_video("dark", shared_data / "clips" / SQUAT, tmp_path / "evening.mp4"))
    assert r.status_code == 201, r.text
    job = dash.wait(r.json()["upload"]["id"])
    assert job["status"] == "done", job
    d = browser
    for tag, size in (("phone", PHONE), ("laptop", (1280, 1000))):
        d.set_window_size(*size)
        d.get(f"{dash.base}/session/{job['session_id']}")
        _wait(
            "the session's notes",
            lambda: "filmed too dark to count reliably" in _text(d, "#sess-video-notes"),
        )
        assert d.execute_script("return document.documentElement.scrollWidth") <= size[0]
        d.execute_script("document.getElementById('sess-video-notes').scrollIntoView({block: 'center'})")
        time.sleep(0.3)
        d.save_screenshot(str(ARTIFACTS / f"session-video-dark-{tag}.png"))
    d.get(dash.base + "/upload")
    _wait("the note in the list", lambda: "filmed too dark" in _text(d, "#upload-jobs"))
    d.save_screenshot(str(ARTIFACTS / "upload-dark-laptop.png"))
