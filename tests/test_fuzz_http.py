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
def app_and_cookie(tmp_path_factory, redis_server):
    """The real dashboard and a paired phone's cookie (the pairing code works once)."""
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
    phone = app.server.test_client()
    assert phone.post("/login", data={"code": code}).status_code == 303
    cookie = phone.get_cookie("hiitpi_session").value
    yield app, cookie
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


def test_fuzz_every_route_unpaired(app_and_cookie):
    app, _ = app_and_cookie
    rules = _paths(app.server)
    assert {"/login", "/healthz", "/api/start", "/_dash-update-component"} <= set(rules)

    failures: dict = {}

    @settings(max_examples=400, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(requests_(rules))
    def run(req):
        _check(app.server.test_client(), req, False, failures)

    run()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


def test_fuzz_every_route_paired(app_and_cookie):
    app, cookie = app_and_cookie
    # /logout signs this phone out (its cookie is revoked): the rest would run unpaired
    rules = [r for r in _paths(app.server) if r != "/logout"]
    paired = app.server.test_client()
    paired.set_cookie("hiitpi_session", cookie)
    assert paired.get("/api/live/state").status_code == 200

    failures: dict = {}

    @settings(max_examples=600, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(requests_(rules))
    def run(req):
        client = app.server.test_client()
        client.set_cookie("hiitpi_session", cookie)
        _check(client, req, True, failures)

    run()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())


#: Values a hostile page could put in any callback argument: JSON of any shape, and text that
#: looks like what the callbacks parse (paths, queries, dates, names) but is not.
hostile_text = st.sampled_from(
    [
        "/session/²",
        "/session/١٢",
        "/session/99999999999999999999",
        "/session/-1",
        "/session/0",
        "?page=²",
        "?page=99999999999999999999",
        "?player=%00&workout=%ff",
        "2024-02-30",
        "9999-99-99",
        "²⁰²⁴-01-01",
        '=HYPERLINK("x")',
        "@SUM(A1)",
        " ",
        "\x00",
        "../../etc/passwd",
        "x" * 600,
    ]
) | st.text(max_size=60)
hostile_values = hostile_text | json_values | st.integers(min_value=-(2**70), max_value=2**70)
#: Values of the right type (text, a count, nothing) but hostile content: these pass the guard and
#: reach the callbacks' own code.
plausible_values = hostile_text | st.none() | st.booleans() | st.integers(min_value=0, max_value=10**9)


@st.composite
def callback_requests(draw, callback_map: dict):
    output = draw(st.sampled_from(sorted(callback_map)))
    spec = callback_map[output]

    from hiitpi.web.callguard import rule_for

    # half the requests only values the argument's rule lets through (they reach the callback's own
    # code, however many arguments it takes), half any value at all
    typed = draw(st.booleans())

    def value(d):
        if typed:
            rule = rule_for(d["id"], d["property"])
            # the first of a few plausible values the rule lets through (none: nothing, which every
            # rule takes); a filter would discard most requests of a callback with many arguments
            for v in draw(st.lists(plausible_values, min_size=1, max_size=4)):
                if rule is None or rule(v) is None:
                    return v
            return None
        return draw(plausible_values | hostile_values)

    def dep(d):
        if d["id"].startswith("{"):  # pattern-matching (ALL): the matched components, a list
            kind = json.loads(d["id"]).get("type")
            keys = draw(st.lists(st.text(max_size=12), max_size=3))
            return [
                {"id": {"type": kind, "key": k}, "property": d["property"], "value": value(d)} for k in keys
            ]
        return {"id": d["id"], "property": d["property"], "value": value(d)}

    def deps(declared):
        return [dep(d) for d in declared]

    if output.startswith(".."):
        outs = [
            {"id": p.split(".", 1)[0], "property": p.split(".", 1)[1].split("@")[0]}
            for p in output.strip(".").split("...")
        ]
    else:
        outs = {"id": output.split(".", 1)[0], "property": output.split(".", 1)[1]}
    inputs = deps(spec["inputs"])
    body = {
        "output": output,
        "outputs": outs,
        "inputs": inputs,
        "changedPropIds": draw(
            st.lists(st.sampled_from([f"{i['id']}.{i['property']}" for i in spec["inputs"]]), max_size=2)
        ),
    }
    if spec["state"]:
        body["state"] = deps(spec["state"])
    mutation = draw(st.sampled_from(["none"] * 6 + ["drop", "retype", "extra", "reorder"]))
    if mutation == "drop":
        body.pop(draw(st.sampled_from(sorted(body))))
    elif mutation == "retype":
        body[draw(st.sampled_from(sorted(body)))] = draw(json_values)
    elif mutation == "extra":
        body[draw(st.text(max_size=10))] = draw(json_values)
    elif mutation == "reorder" and len(inputs) > 1:
        body["inputs"] = inputs[::-1]
    return output, body


def test_fuzz_every_dash_callback_paired(app_and_cookie):
    """Every callback of the app, with bodies shaped as the renderer sends them (the callback's own
    ids and properties) but hostile values and mutations: 0 responses ≥ 500, and some requests
    get through the guard to the callbacks themselves (so the fuzz reaches their code)."""
    app, cookie = app_and_cookie
    failures: dict = {}
    answered: dict[str, int] = {}

    @settings(max_examples=900, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(callback_requests(app.callback_map))
    def run(req):
        output, body = req
        client = app.server.test_client()
        client.set_cookie("hiitpi_session", cookie)
        resp = client.post("/_dash-update-component", json=body)
        status = resp.status_code
        resp.close()
        if status >= 500:
            failures.setdefault(output, json.dumps(body)[:300])
        elif status in (200, 204):
            answered[output] = answered.get(output, 0) + 1

    run()
    assert not failures, "\n".join(f"{k}: {v}" for k, v in failures.items())
    print(answered)
    assert len(answered) >= len(app.callback_map) - 2, sorted(
        set(app.callback_map) - set(answered)
    )  # the callbacks ran
