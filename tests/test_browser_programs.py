"""HIIT programs run end to end from the page, in real headless Chromium, on the real engine and clip.

A Tabata on a phone (390×844): picked by its title, started from the page, the workout screen
shows the interval countdown (big), round and interval, what comes next, the running total, beeps
and spoken cues at the changes; the program ends by itself and the result card links to the
session page, whose intervals and totals are the store's. A circuit on a laptop (1280×800): a
second page that opens mid-session draws the whole session so far; the session's numbers live, in
the result card and on its page agree with the store; the player and the program are remembered
on reload; a new session clears the charts; a session is renamed and one deleted from its page.
The programs are the short ones of tests/browserkit.py (so that the 16.5 s clip covers them).
"""

from __future__ import annotations

import time

import pytest

from tests.browserkit import (
    LAPTOP,
    PHONE,
    appliance,  # noqa: F401 (the fixture)
    overflow_x,
    pick,
    shot,
    text_of,
    visible,
    wait_for,
)

pytestmark = [pytest.mark.browser, pytest.mark.slow]

POINTS_JS = (
    "var g = document.querySelector('#live-reps-graph .js-plotly-plot');"
    "return g && g.data ? [g.data[0].x.length, g.data[1].x.length] : null;"
)


def _open_live(d, base: str) -> None:
    from selenium.webdriver.common.by import By

    d.get(base + "/")
    wait_for(
        "the live page",
        lambda: d.find_elements(By.ID, "live-reps") and text_of(d, "#live-diag").startswith("frame"),
    )


def _add_player(d, name: str) -> None:
    from selenium.webdriver.common.by import By

    d.find_element(By.ID, "new-player").send_keys(name)
    d.find_element(By.ID, "add-player").click()
    wait_for(f"{name} to be added", lambda: f"Added {name}." in text_of(d, "#action-msg"))


def _start(d, player: str, title: str) -> int:
    from selenium.webdriver.common.by import By

    wait_for(
        "Start to be enabled", lambda: d.find_element(By.ID, "start-btn").get_attribute("disabled") is None
    )
    d.find_element(By.ID, "start-btn").click()
    msg = wait_for(
        "the start", lambda: text_of(d, "#action-msg").startswith("Started") and text_of(d, "#action-msg")
    )
    sid = int(msg.rsplit("session ", 1)[1].rstrip(")."))
    assert msg == f"Started {title} for {player} (session {sid}).", msg
    return sid


def _begin(d, base: str, size, player: str, program: str) -> int:
    """Open the live page at ``size``, add ``player``, pick ``program`` and start it: its id."""
    d.set_window_size(*size)
    _open_live(d, base)
    _add_player(d, player)
    pick(d, "workout-pick", "⏱ " + program)
    return _start(d, player, program)


def _no_internal_names(text: str) -> None:
    assert "_" not in text and "DEEP" not in text and "tabata" not in text and "circuit" not in text, text


