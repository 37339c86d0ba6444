"""The dashboard in real headless Chromium, against the real engine on a real clip.

One walk through the product with a single workout: open the live page on a phone (390×844),
create a player, start a squat session, watch the workout screen (count, phase, one Stop button,
the video below) while the count rises to the clip's hand-counted 10 (MoveNet on the real video,
real Redis, real SQLite), stop, see the result card and follow its link to the session page,
download both CSV tables and read them with Python's csv, find the session in history, and look at
every page at laptop width too (1280×800). Screenshots go to test-artifacts/ (the window, and the
whole page as ``-full``). The page itself measures frame captured → number shown
(window.hiitpiMetrics); the p95 is printed and checked against 250 ms.

The only thing added around the real parts: the clip's frames are held back until the session has
been started from the page (a camera in front of an empty room), and after the clip's last frame the
"camera" delivers nothing more until the page presses Stop (tests/browserkit.py). The programs (a
Tabata, a circuit) are walked through in tests/test_browser_programs.py.
"""

from __future__ import annotations

import csv
import json
import os
import statistics
import time

import pytest

from tests.browserkit import (
    ARTIFACTS,
    CLIP_REPS,
    LAPTOP,
    PHONE,
    appliance,  # noqa: F401 (the fixture)
    overflow_x,
    pct,
    shot,
    text_of,
    visible,
    wait_for,
)
from tests.conftest import web_settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]

INTERNAL = ("_", "DEEP", "STANDING", "squat ")  # rules names and phases never reach the page


def _csv_rows(path):
    with open(path, newline="", encoding="utf-8-sig") as f:
        return list(csv.reader(f))


