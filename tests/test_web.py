"""The dashboard's server side on a real redis-server and a real SQLite file.

Page input is validated (unknown workout, empty or 10,000-character name, stop without start):
each gets a clear message, never a 500, and nothing is written or sent. Routes answer 4xx JSON
for bad input; the live feed says "degraded" when Redis is down; the event-loop server serves, streams
and stops.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import redis
import requests

from hiitpi.live.contract import LiveEntry, LiveKeys, LiveState, encode_event, encode_sample
from hiitpi.live.reader import LiveReader
from hiitpi.referee.catalog import CatalogLoader
from hiitpi.referee.events import RefEvent
from hiitpi.store import queries
from hiitpi.store.db import Store
from hiitpi.store.players import list_players
from hiitpi.store.queries import list_sessions
from hiitpi.store.recorder import SessionRecorder
from hiitpi.web.actions import add_player, start_session, stop_session
from hiitpi.web.livefeed import build_message, history_points
from tests.conftest import REPO, free_port, web_settings


@pytest.fixture()
def settings(tmp_path, redis_url):
    return web_settings(tmp_path / "data", redis_url)


@pytest.fixture()
def store(settings):
    s = Store.from_settings(settings)
    yield s
    s.close()


@pytest.fixture()
def reader(settings):
    r = LiveReader(settings.redis.url, LiveKeys(settings.redis.prefix))
    yield r
    r.close()


@pytest.fixture()
def catalog():
    return CatalogLoader(REPO / "rules").get()


def commands_sent(reader: LiveReader) -> int:
    return reader.client.xlen(reader.keys.commands)


def seed_session(store: Store, player="Ana", workout="squat", reps=5, no_reps=1) -> int:
    rec = SessionRecorder(store, flush_interval_s=0.05)
    sid = rec.start_session(player, workout, t0=10.0)
    t = 10.0
    n = 0
    for i in range(reps + no_reps):
        t += 2.0
        if i == 2 and no_reps:
            rec.record(RefEvent("no_rep", workout, t - 1.5, t, count=n, reason="not low enough"))
            continue
        n += 1
        rec.record(RefEvent("rep", workout, t - 1.5, t, count=n, eccentric_s=0.9, concentric_s=0.6, rom=0.95))
    rec.end_session("done")
    rec.close()
    return sid


# --- validated actions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("player", "workout", "expect"),
    [
        ("", "squat", "Player name is empty"),
        ("   ", "squat", "Player name is empty"),
        ("x" * 10_000, "squat", "10000 characters long; use at most 40"),
        ("Ana", "underwater_basket", "Unknown workout 'underwater_basket'"),
        ("Ana", "", "Pick a workout first"),
        ("Ana", "y" * 10_000, "Unknown workout"),
        (None, "squat", "Player name is empty"),
    ],
)
def test_start_refuses_bad_input_without_writing_or_sending(store, reader, catalog, player, workout, expect):
    res = start_session(reader, catalog, player, workout)
    assert not res.ok
    assert expect in res.message
    assert commands_sent(reader) == 0
    assert list_players(store) == []
    assert list_sessions(store).total == 0


def test_stop_without_start_says_so(reader):
    res = stop_session(reader)
    assert not res.ok and res.message == "No session is running: press Start first."
    assert commands_sent(reader) == 0


def test_start_with_no_engine_times_out_with_a_clear_message(reader, catalog, monkeypatch):
    import hiitpi.web.actions as actions

    monkeypatch.setattr(actions, "COMMAND_TIMEOUT_S", 0.3)
    res = start_session(reader, catalog, "Ana", "Squat")  # names are normalised
    assert not res.ok and "did not answer" in res.message
    cmds = reader.client.xrange(reader.keys.commands)
    assert len(cmds) == 1 and cmds[0][1][b"workout"] == b"squat" and cmds[0][1][b"player"] == b"Ana"


def test_start_with_redis_down_says_what_to_do(catalog):
    dead = LiveReader(f"redis://127.0.0.1:{free_port()}/0", LiveKeys("hiitpi"))
    res = start_session(dead, catalog, "Ana", "squat")
    assert not res.ok and "Redis" in res.message
    assert not stop_session(dead).ok


def test_add_player_validates_and_refuses_duplicates(store):
    assert add_player(store, "").message.startswith("Player name is empty")
    assert "10000 characters" in add_player(store, "z" * 10_000).message
    assert list_players(store) == []
    ok = add_player(store, "  Ana  ")
    assert ok.ok and ok.player == "Ana"
    dup = add_player(store, "ana")
    assert not dup.ok and "already exists" in dup.message
    assert [p.name for p in list_players(store)] == ["Ana"]


def test_catalog_lists_workouts_and_programs(catalog):
    values = {c.value: c.kind for c in catalog.choices()}
    assert values["squat"] == "workout"
    assert values["tabata_squat"] == "program"
    rule, program = catalog.resolve("Tabata Squat")
    assert (rule.name, program.name) == ("squat", "tabata_squat")
    assert catalog.errors == []


# --- the live feed -------------------------------------------------------------------------------


def entry(eid: str, fields: dict) -> LiveEntry:
    return LiveEntry.decode(eid, fields)


def test_build_message_places_points_and_events_in_session_time():
    sid = "s1"
    entries = [
        entry(
            "1-0",
            encode_sample(
                seq=10,
                ts=50.0,
                wall=1000.0,
                session=sid,
                keypoints=None,
                score=0.8,
                stages={"pose": 6.0, "referee": 0.2},
                age_ms=4.0,
            ),
        ),
        entry("2-0", encode_event("rep", ts=50.05, wall=1000.05, session=sid, count=3, data={"kind": "rep"})),
        entry(
            "3-0",
            encode_event(
                "no_rep", ts=50.05, wall=1000.05, session=sid, count=3, data={"reason": "not low enough"}
            ),
        ),
        entry(
            "4-0",
            encode_sample(
                seq=11,
                ts=50.1,
                wall=1000.1,
                session=sid,
                keypoints=None,
                score=0.7,
                stages={"pose": 7.0},
                age_ms=3.0,
            ),
        ),
    ]
    state = LiveState(
        **{"session": sid, "running": True, "reps": 3, "elapsed": 12.1, "player": "Ana"}
    ).encode()
    msg, last = build_message(state, entries, chart_every_s=0.05)
    assert msg["state"]["reps"] == "3" and msg["state"]["player"] == "Ana"
    assert msg["points"] == [[12.0, 0.8, 6.0], [12.1, 0.7, 7.0]]
    assert last == 12.1
    assert [e["kind"] for e in msg["events"]] == ["rep", "no_rep"]
    assert msg["events"][0]["t"] == pytest.approx(12.05)
    assert msg["events"][1]["reason"] == "not low enough"
    assert msg["seq"] == 11
    assert msg["captured"] == pytest.approx(1000.1 - 0.010)  # write time minus age and the model's time
    # chart points are thinned, numbers are not
    msg2, _ = build_message(state, entries, chart_every_s=1.0, last_chart_t=11.5)
    assert msg2["points"] == []


def test_build_message_adds_program_countdown():
    from hiitpi.referee.programs import load_program

    prog = load_program(REPO / "rules" / "programs" / "tabata_squat.toml")
    state = LiveState(
        **{"session": "s", "running": True, "program": "tabata_squat", "program_elapsed": 44.0}
    ).encode()
    msg, _ = build_message(state, [], program=prog)
    assert msg["program"] == {
        "name": "tabata_squat",
        "title": "Tabata squats",
        "round": 2,
        "rounds": 8,
        "kind": "work",
        "workout": "squat",
        "workout_title": "Squat",
        "interval": 2,
        "intervals": 8,
        "next": "rest",
        "next_title": "rest 10 s",
        "remaining": 6.0,
        "duration": 20.0,
        "done": False,
    }
    # resting: what comes next is the next interval's workout, by its title
    state = LiveState(
        **{
            "session": "s",
            "running": True,
            "program": "tabata_squat",
            "program_elapsed": 52.0,
            "phase": "rest",
        }
    ).encode()
    msg, _ = build_message(state, [], program=prog)
    p = msg["program"]
    assert (p["kind"], p["round"], p["interval"], p["next"], p["next_title"]) == (
        "rest",
        2,
        2,
        "squat",
        "Squat",
    )
    assert msg["labels"]["phase"] == "Rest"


def test_labels_are_titles_never_rules_names():
    from hiitpi.referee.catalog import load_catalog

    cat = load_catalog(REPO / "rules")
    prog = cat.programs["circuit_full_body"]
    state = LiveState(
        **{
            "session": "s",
            "running": True,
            "workout": "jumping_jack",
            "program": "circuit_full_body",
            "program_elapsed": 100.0,  # round 1: squats 0-40, rest, push-ups 60-100, rest 100-120
            "phase": "rest",
        }
    ).encode()
    msg, _ = build_message(state, [], program=prog, catalog=cat)
    assert msg["labels"]["what"] == "Full-body circuit" and msg["labels"]["workout"] == cat.title(
        "jumping_jack"
    )
    assert (
        msg["program"]["next_title"] == cat.title("jumping_jack") and "_" not in msg["program"]["next_title"]
    )
    state = LiveState(**{"session": "s", "running": True, "workout": "squat", "phase": "deep_squat"}).encode()
    msg, _ = build_message(state, [], catalog=cat)
    assert msg["labels"] == {"what": "Squat", "workout": "Squat", "phase": "Deep squat", "recognised": ""}


def test_history_points_merge_the_store_and_the_stream_once_each():
    from hiitpi.web.livefeed import StoredRep

    stored = [StoredRep(12.0, True, 1.5), StoredRep(14.5, True, 1.6)]  # on disk
    recent = [
        entry("1-0", encode_event("rep", ts=14.5, wall=1.0, session="s", count=2, data={})),  # also on disk
        entry(  # not yet: a program's next interval, whose referee counts from 1 again
            "2-0",
            encode_event(
                "rep", ts=16.25, wall=2.0, session="s", count=1, data={"t_start": 15.0, "t_end": 16.25}
            ),
        ),
        entry(
            "3-0",
            encode_event(
                "no_rep", ts=17.0, wall=3.0, session="s", count=1, data={"reason": "not low enough"}
            ),
        ),
        entry("4-0", encode_event("rep", ts=9.0, wall=0.5, session="old", count=7, data={})),
    ]
    # the count runs over the whole session; a no-rep sits at the count it did not raise
    assert history_points(stored, recent, "s", 10.0) == [
        [2.0, 1, 1.5, 1, None],
        [4.5, 2, 1.6, 1, None],
        [6.25, 3, 1.25, 1, None],
        [7.0, 3, None, 0, "not low enough"],
    ]
    # the store behind (its writes failing): the stream's tail alone, ending at the state's count
    assert [p[1] for p in history_points([], recent, "s", 10.0, total=9)] == [8, 9, 9]


# --- over HTTP, on the event-loop server ---------------------------------------------------------


@pytest.fixture()
def served(settings, store):
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    web = WebServer(settings, create_app(settings, store=store, auth=False))
    web.start()  # bound and serving when it returns: no polling
    yield f"http://127.0.0.1:{web.port}"
    thread = web._thread
    web.stop()
    assert not thread.is_alive(), "the web server did not stop"


def dash_call(
    base: str, first_output: str, inputs: list[dict], state: list[dict] | None = None
) -> requests.Response:
    """POST a callback as the browser does; the callback is the one whose outputs start with ``first_output``."""
    deps = requests.get(base + "/_dash-dependencies", timeout=5).json()
    output = next(
        d["output"]
        for d in deps
        if d["output"].lstrip(".").startswith(first_output)
        and inputs[0]["id"] in {i["id"] for i in d["inputs"]}
    )
    parts = [o for o in output.strip(".").split("...") if o] if output.startswith("..") else [output]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in parts]
    body = {
        "output": output,
        "outputs": outputs if output.startswith("..") else outputs[0],
        "inputs": inputs,
        "changedPropIds": [f"{i['id']}.{i['property']}" for i in inputs],
        "state": state or [],
    }
    return requests.post(base + "/_dash-update-component", json=body, timeout=10)


def test_pages_render_over_http(served, store):
    sid = seed_session(store)
    r = requests.get(served + "/", timeout=5)
    assert r.status_code == 200 and "HIIT PI" in r.text
    for path, expect in [
        ("/", "live-reps"),
        ("/history", "hist-results"),
        ("/trends", "trend-weekly"),
        (f"/session/{sid}", "sess-timeline"),
        ("/session/999", "There is no session 999"),
        ("/session/abc", "is not a session number"),
        ("/nope", "There is no page"),
    ]:
        resp = dash_call(
            served,
            "page.children",
            [{"id": "url", "property": "pathname", "value": path}],
            [{"id": "url", "property": "search", "value": ""}],
        )
        assert resp.status_code == 200, (path, resp.text[:300])
        assert expect in resp.text, path


def test_history_callback_lists_filters_and_reports_bad_dates(served, store):
    seed_session(store, "Ana", "squat")
    seed_session(store, "Ben", "push_up", reps=3, no_reps=0)
    ids = ["hist-player", "hist-workout", "hist-from", "hist-to", "hist-prev", "hist-next"]
    out = "hist-results.children"

    def call(values):
        inputs = [
            {"id": i, "property": "n_clicks" if i.endswith(("prev", "next")) else "value", "value": v}
            for i, v in zip(ids, values, strict=True)
        ]
        return dash_call(served, out, inputs, [{"id": "hist-page", "property": "data", "value": 1}]).json()

    body = call([None, None, None, None, 0, 0])["response"]
    assert "2 sessions" in json.dumps(body["hist-pageinfo"])
    assert body["hist-prev"]["disabled"] is True and body["hist-next"]["disabled"] is True  # page 1 of 1
    body = call(["Ben", None, None, None, 0, 0])["response"]
    text = json.dumps(body, ensure_ascii=False)
    assert "Ben · Push-up" in text and "push_up" not in text  # the title, never the rules name
    assert "1 session" in text and "Ana" not in text
    body = call([None, "push_up", None, None, 0, 0])["response"]
    assert "1 session" in json.dumps(body["hist-pageinfo"]) and "1 sessions" not in json.dumps(body)
    body = call([None, None, "2026-13-45", None, 0, 0])["response"]
    assert "is not a date: use YYYY-MM-DD" in json.dumps(body["hist-results"])


def test_start_and_player_callbacks_show_messages_not_errors(served, store):
    out = "action-msg.children"
    states = [
        {"id": "player-pick", "property": "value", "value": None},
        {"id": "new-player", "property": "value", "value": "q" * 10_000},
        {"id": "workout-pick", "property": "value", "value": "squat"},
        {"id": "counting-pick", "property": "value", "value": "judge"},
        {"id": "me", "property": "data", "value": None},
    ]
    r = dash_call(served, out, [{"id": "start-btn", "property": "n_clicks", "value": 1}], states)
    assert r.status_code == 200
    assert "10000 characters long" in r.text and "msg-err" in r.text
    r = dash_call(
        served,
        "action-msg.children",
        [{"id": "stop-btn", "property": "n_clicks", "value": 1}],
    )
    assert r.status_code == 200 and "No session is running" in r.text
    out = "action-msg.children"
    r = dash_call(
        served,
        out,
        [{"id": "add-player", "property": "n_clicks", "value": 1}],
        [{"id": "new-player", "property": "value", "value": ""}],
    )
    assert r.status_code == 200 and "Player name is empty" in r.text
    assert list_players(store) == [] and list_sessions(store).total == 0


def test_api_and_export_routes_validate(served, store):
    sid = seed_session(store)
    r = requests.get(f"{served}/export/session/{sid}.csv", timeout=5)
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert len(lines) == 1 + 6  # header + 5 reps + 1 no-rep
    assert "not low enough" in r.text
    r = requests.get(f"{served}/export/session/{sid}.json", timeout=5)
    assert r.json()["sessions"][0]["reps"] == 5
    assert requests.get(f"{served}/export/all.json", timeout=5).json()["sessions"][0]["id"] == sid
    for path, code in [
        (f"/export/session/{sid}.xml", 400),
        ("/export/session/999.csv", 404),
        ("/export/session/-1.csv", 400),
        ("/export/session/" + "9" * 40 + ".csv", 400),
        ("/video", 503),
    ]:
        resp = requests.get(served + path, timeout=5)
        assert resp.status_code == code, path
        assert "error" in resp.json()
    bad_bodies = [b"not json", b"[1, 2]", b'{"player": 5, "workout": ["x"]}', b"{}"]
    for body in bad_bodies:
        resp = requests.post(
            served + "/api/start", data=body, headers={"Content-Type": "application/json"}, timeout=10
        )
        assert resp.status_code == 400, body
        assert resp.json().get("error") or resp.json().get("message")
    assert requests.post(served + "/api/stop", timeout=5).status_code == 400
    r = requests.post(served + "/api/players", json={"name": "x" * 10_000}, timeout=5)
    assert r.status_code == 400 and "at most 40" in r.json()["message"]
    r = requests.post(served + "/api/players", json={"name": "Cleo"}, timeout=5)
    assert r.status_code == 201
    assert {p["name"] for p in requests.get(served + "/api/players", timeout=5).json()["players"]} == {
        "Ana",
        "Cleo",
    }


def test_sse_over_http_streams_state(served, reader):
    with requests.get(served + "/api/live/events", stream=True, timeout=5) as r:
        assert r.headers["Content-Type"].startswith("text/event-stream")
        lines = r.iter_lines()
        assert next(lines) == b"retry: 1000"
        reader.client.hset(
            reader.keys.state,
            mapping=LiveState(**{"session": "s9", "player": "Ana", "running": True, "reps": 7}).encode(),
        )
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            line = next(lines)
            if line.startswith(b"data: ") and b'"reps":"7"' in line:
                break
        else:
            pytest.fail("the state never reached the feed")


def _sse_messages(resp):
    for line in resp.iter_lines():
        if line.startswith(b"data: "):
            yield json.loads(line[6:])


def test_two_viewers_get_the_same_events_from_one_reader_and_nothing_is_consumed(served, reader):
    """Both pages get every rep event, in order, from the hub's one reader; the stream is read, never popped."""
    keys = reader.keys
    reader.client.hset(keys.state, mapping=LiveState(**{"session": "s", "running": True, "reps": 0}).encode())
    with (
        requests.get(served + "/api/live/events", stream=True, timeout=5) as a,
        requests.get(served + "/api/live/events", stream=True, timeout=5) as b,
    ):
        feeds = [_sse_messages(a), _sse_messages(b)]
        for f in feeds:
            assert "state" in next(f)  # the sync message: the state so far
        for n in range(1, 4):
            reader.client.xadd(
                keys.stream, encode_event("rep", ts=float(n), wall=time.time(), session="s", count=n, data={})
            )
        seen = []
        for f in feeds:
            counts: list[int] = []
            while len(counts) < 3:
                counts += [e["count"] for e in next(f)["events"]]
            seen.append(counts)
    assert seen == [[1, 2, 3], [1, 2, 3]]
    assert reader.client.xlen(keys.stream) == 3


