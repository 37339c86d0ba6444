"""Pairing in a real headless Chromium against the real dashboard and engine on the event-loop server:
a stranger lands on the login form, the code opens the live page, the cookie is HttpOnly and
SameSite=Lax (JavaScript cannot read it), and the video and API answer with it."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.conftest import REPO, free_port

pytestmark = pytest.mark.slow

CLIP = "squat/yuyoujiang_squat.mp4"
ARTIFACTS = Path(os.environ.get("HIITPI_TEST_ARTIFACTS") or REPO / "test-artifacts")


@pytest.fixture()
def served(settings_factory, shared_data, redis_url):
    from hiitpi.engine import Engine
    from hiitpi.pairing import create_secrets
    from hiitpi.web.app import create_app
    from hiitpi.web.mjpeg import MjpegBroadcaster
    from hiitpi.web.server import WebServer

    settings = settings_factory(
        {
            ("redis", "url"): redis_url,
            ("capture", "source"): str(shared_data / "clips" / CLIP),
            ("capture", "loop"): True,
            ("referee", "workout"): "squat",
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        }
    )
    _, code = create_secrets(settings.general.data_dir)
    video = MjpegBroadcaster.from_settings(settings)
    video.start()
    engine = Engine(settings, sinks=(video,))
    engine.start()
    app = create_app(settings, broadcaster=lambda: video)
    web = WebServer(settings, app)
    web.start()
    yield f"http://127.0.0.1:{settings.web.port}", code
    web.stop()
    engine.stop()
    video.stop()


def _wait(what: str, cond, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _status(driver, path: str) -> int:
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {credentials: 'same-origin'}).then(r => {done(r.status); r.body && r.body.cancel();})"
        ".catch(e => done(-1));",
        path,
    )


def test_pair_in_a_real_browser(served, browser):
    from selenium.webdriver.common.by import By

    base, code = served
    d = browser
    d.get(base + "/")
    _wait("the login form", lambda: "/login" in d.current_url and d.find_elements(By.NAME, "code"))
    assert "next=/" in d.current_url
    assert _status(d, "/api/live/state") == 401
    assert _status(d, "/video") == 401
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "login.png"))
    box = d.find_element(By.NAME, "code")
    box.send_keys("WRONG-CODE0")
    box.submit()
    _wait("the refusal", lambda: "not right" in d.page_source)
    box = d.find_element(By.NAME, "code")
    box.send_keys(code.lower())  # typed on a phone: lower case, no dash
    box.submit()
    _wait("the live page", lambda: d.find_elements(By.ID, "live-reps"), timeout=60)
    assert "/login" not in d.current_url
    cookie = d.get_cookie("hiitpi_session")
    assert cookie and cookie["httpOnly"] and cookie.get("sameSite") == "Lax"
    assert "hiitpi_session" not in d.execute_script("return document.cookie")
    assert _status(d, "/api/live/state") == 200
    assert _status(d, "/video") == 200


def test_qr_link_pairs_in_one_step(served, browser):
    from selenium.webdriver.common.by import By

    base, code = served
    browser.get(f"{base}/login?code={code[:5]}-{code[5:]}")
    _wait("the live page", lambda: browser.find_elements(By.ID, "live-reps"), timeout=60)
    assert browser.current_url.rstrip("/") == base


def test_invite_another_phone_from_the_phones_page(served, browser):
    """A paired phone opens Phones, makes an invite (code and QR), another phone pairs with it;
    the first stays paired. Both pages are the dashboard's dark style at phone width."""
    import requests
    from selenium.webdriver.common.by import By

    base, code = served
    d = browser
    d.get(f"{base}/login?code={code}")
    _wait("the live page", lambda: d.find_elements(By.ID, "live-reps"), timeout=60)
    first_cookie = d.get_cookie("hiitpi_session")["value"]
    d.get(base + "/pair")
    assert "this phone" in d.find_element(By.ID, "phones").text
    d.find_element(By.ID, "make-invite").click()
    _wait("the invite", lambda: d.find_elements(By.ID, "invite-code"))
    invite = d.find_element(By.ID, "invite-code").text
    assert len(invite) == 11 and invite[5] == "-"
    qr = d.find_element(By.CSS_SELECTOR, ".qr svg")
    assert qr.size["width"] >= 200  # big enough to scan from a phone screen
    bg = d.execute_script("return getComputedStyle(document.body).backgroundColor")
    assert bg == "rgb(15, 23, 42)", bg  # the dashboard's navy, not an unstyled white page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d.save_screenshot(str(ARTIFACTS / "pair-invite.png"))
    d.delete_all_cookies()  # another phone
    d.get(base + "/")
    _wait("the login form", lambda: d.find_elements(By.NAME, "code"))
    assert d.execute_script("return getComputedStyle(document.body).backgroundColor") == "rgb(15, 23, 42)"
    d.save_screenshot(str(ARTIFACTS / "login-styled.png"))
    box = d.find_element(By.NAME, "code")
    box.send_keys(invite)
    box.submit()
    _wait("the live page on the second phone", lambda: d.find_elements(By.ID, "live-reps"), timeout=60)
    first = requests.get(base + "/api/live/state", cookies={"hiitpi_session": first_cookie}, timeout=5)
    assert first.status_code == 200  # the first phone was not signed out
    d.get(base + "/pair")
    assert d.find_element(By.ID, "phones").text.count("Chrome") == 2
