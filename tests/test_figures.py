"""Figures are pure functions of plain rows: checked directly, without a browser."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hiitpi.store.queries import IntervalRow, RepRow, WeekRow
from hiitpi.web import figures

T0 = datetime(2026, 11, 2, 18, 0, tzinfo=UTC)


def rep(index, at_s, *, valid=True, reason=None, ecc=0.8, con=0.6, interval=1, workout="squat"):
    return RepRow(
        index=index,
        interval_index=interval,
        workout=workout,
        t_start=100 + at_s - 1.4,
        t_end=100 + at_s,
        at_s=at_s,
        eccentric_s=ecc,
        concentric_s=con,
        rom=0.9,
        side=None,
        valid=valid,
        reason=reason,
        recorded_at=T0 + timedelta(seconds=at_s),
    )


def test_rep_timeline_counts_valid_reps_and_marks_no_reps_with_reasons():
    reps = [rep(1, 2.0), rep(2, 4.0), rep(3, 5.5, valid=False, reason="not low enough"), rep(4, 7.0)]
    fig = figures.rep_timeline_figure(reps)
    count, bad = fig.data
    assert list(count.x) == [0.0, 2.0, 4.0, 7.0]
    assert list(count.y) == [0, 1, 2, 3]
    assert list(bad.x) == [5.5]
    assert list(bad.y) == [2]  # drawn at the count it did not raise
    assert list(bad.text) == ["not low enough"]


def test_rep_timeline_program_bands_shade_the_work_and_name_the_workouts():
    reps = [rep(1, 3.0), rep(2, 25.0, interval=2, workout="push_up")]
    intervals = [  # 15 s of work then 5 s of rest, twice
        IntervalRow(1, "squat", 1, T0, T0 + timedelta(seconds=20), 20.0, 1, 0, 0, None, 1, 15.0),
        IntervalRow(
            2,
            "push_up",
            1,
            T0 + timedelta(seconds=20),
            T0 + timedelta(seconds=40),
            20.0,
            1,
            0,
            0,
            None,
            1,
            15.0,
        ),
    ]
    titles = {"squat": "Squat", "push_up": "Push-up"}.get
    fig = figures.rep_timeline_figure(reps, intervals, titles)
    assert fig.data[0].name == "reps" and [t.name for t in fig.data[1:]] == ["Squat", "Push-up"]  # the key
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(0.0, 15.0), (20.0, 35.0)]  # rests left clear
    assert [a.text for a in fig.layout.annotations] == ["Squat · 1", "Push-up · 1"]
    assert fig.layout.showlegend and fig.layout.legend.y > 1  # above the plot, not over the x title


def test_rep_timeline_of_a_tabata_labels_each_round_once():
    intervals = [
        IntervalRow(r, "squat", r, T0 + timedelta(seconds=30 * (r - 1)), None, 30.0, 10, 0, 0, None, 10, 20.0)
        for r in range(1, 9)
    ]
    fig = figures.rep_timeline_figure([rep(1, 3.0)], intervals)
    assert [a.text for a in fig.layout.annotations] == [str(r) for r in range(1, 9)]
    assert [t.name for t in fig.data[1:]] == ["Squat"]


def test_tut_stacks_eccentric_and_concentric_for_counted_reps_only():
    reps = [
        rep(1, 2.0, ecc=1.0, con=0.5),
        rep(2, 4.0, valid=False, reason="x"),
        rep(3, 6.0, ecc=1.2, con=0.7),
    ]
    fig = figures.tut_figure(reps)
    assert [t.name for t in fig.data] == ["down (lowering)", "up (lifting)"]
    assert list(fig.data[0].x) == [1, 2]
    assert list(fig.data[0].y) == [1.0, 1.2]
    assert list(fig.data[1].y) == [0.5, 0.7]
    assert fig.layout.barmode == "stack"


def test_tut_falls_back_to_total_duration_when_unsplit():
    reps = [rep(1, 2.0, ecc=None, con=None), rep(2, 4.0, ecc=1.0, con=0.5)]
    fig = figures.tut_figure(reps)
    assert len(fig.data) == 1
    assert [round(v, 3) for v in fig.data[0].y] == [1.4, 1.5]


def test_weekly_trends_one_trace_per_workout_in_week_order():
    weeks = [
        WeekRow(date(2026, 10, 26), "squat", 2, 40, 3, 600.0, 25),
        WeekRow(date(2026, 11, 2), "push_up", 1, 12, 0, 120.0, 12),
        WeekRow(date(2026, 11, 2), "squat", 3, 70, 1, 900.0, 30),
    ]
    fig = figures.weekly_trends_figure(weeks)
    by_name = {t.name: t for t in fig.data}
    assert set(by_name) == {"Push up", "Squat"}  # titles, never rules names
    assert list(by_name["Squat"].x) == ["2026-10-26", "2026-11-02"]
    assert list(by_name["Squat"].y) == [40, 70]
    assert list(by_name["Push up"].y) == [12]
    assert fig.layout.yaxis.title.text == "reps" and fig.layout.legend.y > 1
    assert fig.layout.barmode == "stack"
    assert fig.layout.xaxis.categoryorder == "category ascending"  # weeks in date order across traces
    assert figures.weekly_trends_figure([]).data == ()


def test_live_figures_start_empty_with_their_keys_above_the_plot():
    reps_fig = figures.live_reps_figure()
    time_fig = figures.live_rep_time_figure()
    assert [t.name for t in reps_fig.data] == ["counted", "no-rep"] and list(reps_fig.data[0].x) == []
    assert [t.name for t in time_fig.data] == ["counted", "no-rep"] and time_fig.data[0].type == "bar"
    for fig in (reps_fig, time_fig):
        assert fig.layout.title.text is None  # the card's heading is the title
        assert fig.layout.legend.y > 1 and fig.layout.legend.orientation == "h"
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
    # the figures serialise (what dcc.Graph receives)
    assert reps_fig.to_plotly_json()["layout"]["uirevision"] == "keep"