def test_a_late_viewer_gets_the_session_so_far(served, reader, store):
    """The sync message carries the running session's reps from the store and the stream's tail."""
    sid = seed_session(store, reps=3, no_reps=0)  # reps at t = 12, 14, 16 (t0 = 10)
    keys = reader.keys
    state = LiveState(**{"session": "live1", "running": True, "reps": 4, "t0": 10.0, "store_id": sid})
    reader.client.hset(keys.state, mapping=state.encode())
    reader.client.xadd(
        keys.stream, encode_event("rep", ts=18.0, wall=time.time(), session="live1", count=4, data={})
    )
    with requests.get(served + "/api/live/events", stream=True, timeout=5) as r:
        first = next(_sse_messages(r))
    assert [p[:2] for p in first["history"]["reps"]] == [[2.0, 1], [4.0, 2], [6.0, 3], [8.0, 4]]
    assert first["history"]["session"] == "live1"


def test_feed_says_degraded_when_redis_is_down(tmp_path, store):
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    s = web_settings(tmp_path / "d3", f"redis://127.0.0.1:{free_port()}/0")
    web = WebServer(s, create_app(s, store=store, auth=False))
    web.start()
    try:
        with requests.get(f"http://127.0.0.1:{web.port}/api/live/events", stream=True, timeout=5) as r:
            msg = next(_sse_messages(r))
        assert msg["degraded"].startswith("Live view degraded")
        assert requests.get(f"http://127.0.0.1:{web.port}/healthz", timeout=2).status_code == 200
    finally:
        web.stop()


