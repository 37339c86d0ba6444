"""Auto mode on the phone page, in real headless Chromium: the recognised workout with its
confidence, and the one-tap correction, against the real engine on a real clip."""

from __future__ import annotations

import pytest

from tests.browserkit import PHONE, run_appliance, shot
from tests.browserkit import text_of as _text
from tests.browserkit import wait_for as _wait

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP = "jumping_jack/unknown550_jj_1.mp4"


@pytest.fixture()
def auto_appliance(settings_factory, redis_url, shared_data):
    """Engine (watching in auto mode from the start) + recorder + dashboard on a gated real clip."""
    with run_appliance(
        settings_factory,
        redis_url,
        shared_data / "clips" / CLIP,
        {("referee", "workout"): "auto"},
        autostart=True,
    ) as app:
        yield app


def test_the_page_shows_the_recognised_workout_and_corrects_it_with_one_tap(auto_appliance, browser):
    from selenium.webdriver.common.by import By

    from hiitpi.store.queries import list_sessions, session_detail

    d = browser
    d.set_window_size(*PHONE)  # 390 px: the workout screen and auto mode's panel together
    d.get(auto_appliance["base"] + "/")
    _wait(
        "the auto panel, watching", lambda: "start moving" in _text(d, "#live-auto-what").lower(), timeout=30
    )
    auto_appliance["gate"].set()  # the person starts jumping
    _wait(
        "jumping jacks to be recognised",
        lambda: _text(d, "#live-auto-what").lower().startswith("recognised: jumping jack"),
        timeout=30,
    )
    assert "%" in _text(d, "#live-auto-what")
    buttons = _wait(
        "the correction buttons",
        lambda: [
            b for b in d.find_elements(By.CSS_SELECTOR, "#live-auto .auto-choice button") if b.is_displayed()
        ],
    )
    assert 1 <= len(buttons) <= 3
    shot(d, "live-auto-phone")
    label = buttons[0].text
    # in view above the Stop bar that stays at the bottom of a phone's screen, as a person scrolls it
    d.execute_script("arguments[0].scrollIntoView({block: 'center'})", buttons[0])
    buttons[0].click()  # one tap
    _wait("the engine to confirm", lambda: "corrected to" in _text(d, "#action-msg").lower(), timeout=15)
    corrected = auto_appliance["engine"].live_state().workout
    assert corrected != "jumping_jack"
    assert corrected.replace("_", " ") in _text(d, "#live-auto-what").lower()
    assert label  # the button said which workout it was
    auto_appliance["engine"].end_session()  # the close is queued to the store's writer, not waited for
    sid = list_sessions(auto_appliance["store"]).items[0].id
    d2 = _wait(
        "the session saved",
        lambda: (d := session_detail(auto_appliance["store"], sid)).session.status == "done" and d,
    )
    assert d2.session.workout == corrected and [i.workout for i in d2.intervals] == [corrected]