def test_live_session_to_history_and_export(appliance, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    from hiitpi.store import queries
    from hiitpi.store.export import REP_COLUMNS, SESSION_COLUMNS

    base, store = appliance["base"], appliance["store"]
    d = browser
    d.set_window_size(*PHONE)
    d.get(base + "/")
    wait_for(
        "the live page",
        lambda: d.find_elements(By.ID, "live-reps") and text_of(d, "#live-diag").startswith("frame"),
    )
    # idle: nothing started by itself, no Stop, Start waits for a player
    assert "live idle" in d.find_element(By.ID, "live-root").get_attribute("class")
    assert not visible(d, "#stop-btn") and not visible(d, "#live-result") and not visible(d, "#privacy-note")
    assert d.find_element(By.ID, "start-btn").get_attribute("disabled") is not None
    assert (
        d.find_element(By.ID, "start-btn").get_attribute("title")
        == "Pick a player (or type a new name) first"
    )
    assert text_of(d, "#start-hint") == "Pick a player (or type a new name) first."  # in words on a phone
    # an unusable name: a message, nothing written
    d.find_element(By.ID, "new-player").send_keys("   ")
    d.find_element(By.ID, "add-player").click()
    wait_for("the empty-name message", lambda: "Player name is empty" in text_of(d, "#action-msg"))
    d.find_element(By.ID, "new-player").clear()
    d.find_element(By.ID, "new-player").send_keys("Ana")
    d.find_element(By.ID, "add-player").click()
    wait_for("the player to be added", lambda: "Added Ana." in text_of(d, "#action-msg"))
    assert text_of(d, "#workout-pick") == "Squat"  # the default workout, by its title
    wait_for(
        "Start to be enabled", lambda: d.find_element(By.ID, "start-btn").get_attribute("disabled") is None
    )
    assert text_of(d, "#start-hint") == ""
    assert overflow_x(d) == 0
    shot(d, "live-idle-phone")

    d.find_element(By.ID, "start-btn").click()
    msg = wait_for(
        "the engine to confirm the start",
        lambda: text_of(d, "#action-msg").startswith("Started") and text_of(d, "#action-msg"),
    )
    sid = int(msg.rsplit("session ", 1)[1].rstrip(").")) if "(session " in msg else None
    assert msg == f"Started Squat for Ana (session {sid}).", msg
    wait_for("the workout screen", lambda: text_of(d, "#live-who") == "Ana · Squat", timeout=10)
    # the workout screen: the count first, one Stop button, no controls, the video below it
    assert "running" in d.find_element(By.ID, "live-root").get_attribute("class")
    assert visible(d, "#stop-btn") and not visible(d, "#live-controls") and not visible(d, "#start-btn")
    assert not visible(d, "#live-program")  # a single workout has no countdown
    wait_for("no 'is training' banner on the phone that started it", lambda: not visible(d, "#live-training"))
    shot(d, "live-started-phone")
    card = d.find_element(By.ID, "live-workout").rect
    video = d.find_element(By.CSS_SELECTOR, ".card.video").rect
    stop = d.find_element(By.ID, "stop-btn").rect
    nav = d.find_element(By.CSS_SELECTOR, ".nav").rect
    assert card["y"] < nav["y"] + nav["height"] + 60 and stop["y"] + stop["height"] <= PHONE[1], (
        card,
        nav,
        stop,
    )  # the count right below the navigation, Stop on the first screen
    assert video["y"] >= card["y"] + card["height"], (card, video)
    appliance["gate"].set()  # the person steps in front of the camera

    seen: list[int] = []
    shots = {}

    def watch_count() -> bool:
        t = text_of(d, "#live-reps")
        if t.isdigit() and (not seen or int(t) != seen[-1]):
            seen.append(int(t))
            if int(t) == 5 and "running" not in shots:
                shots["running"] = shot(d, "live-running-phone")
                shots["labels"] = text_of(d, "#live-workout")
        return appliance["ended"].is_set()

    wait_for("the clip to play through", watch_count, timeout=90, every=0.02)
    wait_for(
        f"the count to reach {CLIP_REPS}",
        lambda: watch_count() and seen and seen[-1] == CLIP_REPS,
        timeout=10,
    )
    time.sleep(0.5)
    assert seen == sorted(seen) and seen[-1] == CLIP_REPS, seen
    labels = (shots.get("labels") or text_of(d, "#live-workout")).replace("\u00a0", " ")
    assert "PACE /MIN · LAST 20 S" in labels.upper() and "AVG /MIN" in labels.upper(), labels
    assert not any(w in labels for w in INTERNAL), labels
    metrics = d.execute_script("return window.hiitpiMetrics;")
    # every value the page showed (recorded in the page: selenium's own polling is too slow to see them all)
    shown = [int(v) for v in metrics["repsShown"]]
    assert shown == list(range(1, CLIP_REPS + 1)), shown  # it rose rep by rep, never skipping or going back
    norep = text_of(d, "#live-norep")
    assert int(text_of(d, "#live-second")) == CLIP_REPS + len(
        [e for e in queries.session_detail(store, sid).reps if not e.valid]
    )  # attempts beside the reps

    d.find_element(By.ID, "stop-btn").click()
    wait_for(
        "the stop to be confirmed",
        lambda: text_of(d, "#action-msg") == f"Stopped: session {sid} saved, {CLIP_REPS} reps.",
        timeout=15,
    )
    # the result card, linking to the session; the pace is 0 after the stop, the average stays
    wait_for(
        "the result card", lambda: visible(d, "#live-result") and text_of(d, "#live-result-reps") == "10"
    )
    assert text_of(d, "#live-result-title") == "Ana · Squat" and text_of(d, "#live-norep") == ""
    pace, avg = (d.find_element(By.ID, i).get_attribute("textContent") for i in ("live-pace", "live-avg"))
    assert pace == "0.0" and avg != "–" and f"avg {avg}/min" in text_of(d, "#live-result-sub")
    assert visible(d, "#live-controls") and not visible(d, "#stop-btn")
    link = d.find_element(By.ID, "live-result-link")
    assert link.get_attribute("href").endswith(f"/session/{sid}") and link.text == f"Open session {sid} ›"
    shot(d, "live-result-phone")

    link.click()
    wait_for(
        "the session page",
        lambda: d.find_elements(By.ID, "sess-timeline") and text_of(d, "#sess-reps") == str(CLIP_REPS),
    )
    detail = queries.session_detail(store, sid)
    assert d.current_url.endswith(f"/session/{sid}") and text_of(d, "#sess-sub").startswith(f"#{sid} · Ana")
    assert text_of(d, "#sess-title") == "Squat"
    rows = d.find_elements(By.CSS_SELECTOR, "#sess-reps-table tbody tr")
    assert len(rows) == len(detail.reps) == detail.session.attempts
    assert "first recorded Squat session for Ana" in text_of(d, "#sess-compare")
    wait_for("the session charts", lambda: len(d.find_elements(By.CSS_SELECTOR, ".charts .main-svg")) >= 2)
    time.sleep(0.5)
    assert overflow_x(d) == 0
    shot(d, "session-phone")

    # both CSV tables, as a spreadsheet would read them
    reps_csv = d.downloads / f"hiitpi-session-{sid}-reps.csv"
    sess_csv = d.downloads / f"hiitpi-session-{sid}-sessions.csv"
    # the page's two links, fetched by the browser one after the other (two clicks within a moment
    # on a loaded machine sometimes lose the first download in headless Chromium)
    for link_id, path in (("export-csv", reps_csv), ("export-session-csv", sess_csv)):
        href = d.find_element(By.ID, link_id).get_attribute("href")
        assert f"session={sid}" in href, href
        d.get(href)
        wait_for(f"the download of {path.name}", path.exists, timeout=20)
    reps = _csv_rows(reps_csv)
    assert tuple(reps[0]) == REP_COLUMNS and all(len(r) == len(REP_COLUMNS) for r in reps)
    results = [r[REP_COLUMNS.index("result")] for r in reps[1:]]
    assert results.count("rep") == CLIP_REPS and len(results) == detail.session.attempts
    numbers = [r[REP_COLUMNS.index("rep_number")] for r in reps[1:] if r[2] == "rep"]
    assert numbers == [str(i) for i in range(1, CLIP_REPS + 1)]
    ends = [float(r[REP_COLUMNS.index("end_s")]) for r in reps[1:]]
    assert ends == sorted(ends) and 0 < ends[-1] <= detail.session.duration_s + 0.01  # from the session start
    sess = _csv_rows(sess_csv)
    assert tuple(sess[0]) == SESSION_COLUMNS and len(sess) == 2 and len(sess[1]) == len(SESSION_COLUMNS)
    row = dict(zip(SESSION_COLUMNS, sess[1], strict=True))
    assert (row["session_id"], row["player"], row["title"], row["reps"]) == (str(sid), "Ana", "Squat", "10")

    # history: the session is there, with its title, id and count; one page, so no paging
    d.find_element(By.ID, "nav-history").click()
    cards = wait_for("the session in history", lambda: d.find_elements(By.CSS_SELECTOR, ".session-card"))
    assert "Ana · Squat" in cards[0].text and cards[0].text.startswith(str(CLIP_REPS))
    assert f"#{sid} · " in cards[0].text
    wait_for("the pager", lambda: text_of(d, "#hist-pageinfo") != "")
    assert d.find_element(By.ID, "hist-prev").get_attribute("disabled") is not None
    assert d.find_element(By.ID, "hist-next").get_attribute("disabled") is not None
    assert overflow_x(d) == 0
    shot(d, "history-phone")
    d.get(base + "/trends")
    wait_for("the trends page", lambda: "Ana" in text_of(d, "#trend-week") and visible(d, "#trend-board"))
    wait_for("the weekly chart", lambda: d.find_elements(By.CSS_SELECTOR, "#trend-weekly .main-svg"))
    time.sleep(0.5)
    assert overflow_x(d) == 0
    shot(d, "trends-phone")

    # a laptop-sized look at every page: the live page after the session draws its charts from history
    d.set_window_size(*LAPTOP)
    d.get(base + "/")
    wait_for("the live page (laptop)", lambda: text_of(d, "#live-result-reps") == str(CLIP_REPS), timeout=10)
    wait_for(
        "both live charts drawn with the session",
        lambda: (
            d.execute_script(
                "var g = document.querySelector('#live-reps-graph .js-plotly-plot');"
                "return g && g.data ? g.data[0].x.length : 0;"
            )
            == CLIP_REPS
        ),
        timeout=15,
    )
    shot(d, "live-laptop")
    for path, name, ready in (
        ("/history", "history-laptop", ".session-card"),
        (f"/session/{sid}", "session-laptop", "#sess-timeline .main-svg"),
        ("/trends", "trends-laptop", "#trend-weekly .main-svg"),
    ):
        d.get(base + path)
        wait_for(f"{path} (laptop)", lambda ready=ready: d.find_elements(By.CSS_SELECTOR, ready))
        time.sleep(0.7)
        assert overflow_x(d) == 0, path
        shot(d, name)

    rep_ms, frame_ms = metrics["rep"], metrics["frame"]
    report = {
        "rep_number_shown_ms": {
            "n": len(rep_ms),
            "median": round(statistics.median(rep_ms), 1),
            "p95": round(pct(rep_ms, 0.95), 1),
            "max": round(max(rep_ms), 1),
        },
        "frame_number_shown_ms": {
            "n": len(frame_ms),
            "median": round(statistics.median(frame_ms), 1),
            "p95": round(pct(frame_ms, 0.95), 1),
        },
        "frame_number_in_dom_ms": {
            "median": round(statistics.median(metrics["frameDom"]), 1),
            "p95": round(pct(metrics["frameDom"], 0.95), 1),
        },
        "captured_to_sent_ms_median": round(statistics.median(metrics["toSent"]), 1),
        "sent_to_browser_ms_median": round(statistics.median(metrics["toBrowser"]), 1),
        "counts_shown": shown,
        "last_no_rep_text": norep,
        "feed_messages": metrics["messages"],
        "script_errors": metrics["errors"],
        "load1": round(os.getloadavg()[0], 1),
    }
    (ARTIFACTS / "browser-latency.json").write_text(json.dumps({**report, "raw": metrics}, indent=1))
    print("\nframe captured -> number shown in the browser:", json.dumps(report))
    assert metrics["errors"] == 0
    assert len(rep_ms) >= CLIP_REPS - 1
    # The target (issue 6): p95 <= 250 ms on loopback, over every frame's number (hundreds of
    # samples); the rep count's own figure (10 samples: its p95 is its maximum) is reported beside
    # it. It is checked when the machine is not oversubscribed: with more runnable processes than
    # cores, the scheduler alone makes waits of hundreds of ms (measured: see the report).
    load1, cores = report["load1"], os.cpu_count() or 1
    if load1 > cores:
        import warnings

        warnings.warn(
            f"latency target not checked: load average {load1:.1f} on {cores} cores; measured {report}",
            stacklevel=1,
        )
    else:
        assert report["frame_number_shown_ms"]["p95"] <= 250, report


def test_live_page_says_degraded_when_redis_dies_and_recovers(tmp_path, redis_server, redis_url, browser):
    """Redis killed under an open live page: a "live view degraded" banner; back when Redis is."""
    from selenium.webdriver.common.by import By

    from hiitpi.live.contract import LiveKeys, LiveState
    from hiitpi.live.reader import LiveReader
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = web_settings(tmp_path / "data", redis_url)
    app = create_app(settings, auth=False)
    web = WebServer(settings, app)
    web.start()
    try:
        reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
        reader.client.hset(
            reader.keys.state,
            mapping=LiveState(
                **{
                    "session": "s1",
                    "player": "Cleo",
                    "workout": "squat",
                    "running": True,
                    "reps": 4,
                    "total_reps": 4,
                }
            ).encode(),
        )
        d = browser
        d.get(f"http://127.0.0.1:{settings.web.port}/")
        wait_for("the live state", lambda: text_of(d, "#live-reps") == "4")
        assert "Cleo is training (Squat)" in text_of(d, "#live-training")  # this phone did not start it
        banner = d.find_element(By.ID, "live-degraded")
        assert not banner.is_displayed()
        redis_server.stop()
        wait_for(
            "the degraded banner",
            lambda: banner.is_displayed() and "Live view degraded" in banner.text,
            timeout=15,
        )
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        d.save_screenshot(str(ARTIFACTS / "live-degraded-phone.png"))
        redis_server.start()
        reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))
        reader.client.hset(
            reader.keys.state,
            mapping=LiveState(
                **{
                    "session": "s1",
                    "player": "Cleo",
                    "workout": "squat",
                    "running": True,
                    "reps": 5,
                    "total_reps": 5,
                }
            ).encode(),
        )
        wait_for(
            "the banner to clear",
            lambda: not banner.is_displayed() and text_of(d, "#live-reps") == "5",
            timeout=20,
        )
    finally:
        web.stop()


