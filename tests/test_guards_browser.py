"""The request guards in a real headless Chromium: every page works under the Content-Security-Policy
(no violation reported, the live page's charts drawn), and a page served from another port of the
same host — its requests carry the phone's SameSite=Lax cookie — cannot create a player, start a
session or sign the phone out (the issue's same-site CSRF, done with a plain HTML form and fetch)."""

from __future__ import annotations

import http.server
import threading
import time

import pytest

from hiitpi.pairing import create_secrets
from tests.conftest import free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: Injected before any page script (the DevTools protocol is not subject to the page's CSP).
CSP_WATCH = (
    "window.__csp = [];"
    "document.addEventListener('securitypolicyviolation',"
    " e => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI));"
)


@pytest.fixture()
def served(settings_factory, redis_url):
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    settings = settings_factory(
        {("redis", "url"): redis_url, ("web", "host"): "127.0.0.1", ("web", "port"): free_port()}
    )
    _, code = create_secrets(settings.general.data_dir)
    app = create_app(settings)
    web = WebServer(settings, app)
    web.start()
    web.base, web.code = f"http://127.0.0.1:{web.port}", code
    web.store = app.server.extensions["hiitpi_web"].store
    yield web
    web.stop()


def _wait(what: str, cond, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.1)
    pytest.fail(f"timed out after {timeout:g} s waiting for {what}")


def _players(web) -> list[str]:
    from hiitpi.store.players import list_players

    return [p.name for p in list_players(web.store)]


def test_every_page_runs_under_the_content_security_policy(served, browser):
    from selenium.webdriver.common.by import By

    d = browser
    d.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": CSP_WATCH})
    d.get(f"{served.base}/login?code={served.code}")
    _wait("the live page", lambda: d.find_elements(By.ID, "live-reps"), 60)
    _wait("the charts", lambda: d.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .main-svg"), 30)
    box = d.find_element(By.ID, "new-player")
    box.send_keys("Ana")
    d.find_element(By.ID, "add-player").click()  # a Dash callback: a same-origin POST
    _wait("the player saved", lambda: "Ana" in _players(served))
    assert d.execute_script("return window.__csp") == []
    for path in ("/history", "/trends", "/login"):
        d.get(served.base + path)
        time.sleep(1.5)
        assert d.execute_script("return window.__csp") == [], path
    assert "Traceback" not in d.page_source


class _Attacker(http.server.BaseHTTPRequestHandler):
    target = ""

    def do_GET(self):
        t = self.target
        page = f"""<!doctype html><html><body>
<iframe name="a" id="fa"></iframe><iframe name="b"></iframe><iframe name="c"></iframe>
<form id="f1" method="post" action="{t}/api/players" target="a"><input name="name" value="Mallory"></form>
<form id="f2" method="post" action="{t}/api/start" target="b">
  <input name="player" value="Mallory"><input name="workout" value="squat"></form>
<form id="f3" method="post" action="{t}/logout" target="c"></form>
<script>
document.getElementById('f1').submit(); document.getElementById('f2').submit();
fetch('{t}/_dash-update-component', {{method: 'POST', mode: 'no-cors', credentials: 'include',
  headers: {{'Content-Type': 'text/plain'}},
  body: JSON.stringify({{output: 'x', inputs: [], changedPropIds: []}})}})
  .finally(() => {{ document.getElementById('f3').submit(); document.title = 'sent'; }});
</script></body></html>"""
        body = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def test_a_page_on_another_port_cannot_drive_the_appliance(served, browser):
    from selenium.webdriver.common.by import By

    d = browser
    d.get(f"{served.base}/login?code={served.code}")
    _wait("the live page", lambda: d.find_elements(By.ID, "live-reps"), 60)
    _Attacker.target = served.base
    attacker = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), _Attacker)
    threading.Thread(target=attacker.serve_forever, daemon=True).start()
    try:
        refused_before = dict(served.policy.refused)
        d.get(f"http://127.0.0.1:{attacker.server_address[1]}/attack.html")  # same site, other port
        _wait("the attack to be sent", lambda: d.title == "sent", 20)
        time.sleep(1.5)  # the form posts land
        refused = dict(served.policy.refused)
    finally:
        attacker.shutdown()
    assert refused.get("csrf", 0) - refused_before.get("csrf", 0) >= 4, refused  # all four refused
    assert "Mallory" not in _players(served)
    d.get(served.base + "/")  # still paired: the forged logout did nothing
    _wait("the live page again", lambda: d.find_elements(By.ID, "live-reps"), 30)
    assert "/login" not in d.current_url
