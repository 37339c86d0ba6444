"""Every input validated at the edge: the probe's 500s, each reproduced against the real dashboard
(event-loop server, pairing on, real SQLite and Redis) with a paired cookie, now a 4xx or a page
that says what is wrong; and what the Dash renderer really sends still passes.

The findings: ``int('²')`` (``"²".isdigit()`` is true) in session and page numbers,
``rstrip``/``strip`` on values that are not strings, ids and page numbers that overflow SQLite
integers, ``GET /export/session/%C2%B2.csv``, and Dash's own 500s for structurally bad callback
bodies (no ``output``, an array or ``null`` body, 5,000-deep nesting)."""

from __future__ import annotations

import json

import pytest

from tests.test_guards import served  # noqa: F401  (the real dashboard and a paired phone)

CALLBACK = "/_dash-update-component"


def callback_body(output: str, inputs: list, state: list | None = None, changed=None) -> dict:
    """A body shaped like the renderer's: ``inputs``/``state`` are (id, property, value)."""
    if output.startswith(".."):
        outs = [
            {"id": p.split(".", 1)[0], "property": p.split(".", 1)[1].split("@")[0]}
            for p in output.strip(".").split("...")
        ]
    else:
        cid, prop = output.split(".", 1)
        outs = {"id": cid, "property": prop}
    body = {
        "output": output,
        "outputs": outs,
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "changedPropIds": changed if changed is not None else [f"{inputs[0][0]}.{inputs[0][1]}"],
    }
    if state:
        body["state"] = [{"id": i, "property": p, "value": v} for i, p, v in state]
    return body


def post(web, body, raw: bytes | None = None):
    data = raw if raw is not None else json.dumps(body).encode()
    return web.phone.post(
        web.base + CALLBACK, data=data, headers={"Content-Type": "application/json"}, timeout=10
    )


def route(web, pathname, search=""):
    return post(
        web, callback_body("page.children", [("url", "pathname", pathname)], [("url", "search", search)])
    )


def key(web, *parts: str) -> str:
    """The callback whose outputs include every one of ``parts``."""
    return next(k for k in web.app.callback_map if all(p in k for p in parts))


@pytest.fixture()
def web(served):  # noqa: F811
    return served


def test_a_real_route_request_passes(web):
    r = route(web, "/history")
    assert r.status_code == 200, r.text
    assert "hist-results" in r.text


@pytest.mark.parametrize(
    "pathname, expect",
    [
        ("/session/²", "is not a session number"),
        ("/session/١٢", "is not a session number"),  # Arabic-Indic digits
        ("/session/99999999999999999999", "is not a session number"),  # past SQLite's integers
        ("/session/999999999999", "There is no session"),
    ],
)
def test_session_numbers_are_ascii_digits_in_range(web, pathname, expect):
    r = route(web, pathname)
    assert r.status_code == 200, r.text
    assert expect in r.text


@pytest.mark.parametrize("search", ["?page=²", "?page=99999999999999999999999", "?page=-3", "?page=1e9"])
def test_history_page_numbers_from_the_url(web, search):
    r = route(web, "/history", search)
    assert r.status_code == 200, r.text
    assert '"data": 1' in r.text.replace('"data":1', '"data": 1')  # back to page 1


@pytest.mark.parametrize("value", [10**30, 2**63, -1, 0, 1.5, "2", True, [1], {"a": 1}])
def test_history_page_store_out_of_range_or_not_a_number_is_refused(web, value):
    hist = key(web, "hist-results.children")
    inputs = [(f"hist-{n}", "value", None) for n in ("player", "workout", "from", "to")]
    inputs += [("hist-prev", "n_clicks", None), ("hist-next", "n_clicks", 1)]
    r = post(web, callback_body(hist, inputs, [("hist-page", "data", value)], changed=["hist-next.n_clicks"]))
    assert r.status_code == 400 and "hist-page.data" in r.json()["error"], r.text
    r = post(web, callback_body(hist, inputs, [("hist-page", "data", 3)], changed=["hist-next.n_clicks"]))
    assert r.status_code == 200, r.text  # a real page number passes


@pytest.mark.parametrize("pathname", [7, ["/"], {"x": 1}, 1.5, True, "x" * 5000])
def test_values_of_the_wrong_type_never_reach_a_callback(web, pathname):
    r = route(web, pathname)  # was: 'int' object has no attribute 'rstrip' (a 500)
    assert r.status_code == 400 and "url.pathname" in r.json()["error"], r.text


