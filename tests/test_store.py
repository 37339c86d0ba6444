"""The history store on real SQLite files: schema, recorder, queries, players, export, coach facts."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy.exc import IntegrityError

from hiitpi.referee.events import RefEvent
from hiitpi.store import InvalidInput, NotFound, SessionRecorder, Store, StoreError, queries
from hiitpi.store import export as export_mod
from hiitpi.store.coaching import session_facts, set_summary
from hiitpi.store.migrate import current_revision, head_revision
from hiitpi.store.players import create_player, list_players


def rep(i: float, workout: str = "squat", **kw) -> RefEvent:
    return RefEvent(
        "rep",
        workout,
        t_start=i,
        t_end=i + 0.9,
        count=int(i),
        eccentric_s=0.5,
        concentric_s=0.4,
        rom=0.8,
        **kw,
    )


def no_rep(i: float, reason: str = "not low enough", workout: str = "squat") -> RefEvent:
    return RefEvent("no_rep", workout, t_start=i, t_end=i + 0.7, reason=reason, rom=0.4)


@pytest.fixture(autouse=True)
def utc_local_time(monkeypatch):
    """Days and weeks are local time; pin the zone so the expected dates hold on any machine."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture()
def store(tmp_path):
    s = Store.open(tmp_path / "history.db")
    yield s
    s.close()


@pytest.fixture()
def recorder(store):
    r = SessionRecorder(store, flush_interval_s=0.2, flush_max_events=16)
    yield r
    r.close()


def raw(path) -> sqlite3.Connection:
    """A plain sqlite3 connection: what another process would see on disk."""
    return sqlite3.connect(f"file:{path}?mode=ro", uri=True)


# --- schema ----------------------------------------------------------------------------------------


def test_migrations_from_empty_create_schema_wal_and_foreign_keys(tmp_path):
    path = tmp_path / "new" / "h.db"
    store = Store.open(path)
    try:
        assert current_revision(store.read_engine) == head_revision()
        con = raw(path)
        tables = {r[0] for r in con.execute("select name from sqlite_master where type='table'")}
        assert {"players", "sessions", "intervals", "reps", "chat_messages", "alembic_version"} <= tables
        indexes = {r[0] for r in con.execute("select name from sqlite_master where type='index'")}
        assert {
            "ix_sessions_player_started",
            "ix_intervals_workout_session",
            "ux_reps_session_index",
        } <= indexes
        assert con.execute("pragma journal_mode").fetchone()[0] == "wal"
        con.close()
        with store.write_engine.connect() as c:
            assert c.exec_driver_sql("pragma foreign_keys").scalar() == 1
            assert c.exec_driver_sql("pragma busy_timeout").scalar() == 5000
            assert c.exec_driver_sql("pragma synchronous").scalar() == 2  # FULL: survives power loss
        # a rep pointing at no session is refused by the foreign keys
        with pytest.raises(IntegrityError, match="FOREIGN KEY"), store.writing() as s:
            s.connection().exec_driver_sql(
                'insert into reps (session_id, interval_id, "index", t_start, t_end, valid, recorded_at) '
                "values (99, 99, 1, 0, 1, 1, '2026-01-01 00:00:00')"
            )
    finally:
        store.close()
    # opening again is a no-op upgrade
    again = Store.open(path)
    assert current_revision(again.read_engine) == head_revision()
    again.close()


def test_close_folds_the_write_ahead_log(tmp_path, caplog):
    store = Store.open(tmp_path / "h.db")
    rec = SessionRecorder(store)
    rec.start_session("Ann", "squat")
    rec.end_session()
    rec.close()
    wal = tmp_path / "h.db-wal"
    assert wal.stat().st_size > 0
    store.close()
    assert not wal.exists() or wal.stat().st_size == 0
    assert "could not fold" not in caplog.text


def test_downgrade_to_empty_and_up_again(tmp_path):
    from alembic import command

    from hiitpi.store.migrate import alembic_config

    store = Store.open(tmp_path / "h.db")
    try:
        with store.write_engine.begin() as conn:
            command.downgrade(alembic_config(conn), "base")
        assert current_revision(store.read_engine) is None
        con = raw(store.path)
        assert {r[0] for r in con.execute("select name from sqlite_master where type='table'")} == {
            "alembic_version"
        }
        con.close()
    finally:
        store.close()
    again = Store.open(tmp_path / "h.db")
    assert current_revision(again.read_engine) == head_revision()
    again.close()


def test_a_schema_from_a_newer_hiitpi_is_refused_clearly(tmp_path):
    Store.open(tmp_path / "h.db").close()
    con = sqlite3.connect(tmp_path / "h.db")
    con.execute("update alembic_version set version_num = '0999'")
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=r"not one this version of hiitpi knows.*update hiitpi"):
        Store.open(tmp_path / "h.db")