def test_live_page_says_when_the_camera_is_on_its_side_or_too_slow(tmp_path, redis_url, browser):
    """The engine's live state says the picture reads as turned (a camera on its side), that it is
    too dark, and how many frames a second it analyses: the workout screen says so in one line, and
    nothing when upright and lit at 30 fps."""
    from hiitpi.live.contract import LiveKeys, LiveState
    from hiitpi.live.reader import LiveReader
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = web_settings(tmp_path / "data", redis_url)
    web = WebServer(settings, create_app(settings, auth=False))
    web.start()
    reader = LiveReader(redis_url, LiveKeys(settings.redis.prefix))

    def state(reps: int, **kw) -> None:
        base = {"session": "s1", "player": "Cleo", "workout": "squat", "running": True, "elapsed": 30.0}
        st = LiveState(**{**base, "reps": reps, "total_reps": reps, **kw})
        reader.client.hset(reader.keys.state, mapping=st.encode())

    try:
        state(4, turn=90, fps=9.4)
        d = browser
        d.set_window_size(*PHONE)
        d.get(f"http://127.0.0.1:{settings.web.port}/")
        wait_for("the live state", lambda: text_of(d, "#live-reps") == "4")
        wait_for("the camera note", lambda: visible(d, "#live-camera"))
        note = text_of(d, "#live-camera")
        assert (
            note
            == "Camera on its side: counted as if upright. 9 frames a second: fast moves may lose reps (a Coral gives 30)."
        )
        assert overflow_x(d) == 0
        shot(d, "live-camera-note-phone")
        d.set_window_size(*LAPTOP)
        shot(d, "live-camera-note-laptop")
        state(5, turn=180, fps=30.0)
        wait_for("the count", lambda: text_of(d, "#live-reps") == "5")
        assert text_of(d, "#live-camera") == "Picture upside down: counted as if upright."
        state(6, turn=0, fps=29.8)
        wait_for("the note to go", lambda: text_of(d, "#live-reps") == "6" and not visible(d, "#live-camera"))
        state(7, turn=0, fps=8.0, elapsed=2.0, dark=True)  # the first seconds say nothing yet
        wait_for("the count", lambda: text_of(d, "#live-reps") == "7")
        assert not visible(d, "#live-camera")
        state(8, turn=0, fps=30.0, dark=True)  # darker than the exposure can make up for
        wait_for(
            "the dark note",
            lambda: text_of(d, "#live-camera") == "Too dark to count reliably: turn on a light.",
        )
        shot(d, "live-camera-dark-laptop")
        d.set_window_size(*PHONE)
        wait_for("the phone width", lambda: overflow_x(d) == 0)
        shot(d, "live-camera-dark-phone")
    finally:
        reader.close()
        web.stop()
