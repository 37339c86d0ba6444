"""The similarity score with the rep: migration 0003 on a real SQLite file that already holds reps,
the recorder writing the event's score and part, the session page's chart and the export, and
the coach's facts naming it."""

from __future__ import annotations

import sqlite3

from sqlalchemy import create_engine

from hiitpi.referee.events import RefEvent
from hiitpi.store import SessionRecorder, Store, queries
from hiitpi.store.migrate import current_revision, head_revision, upgrade


def _columns(path) -> set[str]:
    with sqlite3.connect(path) as c:
        return {row[1] for row in c.execute("pragma table_info(reps)")}


def test_migration_0003_adds_the_columns_and_keeps_the_reps(tmp_path):
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    upgrade(engine, "0002")  # a history written before this change
    with sqlite3.connect(path) as c:
        c.execute(
            "insert into players (id, name, name_key, created_at) values (1, 'Ana', 'ana', '2026-01-01 00:00:00')"
        )
        c.execute(
            "insert into sessions (id, player_id, workout, started_at, updated_at, t0, status, duration_s, reps, "
            "no_reps, faults) values (1, 1, 'squat', '2026-01-01 08:00:00', '2026-01-01 08:01:00', 0, 'done', 60, 1, 0, 0)"
        )
        c.execute(
            'insert into intervals (id, session_id, "index", workout, started_at, duration_s, reps, no_reps, faults) '
            "values (1, 1, 1, 'squat', '2026-01-01 08:00:00', 60, 1, 0, 0)"
        )
        c.execute(
            'insert into reps (session_id, interval_id, "index", t_start, t_end, valid, recorded_at) '
            "values (1, 1, 1, 1.0, 2.0, 1, '2026-01-01 08:00:02')"
        )
    assert "similarity" not in _columns(path)
    assert upgrade(engine) == ("0002", head_revision())  # through 0003 (similarity) and on to the head
    assert {"similarity", "deviation"} <= _columns(path)
    engine.dispose()
    store = Store.open(path)
    try:
        d = queries.session_detail(store, 1)
        assert len(d.reps) == 1 and d.reps[0].similarity is None and d.reps[0].deviation is None
    finally:
        store.close()
    # and back down
    engine = create_engine(f"sqlite:///{path}")
    from alembic import command

    from hiitpi.store.migrate import alembic_config

    with engine.begin() as conn:
        command.downgrade(alembic_config(conn), "0002")
    assert current_revision(engine) == "0002" and "similarity" not in _columns(path)
    engine.dispose()


def test_the_recorder_keeps_each_reps_score_and_the_page_and_coach_show_it(tmp_path):
    from hiitpi.coach.chatfacts import ChatContext, all_facts
    from hiitpi.coach.derived import derive
    from hiitpi.coach.facts import example_history
    from hiitpi.store.coaching import session_facts
    from hiitpi.store.export import export
    from hiitpi.web import figures

    store = Store.open(tmp_path / "h.db")
    rec = SessionRecorder(store, flush_interval_s=0.1)
    try:
        sid = rec.start_session("Ana", "squat", t0=0.0)
        scores = [(91.5, "knees"), (84.0, "hips"), (62.5, "knees")]
        for i, (score, part) in enumerate(scores):
            rec.record(
                RefEvent(
                    "rep", "squat", 2.0 * i, 2.0 * i + 1.5, count=i + 1, similarity=score, deviation=part
                )
            )
        rec.record(
            RefEvent("no_rep", "squat", 7.0, 8.0, reason="not low enough", similarity=40.0, deviation="knees")
        )
        rec.record(RefEvent("rep", "squat", 9.0, 10.0, count=4))  # not scored (no reference then)
        rec.end_session()
        rec.flush()
        d = queries.session_detail(store, sid)
        assert [(r.similarity, r.deviation) for r in d.reps] == [*scores, (40.0, "knees"), (None, None)]

        fig = figures.similarity_figure(d.reps)
        assert fig is not None and list(fig.data[0].y) == [91.5, 84.0, 62.5, 40.0]
        assert figures.similarity_figure([r for r in d.reps if r.similarity is None]) is None
        from hiitpi.web.layout import form_note  # the chart in words, for a phone without hover

        assert form_note(d.reps) == (
            "Furthest from the reference: no-rep 4 (40/100), knees off most. Off most often: knees (3 of 4 scored)."
        )
        assert form_note([r for r in d.reps if r.similarity is None]) == ""

        import io

        out = io.StringIO()
        export(store, out, fmt="csv", table="reps", session_id=sid)  # each rep: its score and part
        header, first = out.getvalue().splitlines()[:2]
        cols = header.split(",")
        assert (
            first.split(",")[cols.index("similarity")] == "91.5"
            and first.split(",")[cols.index("deviation")] == "knees"
        )

        facts = session_facts(store, sid)
        assert facts.rep_similarity == [91.5, 84.0, 62.5, None] and facts.deviation == "knees"
        n = derive(facts)
        assert round(n.similarity_pct, 1) == 79.3 and n.similarity_low_pct == 62.5
        assert n.to_prompt_dict()["form_match_with_reference_pct"] == 79
        ctx = ChatContext(example_history(), facts)
        fact = next(f for f in all_facts(ctx) if f.key == "session.similarity")
        assert "79%" in fact.text and "62%" in fact.text and "knees" in fact.text
    finally:
        rec.close()
        store.close()