def test_the_revisions_read_without_alembic_are_alembics(tmp_path):
    """head_revision / current_revision read the scripts and the table themselves (so a start
    needs no Alembic); they say what Alembic says, at every step of the history."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from hiitpi.store.migrate import _script_revisions, alembic_config

    scripts = ScriptDirectory.from_config(alembic_config())
    assert [head_revision()] == scripts.get_heads()
    assert set(_script_revisions()) == {s.revision for s in scripts.walk_revisions()}
    store = Store(tmp_path / "h.db")
    try:
        for target in ["base", *reversed([s.revision for s in scripts.walk_revisions()])]:
            with store.write_engine.begin() as conn:
                if target == "base":
                    command.downgrade(alembic_config(conn), "base")
                else:
                    command.upgrade(alembic_config(conn), target)
            with store.read_engine.connect() as conn:
                assert (
                    current_revision(store.read_engine)
                    == MigrationContext.configure(conn).get_current_revision()
                )
    finally:
        store.close()


_START_PROBE = """
import sys
from hiitpi.store.db import Store
Store.open(sys.argv[1]).close()
print(",".join(m for m in ("alembic", "mako", "pygments") if m in sys.modules))
"""


def test_opening_an_up_to_date_database_loads_no_alembic(tmp_path):
    """The every-start case: the schema is current, so neither Alembic nor the syntax highlighter
    its templates pull in is imported; a database that needs a migration does load it."""
    import subprocess
    import sys

    from tests.conftest import REPO

    db = tmp_path / "h.db"

    def loaded() -> str:
        run = subprocess.run(
            [sys.executable, "-c", _START_PROBE, str(db)], capture_output=True, text=True, cwd=REPO
        )
        assert run.returncode == 0, run.stderr
        return run.stdout.strip()

    assert loaded() == "alembic,mako,pygments"  # created: migrations ran
    assert loaded() == ""  # every later start


def test_migration_matches_models(store):
    """Autogenerate finds no difference between the migration scripts and the models."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from hiitpi.store.models import Base

    with store.read_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diffs == []


def test_open_a_file_that_is_not_a_database(tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match=r"not a database.*restore a backup or move it aside"):
        Store.open(bad)


# --- recorder --------------------------------------------------------------------------------------


def test_reps_reach_disk_within_a_second_without_stop(store, recorder):
    sid = recorder.start_session("Ann", "squat", t0=10.0)
    t_recorded = time.monotonic()
    for i in range(5):
        recorder.record(rep(10 + i))
    recorder.record(no_rep(16))
    deadline = t_recorded + 1.0
    con = raw(store.path)
    while True:
        n = con.execute("select count(*) from reps where session_id=?", (sid,)).fetchone()[0]
        if n == 6 or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert n == 6, "reps not on disk within 1 s"
    status, reps, no_reps = con.execute(
        "select status, reps, no_reps from sessions where id=?", (sid,)
    ).fetchone()
    assert (status, reps, no_reps) == ("open", 5, 1)
    con.close()


def test_switching_workout_without_stop_keeps_the_interval(store, recorder):
    sid = recorder.start_session("Ben", "squat", program="circuit", round=1, t0=0.0)
    for i in range(3):
        recorder.record(rep(i))
    recorder.record(RefEvent("fault", "squat", 3, 3.2, reason="knees in"))
    recorder.start_interval("plank", round=2)
    recorder.record(RefEvent("hold_tick", "plank", 4, 5, hold_s=1.0))
    recorder.record(RefEvent("hold_tick", "plank", 5, 6, hold_s=2.0))
    recorder.start_interval("pushup", round=3)
    recorder.record(rep(7, "pushup"))
    recorder.record(no_rep(8, "chest not low", "pushup"))
    assert recorder.end_session() == sid
    d = queries.session_detail(store, sid)
    assert [(i.index, i.workout, i.round, i.reps, i.no_reps, i.faults, i.hold_s) for i in d.intervals] == [
        (1, "squat", 1, 3, 0, 1, None),
        (2, "plank", 2, 0, 0, 0, 2.0),
        (3, "pushup", 3, 1, 1, 0, None),
    ]
    assert all(i.ended_at is not None for i in d.intervals)
    assert d.session.status == "done" and d.session.program == "circuit"
    assert (d.session.reps, d.session.no_reps, d.session.faults, d.session.hold_s) == (4, 1, 1, 2.0)
    assert [r.index for r in d.reps] == [1, 2, 3, 4, 5]
    assert [r.interval_index for r in d.reps] == [1, 1, 1, 3, 3]
    assert d.reps[-1].reason == "chest not low" and not d.reps[-1].valid
    board = queries.leaderboard(store, "plank", metric="hold_s")
    assert [(r.rank, r.player, r.value, r.session_id) for r in board] == [(1, "Ben", 2.0, sid)]
    bests = {b.workout: b for b in queries.personal_bests(store, "Ben")}
    assert (bests["plank"].longest_hold_s, bests["plank"].longest_hold_session) == (2.0, sid)