def test_auth_hook_guards_api_routes(settings, store):
    from hiitpi.web.app import create_app

    app = create_app(settings, store=store, auth=True)
    client = app.server.test_client()
    assert client.post("/api/stop").status_code == 401
    assert client.get("/export/all.csv").status_code == 401
    assert client.get("/healthz").status_code == 200


def test_the_spreadsheet_export_over_http(served, store):
    """Two CSV tables with one Content-Type, a BOM for Excel, a real column count, names that
    start like formulas written as text; bad input is a 4xx with a message."""
    import csv
    import io

    from hiitpi.store.export import REP_COLUMNS, SESSION_COLUMNS

    sid = seed_session(store, player="=cmd")
    seed_session(store, player="Ben", reps=2, no_reps=0)
    for path, columns, rows in [
        ("/export/sessions.csv", SESSION_COLUMNS, 2),
        (f"/export/sessions.csv?session={sid}", SESSION_COLUMNS, 1),
        ("/export/reps.csv", REP_COLUMNS, 8),
        (f"/export/reps.csv?session={sid}", REP_COLUMNS, 6),
        (f"/export/session/{sid}.csv", REP_COLUMNS, 6),
    ]:
        r = requests.get(served + path, timeout=5)
        assert r.status_code == 200, path
        assert r.headers["Content-Type"] == "text/csv; charset=utf-8", r.headers["Content-Type"]
        assert "attachment" in r.headers["Content-Disposition"] and ".csv" in r.headers["Content-Disposition"]
        text = r.content.decode("utf-8-sig")
        assert r.content.startswith(b"\xef\xbb\xbf")
        table = list(csv.reader(io.StringIO(text)))
        assert tuple(table[0]) == columns and len(table) == 1 + rows, path
        assert {len(row) for row in table} == {len(columns)}, path
    r = requests.get(f"{served}/export/sessions.csv?session={sid}", timeout=5)
    row = dict(
        zip(SESSION_COLUMNS, list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))[1], strict=True)
    )
    assert row["player"] == "'=cmd" and row["title"] == "Squat" and row["reps"] == "5"
    assert requests.get(served + "/export/all.json", timeout=5).headers["Content-Type"] == "application/json"
    for path, code in [
        ("/export/players.csv", 404),
        ("/export/reps.csv?session=abc", 400),
        ("/export/reps.csv?session=999", 404),
    ]:
        r = requests.get(served + path, timeout=5)
        assert r.status_code == code and r.json()["error"], path