def test_player_name_that_is_not_text(web):
    add = key(web, "new-player.value", "player-pick.options")
    for name in ([" Ana "], {"strip": 1}, 12):
        r = post(web, callback_body(add, [("add-player", "n_clicks", 1)], [("new-player", "value", name)]))
        assert r.status_code == 400 and "new-player.value" in r.json()["error"]


@pytest.mark.parametrize(
    "raw",
    [
        b"[]",
        b"null",
        b'"output"',
        b"{}",
        b'{"inputs": []}',  # no output
        b'{"output": 5}',
        b'{"output": "nope.children", "inputs": []}',
        b'{"output": "page.children", "inputs": {"id": "url"}}',
        b'{"output": "page.children", "inputs": [5], "state": [null]}',
        b'{"output": "page.children", "inputs": [{"id": "url", "property": "pathname", "value": "/"}], '
        b'"state": [{"id": "url", "property": "search", "value": ""}], "changedPropIds": "url.pathname"}',
        b'{"output": "page.children", "outputs": [1, 2], "inputs": []}',
        b"[" * 5000 + b"]" * 5000,
        b'{"output": "page.children", "inputs": ' + b"[" * 5000 + b"]" * 5000 + b"}",
        b"{\xff\xfe",
        b'{"output": "page.children", "inputs": [{"id": "url", "property": "pathname", "value": NaN}]}',
    ],
)
def test_structurally_bad_callback_bodies_are_400_not_500(web, raw):
    r = post(web, None, raw=raw)
    assert r.status_code == 400, (raw[:80], r.status_code, r.text[:300])
    assert "error" in r.json()


def test_export_of_a_session_number_that_is_not_one(web):
    for path in (
        "/export/session/%C2%B2.csv",
        "/export/session/99999999999999999999.csv",
        "/export/session/0.csv",
    ):
        r = web.phone.get(web.base + path, timeout=5)
        assert r.status_code == 400 and "session id must be a number" in r.json()["error"], (path, r.text)
    assert web.phone.get(web.base + "/export/session/123.csv", timeout=5).status_code == 404


def test_a_multi_output_callback_with_the_wrong_number_of_outputs_is_refused(web):
    # the health banner's callback has two outputs: no outputs, one, or three are a bad request
    # (Dash itself raised on them: a 500)
    out = key(web, "health-banner.children", "health-banner.className")
    good = callback_body(out, [("health-tick", "n_intervals", 3)])
    for outs in ([], good["outputs"][:1], good["outputs"] * 2, good["outputs"][0]):
        r = post(web, {**good, "outputs": outs})
        assert r.status_code == 400 and "outputs" in r.json()["error"], (outs, r.status_code, r.text[:200])
    assert post(web, good).status_code in (200, 204)


def test_every_callback_argument_has_a_rule(web):
    from hiitpi.web.callguard import missing_rules

    assert missing_rules(web.app) == [], "add a rule in hiitpi/web/callguard.py (ARG_RULES or ID_RULES)"


def test_pattern_matching_arguments_are_checked_per_component(web):
    """The correction buttons ({"type": "correct-btn", "workout": ALL}): Dash sends a list with one
    object per button; the guard checks each one's id and value (a real click is let through to
    the callback, which has no session to correct)."""
    out = next(k for k, spec in web.app.callback_map.items() if "correct-btn" in str(spec["inputs"]))

    def body(items):
        b = callback_body(out, [("x", "n_clicks", None)])
        b["inputs"] = [items]
        b["changedPropIds"] = ['{"type":"correct-btn","workout":"squat"}.n_clicks']
        return b

    click = {"id": {"type": "correct-btn", "workout": "squat"}, "property": "n_clicks"}
    r = post(web, body([{**click, "value": 1}, {**click, "id": {"type": "correct-btn", "workout": "lunge"}}]))
    assert r.status_code == 200, r.text  # through the guard, answered by the callback
    for items, why in [
        ([{**click, "value": "1"}], "must be a whole number"),
        ([{**click, "id": {"type": "start-btn"}, "value": 1}], "not a correct-btn"),
        ([{**click, "property": "children", "value": 1}], "do not match"),
        ([{**click, "value": 1}] * 201, "too many components"),
    ]:
        r = post(web, body(items))
        assert r.status_code == 400 and why in r.json()["error"], (items[:1], r.text)