def test_relabelling_the_interval_moves_its_reps_to_the_corrected_workout(store, recorder):
    """Auto mode guessed squat; the person says lunge: the interval, its reps, the totals follow."""
    sid = recorder.start_session("Cy", "jumping_jack", t0=0.0)
    recorder.record(rep(0, "jumping_jack"))
    recorder.start_interval("squat")
    for i in range(1, 4):
        recorder.record(rep(i))
    recorder.record(RefEvent("fault", "squat", 4, 4.2, reason="chest too far forward"))
    recorder.flush()
    recorder.relabel_interval("lunge", [rep(1, "lunge"), no_rep(2, "not low", "lunge"), rep(3, "lunge")])
    recorder.record(rep(5, "lunge"))  # counting goes on as the corrected workout
    assert recorder.end_session() == sid
    d = queries.session_detail(store, sid)
    assert [(i.workout, i.reps, i.no_reps, i.faults) for i in d.intervals] == [
        ("jumping_jack", 1, 0, 0),
        ("lunge", 3, 1, 0),
    ]
    assert (d.session.workout, d.session.reps, d.session.no_reps, d.session.faults) == (
        "jumping_jack",
        4,
        1,
        0,
    )
    assert [(r.index, r.interval_index, r.valid) for r in d.reps] == [
        (1, 1, True),
        (2, 2, True),
        (3, 2, False),
        (4, 2, True),
        (5, 2, True),
    ]
    # the first interval is the session's workout too
    sid2 = recorder.start_session("Cy", "squat", t0=0.0)
    recorder.record(rep(0))
    recorder.relabel_interval("lunge", [rep(0, "lunge"), rep(1, "lunge")])
    recorder.end_session()
    d2 = queries.session_detail(store, sid2)
    assert (d2.session.workout, d2.session.reps, [i.workout for i in d2.intervals]) == ("lunge", 2, ["lunge"])
    with pytest.raises(InvalidInput, match="no session is running"):
        recorder.relabel_interval("lunge", [])


def test_starting_a_new_session_closes_the_open_one(store, recorder):
    first = recorder.start_session("Cy", "squat")
    recorder.record(rep(1))
    second = recorder.start_session("Cy", "lunge")
    recorder.end_session("aborted")
    a, b = queries.get_session(store, first), queries.get_session(store, second)
    assert (a.status, a.reps, b.status, b.workout) == ("done", 1, "aborted", "lunge")


def test_record_never_blocks_while_another_writer_holds_the_lock(store, recorder):
    recorder.start_session("Dee", "squat")
    blocker = sqlite3.connect(store.path, timeout=1)
    blocker.isolation_level = None
    blocker.execute("BEGIN IMMEDIATE")  # hold the write lock for 1.5 s
    worst = 0.0
    start = time.monotonic()
    n = 0
    while time.monotonic() - start < 1.5:
        t = time.perf_counter()
        recorder.record(rep(n))
        worst = max(worst, time.perf_counter() - t)
        n += 1
        time.sleep(0.002)
    assert recorder.pending > 0  # the writer is waiting on the lock, the caller is not
    blocker.execute("ROLLBACK")
    blocker.close()
    recorder.flush()
    # a record() that waited on the lock would take what is left of its 1.5 s; the bound is
    # a third of that, not a speed (a loaded machine stalls any call for a tenth of a second)
    assert worst < 0.5, f"record() took {worst * 1000:.1f} ms"
    assert n >= 100  # the caller went on recording all the while
    assert queries.get_session(store, recorder.session_id).reps == n
    assert recorder.healthy


def test_stop_without_start_and_bad_input_are_clear(recorder):
    with pytest.raises(InvalidInput, match="no session is running"):
        recorder.end_session()
    with pytest.raises(InvalidInput, match="no session is running"):
        recorder.start_interval("squat")
    with pytest.raises(InvalidInput, match="workout name is empty"):
        recorder.start_session("Eve", "  ")
    with pytest.raises(InvalidInput, match="player name is empty"):
        recorder.start_session("", "squat")
    with pytest.raises(NotFound):
        recorder.start_session(12345, "squat")
    recorder.start_session("Eve", "squat")
    with pytest.raises(InvalidInput, match="status must be"):
        recorder.end_session("exploded")
    recorder.record(rep(1))  # a session is still running and keeps its rep
    assert recorder.end_session() is not None


def test_events_outside_a_session_are_ignored(store, recorder):
    recorder.record(rep(1))
    recorder.flush()
    with store.reading() as s:
        assert s.connection().exec_driver_sql("select count(*) from reps").scalar() == 0


def test_close_ends_the_open_session(store):
    rec = SessionRecorder(store, flush_interval_s=5.0)
    sid = rec.start_session("Fay", "squat")
    for i in range(3):
        rec.record(rep(i))
    rec.close()  # within the 5 s batch window: close must still write them
    row = queries.get_session(store, sid)
    assert (row.status, row.reps) == ("done", 3)


def test_concurrent_writer_and_readers(store):
    rec = SessionRecorder(store, flush_interval_s=0.05, flush_max_events=32)
    sid = rec.start_session("Gus", "squat")
    errors: list[BaseException] = []
    seen: list[list[int]] = [[], [], []]
    stop = threading.Event()

    def reader(k: int) -> None:
        try:
            while not stop.is_set():
                page = queries.list_sessions(store, player="gus")
                seen[k].append(page.items[0].reps)
                d = queries.session_detail(store, sid)
                assert len([r for r in d.reps if r.valid]) >= seen[k][-1]  # later snapshot, never fewer
                queries.weekly_trends(store)
        except BaseException as exc:
            errors.append(exc)

    def other_writer() -> None:  # the web side creating players meanwhile: contends for the lock
        try:
            for i in range(20):
                create_player(store, f"Player {i}")
                time.sleep(0.02)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=reader, args=(k,)) for k in range(3)] + [
        threading.Thread(target=other_writer)
    ]
    for t in threads:
        t.start()
    for i in range(3000):
        rec.record(rep(i * 0.01))
        if i % 100 == 0:
            time.sleep(0.01)
    rec.end_session()
    stop.set()
    for t in threads:
        t.join(30)
    rec.close()
    assert errors == []
    for s in seen:
        assert s, "a reader saw nothing"
        assert s == sorted(s), "a reader saw the count go down"
    assert queries.get_session(store, sid).reps == 3000
    assert len(list_players(store)) == 21
    assert store.integrity_check() == "ok"


