"""Malformed HTTP input to every route of the real dashboard's Flask app (Dash + routes + pairing +
/healthz), paired and not: a 4xx, never a 500.

Hypothesis builds the requests: any method, every route in the Flask URL map with junk in its
variable parts, junk query strings, bodies (random bytes, random JSON, forms) under any content
type, and junk cookies. Real store (SQLite file), real Redis; no engine (so /api/start gets no
answer from an engine, which is a 4xx). The two streams the event loop serves (/video,
/api/live/events) are not in this map.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hiitpi.config import load_settings

pytestmark = pytest.mark.slow

METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]
CONTENT_TYPES = [
    None,
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data; boundary=xyz",
    "multipart/form-data",
    "text/plain",
    "application/json; charset=utf-16",
    "application/octet-stream",
    "\x00garbage/\xff",
]
#: A 5xx that is the answer by design, not a crash: {(route, status)}. (None left: /video, which
#: says "no video here" with 503 without an engine, is served by the event loop, not Flask.)
DELIBERATE_5XX: set[tuple[str, int]] = set()

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=50),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=20), children, max_size=5)
    ),
    max_leaves=20,
)
#: What a Dash callback request looks like, but wrong in every way it can be.
dash_bodies = st.fixed_dictionaries(
    {},
    optional={
        "output": st.text(max_size=40) | json_values,
        "outputs": json_values,
        "inputs": json_values
        | st.lists(st.dictionaries(st.sampled_from(["id", "property", "value"]), json_values)),
        "changedPropIds": json_values,
        "state": json_values,
    },
)
segment = st.text(min_size=0, max_size=30)


@pytest.fixture(scope="module")
def app_and_code(tmp_path_factory, redis_server):
    import hiitpi.web.actions as actions
    from hiitpi.pairing import create_secrets
    from hiitpi.web.app import create_app

    data = tmp_path_factory.mktemp("fuzz")
    conf = load_settings(
        None,
        env={},
        overrides={("general", "data_dir"): str(data), ("redis", "url"): redis_server.url},
    )
    _, code = create_secrets(conf.general.data_dir)
    old = actions.COMMAND_TIMEOUT_S
    actions.COMMAND_TIMEOUT_S = 0.05  # no engine here: do not wait 4 s for its answer
    app = create_app(conf)
    app.server.config["TESTING"] = False  # errors become 500s, as in production
    app.server.config["PROPAGATE_EXCEPTIONS"] = False
    yield app, code
    actions.COMMAND_TIMEOUT_S = old


def _paths(server) -> list[str]:
    """Every rule in the URL map, variables shown as <name>."""
    return sorted({r.rule for r in server.url_map.iter_rules()})


@st.composite
def requests_(draw, rules: list[str]):
    rule = draw(st.sampled_from(rules))
    path = re.sub(r"<(?:[^:<>]+:)?[^<>]+>", lambda _m: quote(draw(segment), safe=""), rule)
    if draw(st.booleans()):
        path += draw(st.sampled_from(["", "/", "//", "/..", "/%00", "/%ff", ".json", "?"]))
    path = "/" + path.lstrip("/")  # "//x" would be read by the test client as a host name
    method = draw(st.sampled_from(METHODS))
    query = draw(st.dictionaries(st.text(max_size=10), st.text(max_size=40), max_size=4))
    ctype = draw(st.sampled_from(CONTENT_TYPES))
    kind = draw(st.sampled_from(["none", "bytes", "json", "dash", "form"]))
    if kind == "bytes":
        body = draw(st.binary(max_size=300))
    elif kind == "json":
        body = json.dumps(draw(json_values)).encode()
    elif kind == "dash":
        body = json.dumps(draw(dash_bodies)).encode()
    elif kind == "form":
        body = urlencode(
            draw(st.dictionaries(st.text(max_size=10), st.text(max_size=100), max_size=4))
        ).encode()
    else:
        body = b""
    headers = {}
    if ctype:
        headers["Content-Type"] = ctype
    if draw(st.booleans()):
        headers["Accept"] = draw(st.sampled_from(["text/html", "application/json", "*/*", "", "\x7f;q=x"]))
    cookie = draw(st.sampled_from([None, "hiitpi_session=", "hiitpi_session=junk.junk.junk", "x=\x01"]))
    return rule, method, path, query, body, headers, cookie


def _check(client, req, paired: bool, failures: dict) -> None:
    rule, method, path, query, body, headers, cookie = req
    if cookie and not paired:
        client.set_cookie(cookie.split("=", 1)[0], cookie.split("=", 1)[1])
    resp = client.open(path, method=method, query_string=query, data=body, headers=headers, buffered=False)
    try:
        status = resp.status_code
    finally:
        resp.close()
    if status >= 500 and (rule, status) not in DELIBERATE_5XX:
        failures.setdefault((rule, status), f"{method} {path!r} paired={paired} body={body[:80]!r}")


def test_fuzz_every_route_unpaired(app_and_code):
    app, _ = app_and_code
    rules = _paths(app.server)
    assert {"/login", "/healthz", "/api/start", "/_dash-update-component"} <= set(rules)

    failures: dict = {}

    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(requests_(rules))
    def run(req):
        _check(app.server.test_client(), req, False, failures)

    run()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


def test_fuzz_every_route_paired(app_and_code):
    app, code = app_and_code
    rules = _paths(app.server)
    from hiitpi.web.auth import LoginLimiter

    app.server.extensions["hiitpi_auth"].limiter = LoginLimiter()  # the unpaired fuzz spent the budget
    paired = app.server.test_client()
    assert paired.post("/login", data={"code": code}).status_code == 303
    assert paired.get("/api/live/state").status_code == 200

    failures: dict = {}

    cookie = paired.get_cookie("hiitpi_session").value

    @settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(requests_(rules))
    def run(req):
        client = app.server.test_client()  # a fresh paired client: a fuzzed /logout must not unpair the rest
        client.set_cookie("hiitpi_session", cookie)
        _check(client, req, True, failures)

    run()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