def test_redis_down_page_still_works(tmp_path, store):
    """With Redis gone, the pages and history still answer and the actions explain."""
    from hiitpi.config import load_settings
    from hiitpi.web.app import create_app

    s = load_settings(
        None,
        env={},
        overrides={
            ("general", "data_dir"): str(tmp_path / "d2"),
            ("redis", "url"): f"redis://127.0.0.1:{free_port()}/0",
        },
    )
    app = create_app(s, store=store, auth=False)
    client = app.server.test_client()
    assert client.get("/api/live/state").status_code == 503
    r = client.post("/api/stop")
    assert r.status_code == 400 and "Redis" in r.get_json()["message"]
    assert client.get("/export/all.csv").status_code == 200
    with pytest.raises(redis.RedisError):
        LiveReader(s.redis.url, LiveKeys("hiitpi")).state()


def test_session_page_shows_the_coach_summary_and_its_kind(served, store):
    from hiitpi.store.coaching import set_summary

    sid = seed_session(store)
    set_summary(store, sid, "Five clean squats in twelve seconds.", "template", "model file missing")
    resp = dash_call(
        served,
        "page.children",
        [{"id": "url", "property": "pathname", "value": f"/session/{sid}"}],
        [{"id": "url", "property": "search", "value": ""}],
    )
    text = json.dumps(resp.json(), ensure_ascii=False)
    assert "Coach · from your numbers" in text and "Five clean squats in twelve seconds." in text
    assert "The coach model is not installed on this device" in text  # why, in plain words