# --- players -----------------------------------------------------------------------------------------


def test_player_validation_leaves_no_rows(store):
    for bad, msg in [
        ("", "empty"),
        ("   ", "empty"),
        ("x" * 10_000, "10000 characters"),
        ("a\x00b", "control"),
    ]:
        with pytest.raises(InvalidInput, match=msg):
            create_player(store, bad)
    with pytest.raises(InvalidInput, match="must be text"):
        create_player(store, None)
    assert list_players(store) == []
    p = create_player(store, "  Ana   María ")
    assert p.name == "Ana María"
    with pytest.raises(InvalidInput, match="already exists"):
        create_player(store, "ANA MARÍA")
    assert [x.name for x in list_players(store)] == ["Ana María"]


# --- queries ----------------------------------------------------------------------------------------


def _seed_small(store) -> dict:
    """Three players over three weeks, a program session, and known bests."""
    rec = SessionRecorder(store, flush_interval_s=0.05)
    t = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)  # a Monday
    ids = {}
    plan = [
        ("Ann", "squat", 0, 10, 1),
        ("Ann", "squat", 7, 14, 0),
        ("Ann", "pushup", 8, 6, 2),
        ("Bob", "squat", 9, 20, 3),
        ("Cat", "squat", 15, 12, 0),
        ("Bob", "pushup", 16, 9, 0),
    ]
    for k, (player, workout, day, n_reps, n_no) in enumerate(plan):
        start = t + timedelta(days=day)
        sid = rec.start_session(player, workout, started_at=start, t0=100.0)
        for i in range(n_reps):
            rec.record(rep(100 + 2 * i, workout), at=start + timedelta(seconds=2 * i + 1))
        for i in range(n_no):
            rec.record(no_rep(200 + i, workout=workout), at=start + timedelta(seconds=60 + i))
        rec.end_session(ended_at=start + timedelta(seconds=90))
        ids[k] = sid
    start = t + timedelta(days=17)
    sid = rec.start_session("Ann", "squat", program="tabata", round=1, started_at=start)
    rec.record(rep(1), at=start + timedelta(seconds=5))
    rec.start_interval("pushup", round=2, at=start + timedelta(seconds=20))
    rec.record(rep(25, "pushup"), at=start + timedelta(seconds=25))
    rec.end_session(ended_at=start + timedelta(seconds=40))
    ids["tabata"] = sid
    rec.close()
    return ids


def test_list_sessions_filters_and_pages(store):
    ids = _seed_small(store)
    page = queries.list_sessions(store)
    assert page.total == 7 and page.items[0].id == ids["tabata"]
    assert [r.started_at for r in page.items] == sorted((r.started_at for r in page.items), reverse=True)
    ann = queries.list_sessions(store, player="ann")
    assert ann.total == 4 and {r.player for r in ann.items} == {"Ann"}
    assert queries.list_sessions(store, player=ann.items[0].player_id).total == 4
    # a program session shows under each workout it contains
    pushup = queries.list_sessions(store, workout="pushup")
    assert {r.id for r in pushup.items} == {ids[2], ids[5], ids["tabata"]}
    week2 = queries.list_sessions(store, date_from=date(2026, 11, 9), date_to=date(2026, 11, 11))
    assert {r.id for r in week2.items} == {ids[1], ids[2], ids[3]}
    p1 = queries.list_sessions(store, per_page=3, page=1)
    p3 = queries.list_sessions(store, per_page=3, page=3)
    assert (p1.pages, len(p1.items), len(p3.items)) == (3, 3, 1)
    assert queries.list_sessions(store, player="nobody").total == 0
    with pytest.raises(InvalidInput, match="start date is after"):
        queries.list_sessions(store, date_from=date(2026, 12, 1), date_to=date(2026, 11, 1))
    with pytest.raises(InvalidInput):
        queries.list_sessions(store, page=0)
    with pytest.raises(InvalidInput):
        queries.list_sessions(store, per_page=10_000)
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        queries.parse_date("23/11/2026")