def test_a_tabata_from_the_page_on_a_phone(appliance, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    from hiitpi.store import queries
    from hiitpi.store.export import work_seconds
    from hiitpi.web.layout import fmt_time

    base, store, d = appliance["base"], appliance["store"], browser
    sid = _begin(d, base, PHONE, "Bo", "Tabata test")
    wait_for("the program's countdown", lambda: visible(d, "#live-program") and text_of(d, "#live-countdown"))
    assert text_of(d, "#live-program-phase") == "Work · Squat"
    assert text_of(d, "#live-round") == "Round 1/2 · interval 1/2"
    assert text_of(d, "#live-next") == "Next: rest 3 s"
    assert (
        visible(d, "#stop-btn") and not visible(d, "#live-controls") and visible(d, "#live-interval-reps-box")
    )
    countdown = d.find_element(By.ID, "live-countdown")
    shot(d, "live-tabata-start-phone")
    assert countdown.rect["height"] >= 70 and countdown.rect["y"] < 300, countdown.rect  # big, at the top
    stop = d.find_element(By.ID, "stop-btn").rect
    assert stop["y"] + stop["height"] <= d.execute_script("return window.innerHeight;"), stop  # on screen
    shot(d, "live-tabata-start-phone")
    appliance["gate"].set()

    seen: dict[str, set] = {"phase": set(), "round": set(), "next": set()}
    running_total = {"max_gap": 0}  # how far the session's total got above this interval's count
    shots: set[str] = set()

    def watch() -> bool:
        if not visible(d, "#live-program"):
            return visible(d, "#live-result")
        phase, rnd = text_of(d, "#live-program-phase"), text_of(d, "#live-round")
        seen["phase"].add(phase)
        seen["round"].add(rnd)
        seen["next"].add(text_of(d, "#live-next"))
        total, this = text_of(d, "#live-reps"), text_of(d, "#live-interval-reps")
        if total.isdigit() and this.isdigit():
            running_total["max_gap"] = max(running_total["max_gap"], int(total) - int(this))
        if phase == "Rest" and "rest" not in shots:
            shots.add("rest")
            shot(d, "live-tabata-rest-phone")
            assert text_of(d, "#live-norep") == ""  # a no-rep's reason does not stay into the rest
        if rnd.startswith("Round 2") and phase.startswith("Work") and "work2" not in shots:
            shots.add("work2")
            shot(d, "live-tabata-round2-phone")
        return False

    wait_for("the Tabata to finish by itself", watch, timeout=120, every=0.05)
    assert {"Work · Squat", "Rest"} <= seen["phase"], seen
    assert {"Round 1/2 · interval 1/2", "Round 2/2 · interval 2/2"} <= seen["round"], seen
    assert "Next: Squat" in seen["next"] and "Next: the end" in seen["next"], seen
    for t in seen["phase"] | seen["round"] | seen["next"]:
        _no_internal_names(t)

    # the numbers: the result card, the store and the session page agree
    wait_for(
        "the store to close the session", lambda: queries.session_detail(store, sid).session.status == "done"
    )
    detail = queries.session_detail(store, sid)
    total = detail.session.reps
    assert [i.workout for i in detail.intervals] == ["squat", "squat"]
    assert sum(i.reps for i in detail.intervals) == total and total > 0
    if detail.intervals[0].reps:  # round 2 showed the running total above its own count
        assert running_total["max_gap"] >= detail.intervals[0].reps - 1, running_total
    wait_for("the result card", lambda: text_of(d, "#live-result-reps") == str(total))
    assert text_of(d, "#live-result-title") == "Bo · Tabata test"
    cues = d.execute_script("return window.hiitpiMetrics.cues;")
    kinds = [c["what"] for c in cues]
    assert {"rest", "go", "countdown", "end"} <= set(kinds), kinds
    said = [c["text"] for c in cues if c["kind"] == "say"]
    assert "Rest. Next: Squat." in said and "Last one. Squat. Go!" in said, said
    assert f"Done. {total} reps." in said, said
    assert d.execute_script("return window.hiitpiMetrics.errors;") == 0
    shot(d, "live-tabata-result-phone")

    d.find_element(By.ID, "live-result-link").click()
    wait_for("the session page", lambda: text_of(d, "#sess-reps") == str(total))
    # work: the intervals' time as recorded (the wall clock: on a loaded machine the lossless clip
    # plays slower than its 2 × 5 s of program time, so it is read from the store, not assumed)
    assert text_of(d, "#sess-title") == "Tabata test"
    assert text_of(d, "#sess-work") == fmt_time(work_seconds(detail))
    rows = [r.text.split() for r in d.find_elements(By.CSS_SELECTOR, "#sess-intervals tbody tr")]
    assert [r[:4] for r in rows] == [
        [str(i.index), "Squat", str(i.round), str(i.reps)] for i in detail.intervals
    ], rows
    wait_for("the session charts", lambda: len(d.find_elements(By.CSS_SELECTOR, ".charts .main-svg")) >= 2)
    time.sleep(0.5)
    assert overflow_x(d) == 0
    shot(d, "session-tabata-phone")
    d.set_window_size(*LAPTOP)
    time.sleep(0.7)
    shot(d, "session-tabata-laptop")

    # history by program
    d.set_window_size(*PHONE)
    d.get(base + "/history")
    wait_for("history", lambda: d.find_elements(By.CSS_SELECTOR, ".session-card"))
    pick(d, "hist-workout", "⏱ Tabata test")
    wait_for("the filter in the URL", lambda: "workout=tabata_test" in d.current_url)  # a link to share
    card = wait_for("the Tabata in history", lambda: d.find_elements(By.CSS_SELECTOR, ".session-card"))[0]
    assert (
        card.text.startswith(str(total)) and "⏱ Bo · Tabata test" in card.text and f"#{sid} · " in card.text
    )


def test_a_circuit_on_a_laptop_with_a_late_viewer(appliance, browser):  # noqa: F811
    from selenium.webdriver.common.by import By

    from hiitpi.store import queries

    base, store, d = appliance["base"], appliance["store"], browser
    sid = _begin(d, base, LAPTOP, "Cy", "Circuit test")
    first = d.current_window_handle
    appliance["gate"].set()
    wait_for(
        "a few reps", lambda: text_of(d, "#live-reps").isdigit() and int(text_of(d, "#live-reps")) >= 3, 60
    )

    # a second page opens mid-session: its charts start with the whole session so far
    d.switch_to.new_window("tab")
    _open_live(d, base)

    def caught_up():
        pts = d.execute_script(POINTS_JS)
        reps, attempts = text_of(d, "#live-reps"), text_of(d, "#live-second")
        return pts and reps.isdigit() and pts[0] == int(reps) >= 2 and sum(pts) == int(attempts)

    wait_for("the late page's charts to hold the session so far", caught_up, timeout=15)
    shot(d, "live-circuit-late-laptop")
    phases = set()

    def watch() -> bool:
        phase = text_of(d, "#live-program-phase")  # "" once the program has ended and is hidden
        if phase:
            phases.add(phase)
        return visible(d, "#live-result")

    wait_for("the circuit to finish by itself", watch, timeout=120, every=0.05)
    assert phases and all(p.startswith("Work · ") or p == "Rest" for p in phases), phases
    for p in phases:
        _no_internal_names(p)
    wait_for(
        "the store to close the session", lambda: queries.session_detail(store, sid).session.status == "done"
    )
    detail = queries.session_detail(store, sid)
    total = detail.session.reps
    assert [i.workout for i in detail.intervals] == ["squat", "jumping_jack", "squat"]
    wait_for("the result card", lambda: text_of(d, "#live-result-reps") == str(total))
    assert text_of(d, "#live-result-title") == "Cy · Circuit test"
    assert d.execute_script(POINTS_JS) == [total, detail.session.no_reps]  # the whole session, once
    shot(d, "live-circuit-result-laptop")
    d.close()
    d.switch_to.window(first)
    wait_for("the first page's result", lambda: text_of(d, "#live-result-reps") == str(total))
    assert d.execute_script(POINTS_JS) == [total, detail.session.no_reps]
    # the first page followed the whole circuit: its cues name each interval by its title
    said = [c["text"] for c in d.execute_script("return window.hiitpiMetrics.cues;") if c["kind"] == "say"]
    for cue in (
        "Rest. Next: Jumping jack.",
        "Halfway. Jumping jack. Go!",
        "Rest. Next: Squat.",
        "Last one. Squat. Go!",
    ):
        assert cue in said, said

    # the player and the program are remembered on reload
    _open_live(d, base)
    assert text_of(d, "#player-pick") == "Cy" and text_of(d, "#workout-pick").startswith("⏱ Circuit test")
    d.find_element(By.ID, "live-result-link").click()
    wait_for("the session page", lambda: text_of(d, "#sess-reps") == str(total))
    rows = [r.text.split("\n")[0] for r in d.find_elements(By.CSS_SELECTOR, "#sess-intervals tbody tr")]
    assert [r.split()[1:3] for r in rows] == [["Squat", "1"], ["Jumping", "jack"], ["Squat", "1"]], rows
    shot(d, "session-circuit-laptop")

    # rename it from its page
    box = d.find_element(By.ID, "sess-name")
    box.clear()
    box.send_keys("Friday circuit")
    d.find_element(By.ID, "sess-rename").click()
    wait_for("the rename", lambda: text_of(d, "#sess-title") == "Friday circuit")
    assert queries.session_detail(store, sid).session.name == "Friday circuit"

    # a new session clears the charts
    _open_live(d, base)
    pick(d, "workout-pick", "Squat")
    new = _start(d, "Cy", "Squat")
    wait_for("the charts cleared", lambda: d.execute_script(POINTS_JS) == [0, 0], timeout=10)
    assert text_of(d, "#live-reps") == "0" and text_of(d, "#live-who") == "Cy · Squat"
    d.find_element(By.ID, "stop-btn").click()
    wait_for("the stop", lambda: text_of(d, "#action-msg") == f"Stopped: session {new} saved, 0 reps.")

    # the empty one is deleted from its page (after the browser's confirmation)
    d.get(f"{base}/session/{new}")
    wait_for("its page", lambda: text_of(d, "#sess-reps") == "0")
    d.find_element(By.ID, "sess-delete").click()
    wait_for("the confirmation", lambda: d.switch_to.alert)
    d.switch_to.alert.accept()
    wait_for("the session to be gone", lambda: d.current_url.endswith("/history"))
    cards = wait_for("history", lambda: d.find_elements(By.CSS_SELECTOR, ".session-card"))
    assert len(cards) == 1 and "Cy · Friday circuit" in cards[0].text and "⏱ Circuit test" in cards[0].text
    assert f"#{new} · " not in text_of(d, "body")
    shot(d, "history-renamed-laptop")