def test_summary_being_written_streams_into_the_page(settings, store):
    """While the coach writes, the page polls its snapshot and shows the text so far, then the final kind."""
    from hiitpi.web.app import create_app

    sid = seed_session(store)
    snaps = iter(
        [
            {"status": "running", "source": "model", "text": "Five clean"},
            {"status": "done", "kind": "model", "text": "Five clean squats.", "reason": None},
        ]
    )
    app = create_app(
        settings, store=store, auth=False, coach_snapshot=lambda s: next(snaps) if s == sid else None
    )
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    output = next(d["output"] for d in deps if "summary-box.children" in d["output"])
    body = {
        "output": output,
        "outputs": [
            {"id": "summary-box", "property": "children"},
            {"id": "summary-tick", "property": "disabled"},
        ],
        "inputs": [{"id": "summary-tick", "property": "n_intervals", "value": 1}],
        "changedPropIds": ["summary-tick.n_intervals"],
        "state": [{"id": "summary-sid", "property": "data", "value": sid}],
    }
    first = client.post("/_dash-update-component", json=body).get_json()["response"]
    box = json.dumps(first["summary-box"], ensure_ascii=False)
    assert "Five clean" in box and "Coach · the coach model" in box
    assert first["summary-tick"]["disabled"] is False  # keep polling
    second = client.post("/_dash-update-component", json=body).get_json()["response"]
    assert "Five clean squats." in json.dumps(second["summary-box"])
    assert second["summary-tick"]["disabled"] is True  # done: stop polling