def test_detail_trends_bests_leaderboard(store):
    ids = _seed_small(store)
    d = queries.session_detail(store, ids[0])
    assert (d.session.reps, d.session.no_reps, len(d.reps)) == (10, 1, 11)
    assert d.reps[0].at_s == pytest.approx(0.9) and d.reps[0].time_under_tension_s == pytest.approx(0.9)
    with pytest.raises(NotFound):
        queries.session_detail(store, 9999)

    weeks = queries.weekly_trends(store, weeks=None)
    squat = {(w.week, w.sessions, w.reps, w.no_reps, w.best_reps) for w in weeks if w.workout == "squat"}
    assert squat == {
        (date(2026, 11, 2), 1, 10, 1, 10),
        (date(2026, 11, 9), 2, 34, 3, 20),
        (date(2026, 11, 16), 2, 13, 0, 12),
    }
    recent = queries.weekly_trends(store, weeks=1, now=datetime(2026, 11, 20, tzinfo=UTC))
    assert {w.week for w in recent} == {date(2026, 11, 16)}

    bests = {b.workout: b for b in queries.personal_bests(store, "Ann")}
    assert (bests["squat"].best_reps, bests["squat"].best_reps_session, bests["squat"].sessions) == (
        14,
        ids[1],
        3,
    )
    assert bests["squat"].best_pace_rpm == pytest.approx(14 * 60 / 90)
    assert bests["pushup"].best_reps == 6

    board = queries.leaderboard(store, "squat")
    assert [(r.rank, r.player, r.value) for r in board] == [(1, "Bob", 20), (2, "Ann", 14), (3, "Cat", 12)]
    assert queries.leaderboard(store, "squat", since=date(2026, 11, 16))[0].player == "Cat"
    with pytest.raises(InvalidInput):
        queries.leaderboard(store, "squat", metric="speed")
    assert queries.list_workouts(store) == ["pushup", "squat"]


def test_session_facts_for_the_coach(store):
    ids = _seed_small(store)
    f = session_facts(store, ids[1])
    assert (f.player, f.workout, f.reps, f.no_reps, f.previous_best) == ("Ann", "squat", 14, 0, 10)
    assert f.duration_s == pytest.approx(90.0)
    assert f.rep_times[:2] == pytest.approx([0.9, 2.9]) and len(f.rep_durations) == 14
    assert f.eccentric_s[0] == 0.5 and f.concentric_s[0] == 0.4
    assert [(i.workout, i.reps) for i in f.intervals] == [("squat", 14)]
    first = session_facts(store, ids[0])
    assert first.previous_best is None and first.no_rep_reasons == {"not low enough": 1}
    tabata = session_facts(store, ids["tabata"])
    assert tabata.workout == "tabata" and [(i.workout, i.round) for i in tabata.intervals] == [
        ("squat", 1),
        ("pushup", 2),
    ]
    set_summary(store, ids[1], "Fourteen squats, a new best.", "template", reason="model timed out")
    d = queries.session_detail(store, ids[1])
    assert (d.summary, d.session.summary_kind, d.summary_reason) == (
        "Fourteen squats, a new best.",
        "template",
        "model timed out",
    )
    with pytest.raises(InvalidInput):
        set_summary(store, ids[1], "x", "poem")
    with pytest.raises(NotFound):
        set_summary(store, 9999, "x", "model")


def test_export_round_trip_csv_and_json(store):
    _seed_small(store)
    buf = io.StringIO()
    assert export_mod.export(store, buf, fmt="json") == 7
    doc = json.loads(buf.getvalue())
    assert doc["format"] == "hiitpi-history" and doc["version"] == 2 and len(doc["sessions"]) == 7
    for s in doc["sessions"]:
        d = queries.session_detail(store, s["id"])
        assert s["reps"] == d.session.reps and len(s["rep_log"]) == len(d.reps)
        assert s["attempts"] == d.session.reps + d.session.no_reps and s["counting"] == "judge"
        assert datetime.fromisoformat(s["started_at"]) == d.session.started_at
        for got, want in zip(s["rep_log"], d.reps, strict=True):
            assert (got["index"], got["valid"], got["reason"], got["t_start"], got["eccentric_s"]) == (
                want.index,
                want.valid,
                want.reason,
                want.t_start,
                want.eccentric_s,
            )
    with pytest.raises(NotFound):
        export_mod.export(store, io.StringIO(), session_id=9999)
    with pytest.raises(InvalidInput):
        export_mod.export(store, io.StringIO(), fmt="xml")
    with pytest.raises(InvalidInput, match="sessions, reps"):
        export_mod.export(store, io.StringIO(), fmt="csv", table="players")


def _csv(text: str) -> tuple[list[str], list[dict]]:
    """The header and rows, after checking every row has the header's column count (what a
    spreadsheet needs to line the columns up)."""
    rows = list(csv.reader(io.StringIO(text)))
    header = rows[0]
    assert all(len(r) == len(header) for r in rows), [len(r) for r in rows]
    return header, [dict(zip(header, r, strict=True)) for r in rows[1:]]


