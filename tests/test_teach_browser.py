"""The "Teach a new exercise" page in real headless Chromium: upload a real clip through the page
(the pose model runs on it), see the reps found in a Plotly figure, save, and find the new workout
in the live page's picker; a file that is not a video gets a message. Then the form score: with a
reference recorded for squats from another clip, a live session on the real engine shows each rep's
score on the live page, and the session page charts it per rep. Real Redis, real SQLite, a rules
folder of its own (a copy of rules/). Screenshots at 390 px and 1280 px go to test-artifacts/.
"""

from __future__ import annotations

import shutil
import time

import pytest

from tests.browserkit import ARTIFACTS, CLIP_REPS, PHONE, run_appliance, text_of, wait_for
from tests.conftest import REPO, free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CLIP = "squat/wahoo_squats_trim.mp4"  # 10 squats, hand-counted
REFERENCE_CLIP = "squat/yuyoujiang_squat.mp4"  # 3 squats, seen from the side as CLIP is


@pytest.fixture()
def teach_site(tmp_path, settings_factory, redis_url):
    from hiitpi.store.db import Store
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    settings = settings_factory(
        {
            ("redis", "url"): redis_url,
            ("referee", "rules_dir"): str(rules),
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
        }
    )
    store = Store.from_settings(settings)
    app = create_app(settings, store=store, auth=False)
    web = WebServer(settings, app)
    web.start()
    yield {"base": f"http://127.0.0.1:{settings.web.port}", "rules": rules}
    web.stop()
    store.close()


def _retype(el, text: str) -> None:
    """Replace an input's text the way a person does (a React input ignores a plain clear())."""
    from selenium.webdriver.common.keys import Keys

    el.send_keys(Keys.CONTROL, "a")
    el.send_keys(Keys.DELETE)
    el.send_keys(text)


def _upload(d, path) -> None:
    from selenium.webdriver.common.by import By

    d.find_element(By.CSS_SELECTOR, "#teach-upload input[type=file]").send_keys(str(path))


def test_teach_from_an_uploaded_clip(teach_site, browser, shared_data, tmp_path):
    from selenium.webdriver.common.by import By

    from hiitpi.referee.rules import load_rule

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    d = browser
    d.set_window_size(*PHONE)  # a phone's 390 px (headless Chromium's own window is 500)
    d.get(teach_site["base"] + "/teach")
    wait_for("the teach page", lambda: d.find_elements(By.ID, "teach-name"))
    assert not d.find_element(By.ID, "teach-record").is_enabled()  # no camera in this process

    # not a video: a message, nothing taught
    junk = tmp_path / "notes.mp4"
    junk.write_text("not a video, whatever the name says")
    d.find_element(By.ID, "teach-name").send_keys("Goblet squat")
    _upload(d, junk)
    wait_for(
        "the not-a-video message", lambda: "notes.mp4 is not a video" in text_of(d, "#teach-msg"), timeout=20
    )
    assert not d.find_element(By.ID, "teach-save").is_enabled()

    # a name that exists: said as it is typed, and no clip is taken until the name is free
    name = d.find_element(By.ID, "teach-name")
    _retype(name, "squat")
    wait_for("the name-taken message", lambda: "already a workout" in text_of(d, "#teach-name-msg"))
    assert d.find_elements(By.CSS_SELECTOR, "#teach-upload input[type=file][disabled]")
    _retype(name, "Goblet squat")
    wait_for("the name to be free", lambda: "rules/goblet_squat.toml" in text_of(d, "#teach-name-msg"))
    d.find_element(By.ID, "teach-reps").send_keys("10")
    _upload(d, shared_data / "clips" / CLIP)
    wait_for(
        "the reps found",
        lambda: (
            "10 reps found" in text_of(d, "#teach-reps-found")
            and d.find_elements(By.CSS_SELECTOR, "#teach-plot .js-plotly-plot .main-svg")
        ),
        timeout=120,
    )
    assert "Learnt 'Goblet squat'" in text_of(d, "#teach-msg")
    d.save_screenshot(str(ARTIFACTS / "teach-phone.png"))
    d.set_window_size(1280, 1000)
    time.sleep(1.0)  # the figure follows the window
    d.save_screenshot(str(ARTIFACTS / "teach-laptop.png"))

    d.find_element(By.ID, "teach-save").click()
    wait_for("the save", lambda: "Saved goblet_squat.toml" in text_of(d, "#teach-saved"), timeout=20)
    rule = load_rule(teach_site["rules"] / "goblet_squat.toml")  # an ordinary rules file, schema-checked
    assert rule.kind == "reps" and (teach_site["rules"] / "goblet_squat.reference.json").is_file()

    # the new workout is in the live page's picker
    d.find_element(By.LINK_TEXT, "Start 'Goblet squat' on the Live page").click()
    wait_for("the live page", lambda: d.find_elements(By.ID, "workout-pick"))
    d.find_element(By.CSS_SELECTOR, "#workout-pick").click()
    wait_for(
        "the picker to list the taught workout",
        lambda: "Goblet squat" in d.find_element(By.TAG_NAME, "body").text,
    )


