"""The history pages with weeks of real-shaped history, in real headless Chromium at 390×844 and
1280×800: a full 8-round Tabata's session page (its interval bands and round labels), a squat
session against the previous one, a 12-interval circuit, trends with two weeks and two players
(streaks, the leaderboard by total and per minute), the history filter by program, and the live
page in privacy mode. The history is written by the real recorder into real SQLite, with the
times a session of each kind takes; screenshots go to test-artifacts/.
"""

from __future__ import annotations

import itertools
import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.browserkit import LAPTOP, PHONE, overflow_x, pick, shot, text_of, visible, wait_for
from tests.conftest import free_port

pytestmark = [pytest.mark.browser]


def _tabata(rec, player: str, start: datetime, per_round=(9, 8, 8, 7, 7, 6, 6, 5)) -> int:
    """tabata_squat as the engine records it: 8 × (20 s of squats, 10 s rest); a no-rep in round 4."""
    from hiitpi.referee.events import RefEvent

    sid = rec.start_session(player, "squat", program="tabata_squat", round=1, started_at=start, t0=0.0)
    n = 0
    for r, reps in enumerate(per_round, 1):
        t0 = (r - 1) * 30.0
        if r > 1:
            rec.start_interval("squat", round=r, at=start + timedelta(seconds=t0))
        for i in range(reps):
            t = t0 + 1.0 + i * (19.0 / reps)
            if r == 4 and i == 2:
                rec.record(RefEvent("no_rep", "squat", t, t + 1.2, n, reason="not low enough"), at=start)
                continue
            n += 1
            rec.record(RefEvent("rep", "squat", t, t + 1.2, n), at=start + timedelta(seconds=t + 1.2))
        rec.start_rest(at=start + timedelta(seconds=t0 + 20))
    rec.end_session(ended_at=start + timedelta(seconds=240))
    return sid


def _single(rec, player: str, workout: str, start: datetime, reps: int, period: float) -> int:
    from hiitpi.referee.events import RefEvent

    sid = rec.start_session(player, workout, started_at=start, t0=0.0)
    for i in range(reps):
        t = 1.0 + i * period
        rec.record(RefEvent("rep", workout, t, t + period * 0.8, i + 1), at=start + timedelta(seconds=t))
    rec.end_session(ended_at=start + timedelta(seconds=1.0 + reps * period + 1.0))
    return sid


def _circuit(rec, player: str, start: datetime) -> int:
    """circuit_full_body: 3 rounds of squat, push-up, jumping jack, lunge (40 s work, 20 s rest)."""
    from hiitpi.referee.events import RefEvent

    blocks = ("squat", "push_up", "jumping_jack", "lunge")
    sid = rec.start_session(player, "squat", program="circuit_full_body", round=1, started_at=start, t0=0.0)
    n, k = 0, 0
    for r in range(1, 4):
        for w in blocks:
            t0 = k * 60.0
            if k:
                rec.start_interval(w, round=r, at=start + timedelta(seconds=t0))
            for i in range(10 + (k % 3)):
                t = t0 + 1.0 + i * 3.5
                n += 1
                rec.record(RefEvent("rep", w, t, t + 2.5, n), at=start + timedelta(seconds=t + 2.5))
            rec.start_rest(at=start + timedelta(seconds=t0 + 40))
            k += 1
    rec.end_session(ended_at=start + timedelta(seconds=k * 60.0 - 20))
    return sid


@pytest.fixture()
def history(settings_factory, redis_url, tmp_path):
    from hiitpi.store.db import Store
    from hiitpi.store.recorder import SessionRecorder
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = settings_factory(
        {
            ("redis", "url"): redis_url,
            ("web", "host"): "127.0.0.1",
            ("web", "port"): free_port(),
            ("web", "privacy_mode"): True,
        }
    )
    store = Store.from_settings(settings)
    rec = SessionRecorder(store, flush_interval_s=0.05)
    now = datetime.now(UTC).replace(microsecond=0)
    ids = {
        "squat_before": _single(rec, "Ana", "squat", now - timedelta(days=8), 12, 2.5),
        "ben": _single(rec, "Ben", "squat", now - timedelta(days=2), 30, 1.6),
        "squat": _single(rec, "Ana", "squat", now - timedelta(days=1), 16, 2.2),
        "circuit": _circuit(rec, "Ana", now - timedelta(hours=5)),
        "tabata": _tabata(rec, "Ana", now - timedelta(hours=2)),
    }
    rec.close()
    web = WebServer(settings, create_app(settings, store=store, auth=False))
    web.start()
    yield {"base": f"http://127.0.0.1:{settings.web.port}", "ids": ids, "store": store}
    web.stop()
    store.close()