def test_csv_export_is_two_tables_a_spreadsheet_reads(store):
    ids = _seed_small(store)
    titles = {"squat": "Squat", "pushup": "Push-up", "tabata": "Tabata squats"}.get
    out = io.StringIO()
    assert export_mod.export(store, out, fmt="csv", table="sessions", titles=titles) == 7
    assert out.getvalue().endswith("\r\n")  # RFC 4180 line ends
    header, sessions = _csv(out.getvalue())
    assert tuple(header) == export_mod.SESSION_COLUMNS and len(header) == 21
    by_id = {int(r["session_id"]): r for r in sessions}
    bob = by_id[ids[3]]  # 20 reps, 3 no-reps in 90 s
    assert (bob["player"], bob["title"], bob["kind"], bob["reps"], bob["no_reps"], bob["attempts"]) == (
        "Bob",
        "Squat",
        "workout",
        "20",
        "3",
        "23",
    )
    assert bob["started_utc"] == "2026-11-11 18:00:00" and bob["ended_utc"] == "2026-11-11 18:01:30"
    assert (bob["duration_s"], bob["avg_pace_per_min"], bob["counting"]) == ("90.00", "13.3", "judge")
    tabata = by_id[ids["tabata"]]
    assert (tabata["title"], tabata["kind"], tabata["program"], tabata["intervals"]) == (
        "Tabata squats",
        "program",
        "tabata",
        "2",
    )
    # the reps table: one row per attempt, reps and no-reps told apart, one time base
    out = io.StringIO()
    export_mod.export(store, out, fmt="csv", table="reps", session_id=ids[3], titles=titles)
    header, reps = _csv(out.getvalue())
    assert tuple(header) == export_mod.REP_COLUMNS and len(header) == 17  # with the form score and its part
    assert len(reps) == 23 and [r["attempt"] for r in reps] == [str(i) for i in range(1, 24)]
    counted = [r for r in reps if r["result"] == "rep"]
    missed = [r for r in reps if r["result"] == "no-rep"]
    assert [r["rep_number"] for r in counted] == [str(i) for i in range(1, 21)]
    assert {r["rep_number"] for r in missed} == {""} and {r["reason"] for r in missed} == {"not low enough"}
    # seconds from the session's start (t0 = 100 in the referee clock), two decimals
    assert (reps[0]["start_s"], reps[0]["end_s"], reps[0]["duration_s"]) == ("0.00", "0.90", "0.90")
    assert (reps[0]["down_s"], reps[0]["up_s"], reps[0]["range_pct"], reps[0]["workout"]) == (
        "0.50",
        "0.40",
        "80",
        "Squat",
    )
    assert all(len(v.split(".")[-1]) <= 2 for r in reps for k, v in r.items() if k.endswith("_s") and v)
    # every session's reps in one file, joined by session id
    out = io.StringIO()
    export_mod.export(store, out, fmt="csv", table="reps")
    _, every = _csv(out.getvalue())
    assert len(every) == sum(len(queries.session_detail(store, i).reps) for i in ids.values())
    assert {int(r["session_id"]) for r in every} == set(ids.values())


def test_csv_cells_are_never_formulas(store):
    """A name or reason that starts like a formula is written as text (CSV injection)."""
    rec = SessionRecorder(store, flush_interval_s=0.05)
    sid = rec.start_session("=HYPERLINK(1)", "squat")
    rec.record(no_rep(1.0, reason="@SUM(A1)"))
    rec.record(rep(3.0))
    rec.end_session()
    rec.close()
    from hiitpi.store.edit import rename_session

    rename_session(store, sid, "+cmd|' /C calc'!A0")
    for bad in ("-2+3", "\tx", "\rx", "  =1+1", "\n@x", "\uff1dSUM(A1)", "\u3000+1"):
        assert export_mod.safe_text(bad) == "'" + bad
    assert export_mod.safe_text("Ana") == "Ana" and export_mod.safe_text(None) == ""
    assert export_mod.safe_text(" Ana - 2") == " Ana - 2" and export_mod.safe_text("1+1") == "1+1"
    out = io.StringIO()
    export_mod.export(store, out, fmt="csv", table="sessions")
    _, rows = _csv(out.getvalue())
    assert rows[0]["player"] == "'=HYPERLINK(1)" and rows[0]["name"] == "'+cmd|' /C calc'!A0"
    out = io.StringIO()
    export_mod.export(store, out, fmt="csv", table="reps")
    _, rows = _csv(out.getvalue())
    assert rows[0]["reason"] == "'@SUM(A1)" and rows[1]["result"] == "rep"


def test_attempts_full_reps_and_counting_are_kept(store):
    """Judged: attempts = reps + no-reps. Counting attempts: a partial rep counts, and is told apart."""
    rec = SessionRecorder(store, flush_interval_s=0.05)
    judged = rec.start_session("Ann", "squat", counting="judge")
    rec.record(rep(1.0))
    rec.record(no_rep(3.0))
    rec.end_session()
    loose = rec.start_session("Ann", "squat", counting="attempts")
    rec.record(rep(1.0))
    rec.record(rep(3.0, extra={"full": False}))
    rec.record(RefEvent("fault", "squat", 3.0, 3.7, 2, reason="not low enough"))
    rec.end_session()
    with pytest.raises(InvalidInput, match="counting must be one of"):
        rec.start_session("Ann", "squat", counting="loose")
    rec.close()
    a = queries.session_detail(store, judged)
    assert (a.session.counting, a.session.reps, a.session.full_reps, a.session.attempts) == ("judge", 1, 1, 2)
    assert a.intervals[0].attempts == 2 and [r.full for r in a.reps] == [True, False]
    b = queries.session_detail(store, loose)
    assert (b.session.counting, b.session.reps, b.session.full_reps, b.session.attempts) == (
        "attempts",
        2,
        1,
        2,
    )
    assert [export_mod.rep_result(r) for r in b.reps] == ["rep", "partial rep"]