def test_live_page_and_session_page_show_each_reps_form_score(
    settings_factory, redis_url, shared_data, browser, tmp_path
):
    import re

    from selenium.webdriver.common.by import By

    from hiitpi.referee.reference import save_reference
    from hiitpi.teach.session import record_for

    rules = tmp_path / "rules"
    shutil.copytree(REPO / "rules", rules)
    overrides = {("referee", "rules_dir"): str(rules)}
    ref, where, _n = record_for(
        "squat", shared_data / "clips" / REFERENCE_CLIP, settings_factory(overrides), progress=False
    )
    save_reference(ref, where)
    with run_appliance(settings_factory, redis_url, shared_data / "clips" / CLIP, overrides) as app:
        d = browser
        d.set_window_size(*PHONE)  # a phone's 390 px (headless Chromium's own window is 500)
        d.get(app["base"] + "/")
        wait_for("the live page", lambda: text_of(d, "#live-diag").startswith("frame"))
        d.find_element(By.ID, "new-player").send_keys("Ana")
        d.find_element(By.ID, "add-player").click()
        wait_for("the player to be added", lambda: "Added Ana." in text_of(d, "#action-msg"))
        d.find_element(By.ID, "start-btn").click()
        wait_for(
            "the engine to confirm the start",
            lambda: text_of(d, "#action-msg").startswith("Started"),
            timeout=15,
        )
        app["gate"].set()
        shown: set[str] = set()

        def watch() -> bool:
            t = text_of(d, "#live-form")
            if t:
                shown.add(t)
            return app["ended"].is_set() and text_of(d, "#live-reps") == str(CLIP_REPS)

        wait_for("the clip to play through", watch, timeout=90, every=0.05)
        form = re.compile(r"^Form (\d+)/100( · [a-z ]+ off most)?$")
        assert shown and all(form.match(t) for t in shown), shown
        d.save_screenshot(str(ARTIFACTS / "live-form-phone.png"))
        d.find_element(By.ID, "stop-btn").click()
        wait_for(
            "the stop to be confirmed", lambda: "stopped" in text_of(d, "#action-msg").lower(), timeout=15
        )

        from hiitpi.store import queries

        sid = queries.list_sessions(app["store"]).items[0].id
        reps = queries.session_detail(app["store"], sid).reps
        scored = [r.similarity for r in reps if r.similarity is not None]
        assert len(scored) >= CLIP_REPS - 1 and all(0 <= s <= 100 for s in scored), scored
        d.get(f"{app['base']}/session/{sid}")
        wait_for(
            "the per-rep form chart",
            lambda: d.find_elements(By.CSS_SELECTOR, "#sess-similarity .js-plotly-plot .main-svg"),
            timeout=20,
        )
        assert text_of(d, "#sess-form-note").startswith("Furthest from the reference: rep ")
        d.execute_script("document.getElementById('sess-similarity').scrollIntoView();")
        time.sleep(0.5)
        d.save_screenshot(str(ARTIFACTS / "session-form-phone.png"))