def test_trends_callback_bests_and_leaderboard(served, store):
    seed_session(store, "Ana", "squat", reps=5)
    seed_session(store, "Ben", "squat", reps=7, no_reps=0)
    resp = dash_call(
        served, "trend-weekly.figure", [{"id": "trend-player", "property": "value", "value": "Ana"}]
    ).json()["response"]
    weekly = resp["trend-weekly"]["figure"]
    assert sum(sum(t["y"]) for t in weekly["data"]) == 5  # the picked player's reps this week
    assert '"5"' in json.dumps(resp["trend-bests"])
    week = json.dumps(resp["trend-week"])
    assert "Streak: 1 day in a row" in week and "SESSIONS" in week
    resp = dash_call(
        served,
        "trend-leaders.children",
        [
            {"id": "trend-workout", "property": "value", "value": "squat"},
            {"id": "trend-sort", "property": "value", "value": "reps"},
        ],
    ).json()["response"]
    leaders = json.dumps(resp["trend-leaders"])
    assert leaders.index("Ben") < leaders.index("Ana")  # 7 beats 5


def test_web_server_says_what_to_do_when_the_port_is_taken(settings, store):
    import socket

    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer, WebServerError

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", settings.web.port))
        taken.listen(1)
        web = WebServer(settings, create_app(settings, store=store, auth=False))
        with pytest.raises(WebServerError) as err:
            web.start()
    assert re.search(r"cannot listen on 127\.0\.0\.1:\d+ \(the port is in use\)", err.value.message)
    assert "set [web] port / --port" in err.value.hint
    assert not web.alive()