def test_a_rest_ends_the_intervals_work_time(store):
    """A program interval is its work then its rest: the work time is what paces are taken over."""
    rec = SessionRecorder(store, flush_interval_s=0.05)
    t = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)
    sid = rec.start_session("Ann", "squat", program="tabata_squat", round=1, started_at=t)
    rec.record(rep(1.0), at=t + timedelta(seconds=2))
    rec.start_rest(at=t + timedelta(seconds=20))
    rec.start_interval("squat", round=2, at=t + timedelta(seconds=30))
    rec.end_session(ended_at=t + timedelta(seconds=50))
    rec.close()
    d = queries.session_detail(store, sid)
    assert [(i.duration_s, i.work_s, i.active_s) for i in d.intervals] == [
        (30.0, 20.0, 20.0),
        (20.0, None, 20.0),
    ]
    assert export_mod.work_seconds(d) == 40.0


def test_previous_session_streaks_and_the_leaderboard_table(store):
    ids = _seed_small(store)
    prev = queries.previous_session(store, ids[1])
    assert prev is not None and prev.id == ids[0]  # Ann's squats before
    assert queries.previous_session(store, ids[0]) is None
    assert queries.previous_session(store, ids["tabata"]) is None  # the first time of that program
    assert queries.list_programs(store) == ["tabata"]
    # Ann trained on Nov 2, 9, 10 and 19 (the program): on Nov 10 a 2-day streak
    st = queries.streaks(store, "Ann", now=datetime(2026, 11, 10, 20, 0, tzinfo=UTC))
    assert (st.days, st.longest_days, st.weeks) == (2, 2, 2)
    assert (st.this_week.sessions, st.this_week.reps, st.last_week.sessions, st.last_week.reps) == (
        2,
        20,
        1,
        10,
    )
    later = queries.streaks(store, "Ann", now=datetime(2026, 11, 25, 12, 0, tzinfo=UTC))
    assert (later.days, later.weeks, later.this_week.sessions, later.last_week.sessions) == (0, 3, 0, 1)
    nobody = queries.streaks(store, "Zed")
    assert (nobody.days, nobody.weeks, nobody.last_session_at) == (0, 0, None)
    board = queries.leaderboard_table(store, "squat")
    assert [(r.rank, r.player, r.best_reps, r.total_reps, r.sessions) for r in board] == [
        (1, "Bob", 20, 20, 1),
        (2, "Ann", 14, 25, 3),
        (3, "Cat", 12, 12, 1),
    ]
    assert board[0].best_rpm == pytest.approx(20 * 60 / 90)
    by_total = queries.leaderboard_table(store, "squat", sort="total")
    assert [r.player for r in by_total] == ["Ann", "Bob", "Cat"]
    by_rpm = queries.leaderboard_table(store, "squat", sort="rpm")
    assert [r.player for r in by_rpm] == ["Bob", "Ann", "Cat"]  # Ann's program squats: under 30 s
    with pytest.raises(InvalidInput):
        queries.leaderboard_table(store, "squat", sort="speed")


def test_rename_and_delete_a_session(store):
    from hiitpi.store.chat import Conversation, add_message
    from hiitpi.store.edit import delete_session, rename_session

    ids = _seed_small(store)
    assert rename_session(store, ids[0], "  Morning   legs ") == "Morning legs"
    assert queries.get_session(store, ids[0]).name == "Morning legs"
    assert rename_session(store, ids[0], "") is None  # cleared: the workout's title again
    for bad, msg in (("x" * 61, "at most 60"), ("a\x00b", "control"), (7, "must be text")):
        with pytest.raises(InvalidInput, match=msg):
            rename_session(store, ids[0], bad)
    with pytest.raises(NotFound):
        rename_session(store, 9999, "x")
    add_message(store, Conversation.of_session(ids[3]), "user", "How did I do?")
    n_reps = len(queries.session_detail(store, ids[3]).reps)
    delete_session(store, ids[3])
    with pytest.raises(NotFound):
        queries.session_detail(store, ids[3])
    con = raw(store.path)
    assert con.execute("select count(*) from reps where session_id = ?", (ids[3],)).fetchone()[0] == 0
    assert con.execute("select count(*) from intervals where session_id = ?", (ids[3],)).fetchone()[0] == 0
    assert con.execute("select count(*) from chat_messages").fetchone()[0] == 0
    con.close()
    assert n_reps == 23 and queries.list_sessions(store).total == 6
    with pytest.raises(NotFound):
        delete_session(store, ids[3])
    rec = SessionRecorder(store)
    running = rec.start_session("Ann", "squat")
    with pytest.raises(InvalidInput, match="still being recorded"):
        delete_session(store, running)
    rec.close()