def _page(d, url: str, ready: str, name: str, size) -> None:
    from selenium.webdriver.common.by import By

    d.set_window_size(*size)
    d.get(url)
    wait_for(f"{url} at {size[0]} px", lambda: d.find_elements(By.CSS_SELECTOR, ready))
    time.sleep(0.8)  # the charts draw
    assert overflow_x(d) == 0, (url, size)
    shot(d, name)


def test_history_pages_with_real_shaped_history(history, browser):
    from selenium.webdriver.common.by import By

    base, ids, d = history["base"], history["ids"], browser
    # the Tabata's page: 8 interval bands, labelled once per round, readable at phone width
    for size, tag in ((PHONE, "phone"), (LAPTOP, "laptop")):
        _page(
            d, f"{base}/session/{ids['tabata']}", "#sess-timeline .main-svg", f"session-tabata8-{tag}", size
        )
        labels, boxes = d.execute_script(
            "var els = document.querySelectorAll('#sess-timeline .annotation');"
            "return [Array.from(els).map(e => e.textContent),"
            " Array.from(els).map(e => { var r = e.getBoundingClientRect(); return {x: r.x, width: r.width}; })];"
        )
        for a, b in itertools.pairwise(boxes):  # round labels do not overlap each other
            assert a["x"] + a["width"] <= b["x"] + 1, (labels, boxes)
    assert text_of(d, "#sess-title") == "Tabata squats" and text_of(d, "#sess-reps") == "55"
    assert len(d.find_elements(By.CSS_SELECTOR, "#sess-intervals tbody tr")) == 8
    assert "1 × not low enough" in text_of(d, ".reasons")

    # a squat session against the previous one of the same workout
    _page(d, f"{base}/session/{ids['squat']}", "#sess-compare", "session-compare-phone", PHONE)
    assert f"Against the previous session, #{ids['squat_before']} · " in text_of(d, "#sess-compare")
    reps_row = d.find_elements(By.CSS_SELECTOR, "#sess-compare-table tbody tr")[0].text.split()
    assert reps_row == ["reps", "16", "12", "+4"], reps_row

    # the circuit: 12 intervals by title
    _page(d, f"{base}/session/{ids['circuit']}", "#sess-timeline .main-svg", "session-circuit12-phone", PHONE)
    rows = d.find_elements(By.CSS_SELECTOR, "#sess-intervals tbody tr")
    assert len(rows) == 12 and "Jumping jack" in rows[2].text and "Push-up" in rows[1].text

    # trends: two weeks, streaks, the leaderboard by total and per minute
    for size, tag in ((PHONE, "phone"), (LAPTOP, "laptop")):
        _page(d, f"{base}/trends?player=Ana", "#trend-weekly .main-svg", f"trends-weeks-{tag}", size)
        assert "This week · Ana" in text_of(d, "#trend-week")
        assert "Streak:" in text_of(d, "#trend-streaks")

    def ranking():  # in one call: the table is redrawn under the test
        return d.execute_script(
            "return Array.from(document.querySelectorAll('#trend-board tbody tr'))"
            ".map(r => r.children[1].textContent);"
        )

    # most squats in one session: Ana's Tabata (55, a program's squats count); per minute of work:
    # Ben's quick 30 in 50 s; in all: Ana
    wait_for("the leaderboard", lambda: ranking() == ["Ana", "Ben"])
    d.find_element(By.XPATH, "//label[contains(., 'Best reps per minute')]").click()
    wait_for("Ben first per minute", lambda: ranking() == ["Ben", "Ana"])
    d.find_element(By.XPATH, "//label[contains(., 'Total reps')]").click()
    wait_for("Ana first by total reps", lambda: ranking() == ["Ana", "Ben"])
    shot(d, "trends-board-laptop")

    # history by program, at phone width
    _page(d, f"{base}/history", ".session-card", "history-full-phone", PHONE)
    assert len(d.find_elements(By.CSS_SELECTOR, ".session-card")) == 5
    pick(d, "hist-workout", "⏱ Tabata squats")
    wait_for("the program filter", lambda: len(d.find_elements(By.CSS_SELECTOR, ".session-card")) == 1)
    assert "⏱ Ana · Tabata squats" in text_of(d, ".session-card")

    # the live page says privacy mode is on
    _page(d, f"{base}/", "#live-root", "live-privacy-phone", PHONE)
    assert visible(d, "#privacy-note") and "Privacy mode is on" in text_of(d, "#privacy-note")