def test_a_recovered_session_gets_its_summary_on_request(settings, store, tmp_path):
    """No summary yet (recovered after a restart): the page offers "Write the summary"; pressing it
    queues the real coach worker; without the model file the template is written, and the page
    says why in plain words."""
    from hiitpi.coach.job import CoachWorker
    from hiitpi.store import recover_open_sessions
    from hiitpi.web.app import create_app
    from hiitpi.web.server import WebServer

    rec = SessionRecorder(store, flush_interval_s=0.05)
    sid = rec.start_session("Ana", "squat", t0=0.0)
    for i in range(4):
        rec.record(RefEvent("rep", "squat", 2.0 * i, 2.0 * i + 1.5, count=i + 1))
    rec.flush()
    rec._open = False  # a crash: the session stays open on disk
    rec.close()
    assert recover_open_sessions(store) == [sid]
    settings.coach.model_path = tmp_path / "absent.gguf"
    worker = CoachWorker.from_settings(settings).start()
    web = WebServer(settings, create_app(settings, store=store, coach=worker, auth=False))
    web.start()
    base = f"http://127.0.0.1:{web.port}"
    try:
        page = dash_call(
            base,
            "page.children",
            [{"id": "url", "property": "pathname", "value": f"/session/{sid}"}],
            [{"id": "url", "property": "search", "value": ""}],
        ).text
        assert (
            "No summary yet." in page and "Write the summary" in page and "recovered after a restart" in page
        )
        asked = dash_call(
            base,
            "summary-msg.children",
            [{"id": "summary-request", "property": "n_clicks", "value": 1}],
            [{"id": "summary-sid", "property": "data", "value": sid}],
        ).json()["response"]
        assert (
            asked["summary-msg"]["children"] == "Asked the coach: the summary appears here as it is written."
        )
        deadline = time.monotonic() + 30
        while queries.session_detail(store, sid).summary is None and time.monotonic() < deadline:
            time.sleep(0.1)
        d = queries.session_detail(store, sid)
        assert d.session.summary_kind == "template" and "Ana did 4 reps of Squat" in d.summary
        shown = json.dumps(
            dash_call(
                base,
                "summary-box.children",
                [{"id": "summary-tick", "property": "n_intervals", "value": 1}],
                [{"id": "summary-sid", "property": "data", "value": sid}],
            ).json(),
            ensure_ascii=False,
        )
        assert "Coach · from your numbers" in shown and "not installed on this device" in shown
        assert "model file missing" not in shown.split('"title"')[0]  # the internal reason only as a tooltip
    finally:
        web.stop()
        worker.stop()


def test_start_is_for_the_name_just_typed_before_the_one_picked():
    """Typing "Bob" under "or a new name" and pressing Start (without Add) starts Bob's session."""
    from hiitpi.web.actions import who_starts

    assert who_starts("Ana", "Bob") == "Bob"
    assert who_starts("Ana", "  ") == "Ana" and who_starts("Ana", None) == "Ana"
    assert who_starts(None, "Bob") == "Bob" and who_starts(None, None) is None


def test_personal_bests_say_why_a_best_pace_is_missing():
    from datetime import UTC, datetime

    from hiitpi.store.queries import BestRow
    from hiitpi.web.layout import bests_table

    def text(node) -> str:
        kids = getattr(node, "children", node)
        if isinstance(kids, (list, tuple)):
            return " ".join(text(k) for k in kids)
        return str(kids) if not hasattr(kids, "children") else text(kids)

    at = datetime(2026, 12, 1, tzinfo=UTC)
    short = BestRow("squat", 3, 16, 1, at, None, None, None, None)
    assert "at least 30 s" in text(bests_table([short]))
    timed = BestRow("squat", 3, 16, 1, at, 30.0, 1, None, None)
    assert "at least 30 s" not in text(bests_table([timed]))