def test_db_command_status_export_recover(tmp_path, capsys):
    from hiitpi.cli import main

    db = tmp_path / "cli.db"
    assert main(["db", "--database", str(db), "upgrade"]) == 0
    assert f"upgraded from empty to {head_revision()}" in capsys.readouterr().out
    store = Store.open(db)
    rec = SessionRecorder(store)
    sid = rec.start_session("Hal", "squat")
    rec.record(rep(1))
    rec.flush()
    rec._open = False  # leave the session open on disk, as a crash would
    rec.close()
    store.close()
    assert rec.recovered == []
    assert main(["db", "--database", str(db), "status"]) == 0
    out = capsys.readouterr().out
    assert (
        f"schema:   {head_revision()} (newest {head_revision()})" in out
        and "open 1" in out
        and "integrity: ok" in out
    )
    assert "latest:" in out and f"  {sid}  " in out and "Hal · Squat · 1 rep · open" in out  # the ids
    assert main(["db", "--database", str(db), "recover"]) == 0
    assert f"recovered 1 session(s): {sid}" in capsys.readouterr().out
    out_file = tmp_path / "one.json"
    assert (
        main(
            [
                "db",
                "--database",
                str(db),
                "export",
                "--session",
                str(sid),
                "--format",
                "json",
                "--out",
                str(out_file),
            ]
        )
        == 0
    )
    doc = json.loads(out_file.read_text())
    assert doc["sessions"][0]["status"] == "recovered" and doc["sessions"][0]["reps"] == 1
    assert main(["db", "--database", str(db), "export", "--session", str(sid), "--table", "reps"]) == 0
    reps = list(csv.reader(io.StringIO(capsys.readouterr().out)))
    assert reps[0] == list(export_mod.REP_COLUMNS) and [r[2] for r in reps[1:]] == ["rep"]
    assert reps[1][export_mod.REP_COLUMNS.index("workout")] == "Squat"  # by its title, as the pages
    # bad input: no such session
    assert main(["db", "--database", str(db), "export", "--session", "777"]) == 2
    assert "no session with id 777" in capsys.readouterr().err


def test_recorder_from_settings_and_status(tmp_path):
    from hiitpi.config import load_settings

    settings = load_settings(
        None,
        env={},
        overrides={("general", "data_dir"): str(tmp_path), ("store", "flush_interval_s"): 0.25},
    )
    store = Store.from_settings(settings)
    rec = SessionRecorder.from_settings(store, settings)
    try:
        assert store.path == tmp_path / "hiitpi.db" and rec.flush_interval_s == 0.25
        rec.start_session("Ivy", "squat")
        rec.record(rep(1))
        rec.flush()
        st = rec.status()
        assert (st["ok"], st["pending"], st["written_events"], st["last_error"]) == (True, 0, 1, None)
    finally:
        rec.close()
        store.close()
    rec.record(rep(2))  # after close: ignored, not an exception in the analysis thread


def test_seed_script_builds_a_consistent_history(tmp_path):
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "scripts" / "seed_history.py"
    spec = importlib.util.spec_from_file_location("seed_history", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    db = tmp_path / "seed.db"
    assert mod.main([str(db), "--sessions", "60", "--reps", "3000"]) == 0
    store = Store.open(db)
    try:
        assert queries.list_sessions(store).total == 60
        with store.reading() as s:
            c = s.connection()
            assert c.exec_driver_sql("select count(*) from reps").scalar() == 3000
            # denormalised totals agree with the rows
            assert (
                c.exec_driver_sql(
                    "select count(*) from sessions s where reps != (select count(*) from reps r "
                    "where r.session_id = s.id and r.valid)"
                ).scalar()
                == 0
            )
        assert sum(w.reps + w.no_reps for w in queries.weekly_trends(store, weeks=None)) == 3000
        assert store.integrity_check() == "ok"
    finally:
        store.close()


def test_pending_is_capped_while_the_database_refuses_writes(store):
    rec = SessionRecorder(store, flush_interval_s=0.05, retry_s=0.1, max_pending=50)
    rec.start_session("Jo", "squat")
    blocker = sqlite3.connect(store.path, timeout=1)
    blocker.isolation_level = None
    blocker.execute("BEGIN IMMEDIATE")  # nobody else can write while this is held
    try:
        for i in range(200):
            rec.record(rep(i))
        assert wait_for_value(lambda: rec.dropped, 150, timeout=20)  # after the 5 s busy timeout
        assert rec.pending == 50
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    rec.flush()
    assert queries.get_session(store, rec.session_id).reps == 50  # the first 50 kept, in order
    assert [r.t_start for r in queries.session_detail(store, rec.session_id).reps] == [
        float(i) for i in range(50)
    ]
    rec.close()


def wait_for_value(fn, want, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn() == want:
            return True
        time.sleep(0.02)
    return fn() == want


def test_days_and_weeks_are_local_time(store, monkeypatch):
    """A Sunday-evening session in New York is 03:00 Monday UTC: it belongs to the local week/day."""
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        rec = SessionRecorder(store, flush_interval_s=0.05)
        start = datetime(2026, 11, 9, 3, 0, tzinfo=UTC)  # Sunday 8 Nov, 22:00 in New York
        sid = rec.start_session("Kim", "squat", started_at=start)
        rec.record(rep(1), at=start)
        rec.end_session(ended_at=start + timedelta(seconds=60))
        rec.close()
        weeks = queries.weekly_trends(store, weeks=None)
        assert [(w.week, w.reps) for w in weeks] == [(date(2026, 11, 2), 1)]
        assert queries.list_sessions(store, date_from=date(2026, 11, 8), date_to=date(2026, 11, 8)).total == 1
        assert queries.list_sessions(store, date_from=date(2026, 11, 9)).total == 0
        recent = queries.weekly_trends(store, weeks=1, now=datetime(2026, 11, 8, 23, 0, tzinfo=UTC))
        assert [w.week for w in recent] == [date(2026, 11, 2)] and sid
    finally:
        monkeypatch.undo()
        time.tzset()
