"""The chat panel in real headless Chromium: ask on the session page and watch the answer stream in,
token by token, from llama.cpp running the small test GGUF; see which kind each answer is; find the
conversation again after a reload; clear it; ask about a player's history on the history page.

The model's text is noise (random weights), shaped by a llama.cpp grammar: without digits it is
kept as the model's answer; made of digits it fails the fact check twice and the page shows the
plain answer built from the facts. The history is seeded (scripts/seed_history.py, fixed seed) in
a real SQLite file; Redis is a real redis-server. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import pytest

from tests.browserkit import ARTIFACTS, text_of, wait_for
from tests.chat_history import NOW, seed_history, site_settings
from tests.test_coach_llm import DIGITS_ONLY, NO_DIGITS, _grammar

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture()
def chat_site(tmp_path, redis_url, shared_llm):
    pytest.importorskip("llama_cpp", reason="llama-cpp-python is not installed")
    from hiitpi.coach.chat import ChatCoach
    from hiitpi.coach.job import CoachWorker
    from hiitpi.coach.model import SharedModel
    from hiitpi.coach.summary import Coach
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    store = seed_history(tmp_path / "h.db")
    settings = site_settings(tmp_path, redis_url)
    model = SharedModel(shared_llm / "tiny-llama-spm-q8_0.gguf", threads=1, nice=0, keep_s=60)
    chat = ChatCoach(model, max_tokens=48, sampling={"grammar": _grammar(NO_DIGITS)})
    worker = CoachWorker(Coach(None, model=model), chat=chat)
    app = create_app(settings, store=store, coach=worker, auth=False)
    app.server.extensions["hiitpi_web"].chat.now = lambda: NOW
    web = WebServer(settings, app)
    web.start()
    yield {"base": f"http://127.0.0.1:{settings.web.port}", "chat": chat, "store": store}
    web.stop()
    worker.stop()
    store.close()


def _bubbles(d) -> list[tuple[str, str, str]]:
    """(role, label, text) of every message in the chat log, read in one go in the page."""
    rows = d.execute_script(
        "return Array.from(document.querySelectorAll('#chat-panel .chat-msg')).map(function (b) {"
        " var l = b.querySelector('.chat-label');"
        " return [b.classList.contains('chat-coach') ? 'coach' : 'user', l ? l.textContent : '',"
        " b.querySelector('.chat-text').textContent]; });"
    )
    return [tuple(r) for r in rows]


def _click(d, css: str, text: str | None = None) -> None:
    """Click the element (with that text), again if the page re-rendered it meanwhile."""
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By

    def attempt():
        try:
            for el in d.find_elements(By.CSS_SELECTOR, css):
                if text is None or el.text == text:
                    el.click()
                    return True
        except StaleElementReferenceException:
            return False
        return False

    wait_for(f"{css} {text or ''} to be clicked", attempt)


def test_ask_on_the_session_page_and_the_history_page(chat_site, browser):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    base, d = chat_site["base"], browser
    d.get(base + "/session/3")
    wait_for("the suggested questions", lambda: d.find_elements(By.CSS_SELECTOR, ".chat-suggest"))
    assert "Ask the coach about this session" in text_of(d, "#chat-panel h2")
    _click(d, ".chat-suggest", "What should I work on next time?")
    wait_for(
        "the streamed answer", lambda: d.execute_script("return window.hiitpiChat.done") >= 1, timeout=60
    )
    stats = d.execute_script("return window.hiitpiChat")
    lengths = stats["lengths"]
    # the text arrived token by token: it grew many times before it was done
    assert stats["tokens"] >= 5 and lengths == sorted(lengths) and len(set(lengths)) >= 5, stats
    log = _bubbles(d)
    assert log[0] == ("user", "", "What should I work on next time?")
    assert log[1][0] == "coach" and log[1][1] == "Coach · every number checked against your sessions"
    assert log[1][2] and not any(c.isdigit() for c in log[1][2])
    d.save_screenshot(str(ARTIFACTS / "chat-session-phone.png"))

    # typed, and outside what the coach answers: no model, a fixed answer
    box = d.find_element(By.CSS_SELECTOR, "#chat-panel .chat-input")
    box.send_keys("My knee hurts when I squat" + Keys.ENTER)
    wait_for("the medical answer", lambda: d.execute_script("return window.hiitpiChat.done") >= 2, timeout=30)
    assert _bubbles(d)[-1][1] == "Please see a professional" and "professional" in _bubbles(d)[-1][2]

    # the conversation is kept: a reload shows it again
    d.refresh()
    wait_for("the kept conversation", lambda: len(_bubbles(d)) == 4, timeout=20)
    assert [r for r, _l, _t in _bubbles(d)] == ["user", "coach", "user", "coach"]
    d.set_window_size(1280, 1000)
    d.save_screenshot(str(ARTIFACTS / "chat-session-laptop.png"))
    d.set_window_size(390, 1400)
    _click(d, "#chat-panel .chat-clear")
    wait_for(
        "the cleared log", lambda: not _bubbles(d) and "cleared" in text_of(d, "#chat-panel .chat-status")
    )
    d.refresh()
    wait_for("the panel after the reload", lambda: d.find_elements(By.CSS_SELECTOR, ".chat-suggest"))
    assert _bubbles(d) == []

    # the history page: the conversation is the picked player's; the model now writes digits
    chat_site["chat"].sampling = {"grammar": _grammar(DIGITS_ONLY)}
    d.get(base + "/history?player=Ann")
    wait_for("Ann's chat", lambda: "Ann's history" in text_of(d, "#chat-panel h2"), timeout=20)
    box = d.find_element(By.CSS_SELECTOR, "#chat-panel .chat-input")
    box.send_keys("How many reps did I do last week?")
    _click(d, "#chat-panel .chat-send")
    wait_for("the plain answer", lambda: d.execute_script("return window.hiitpiChat.done") >= 1, timeout=60)
    stats = d.execute_script("return window.hiitpiChat")
    assert stats["discards"] == 2  # both drafts had numbers that are not in the data
    _role, label, text = _bubbles(d)[-1]
    assert (
        label == "Plain answer from your numbers (the coach's answer had a number that is not in your data)"
    )
    assert text.startswith("Last week you did ")
    d.save_screenshot(str(ARTIFACTS / "chat-history-phone.png"))
    d.get(base + "/history")
    wait_for("the pick-a-player note", lambda: "Pick a player" in text_of(d, "#chat-panel"), timeout=20)
