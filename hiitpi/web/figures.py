"""Plotly figures for the dashboard: pure functions of plain data, tested directly.

Nothing here touches Redis, the database or Dash callbacks. The live charts are built once
(`live_reps_figure`, `live_rep_time_figure`) and then drawn on by the page's script (Plotly's own
restyle/extendTraces: the session so far, then each new attempt), never sent again.

Made to be read on a phone (390 px): a chart's title is the card's heading on the page, not
inside the figure; a legend sits in its own row above the plot, never over an axis title; axis
titles are one or two words; names are the catalogue's titles (``titles``), never rules names.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import plotly.graph_objects as go

from hiitpi.referee.catalog import pretty_name
from hiitpi.store.queries import IntervalRow, RepRow, WeekRow

COLORS = {
    "rep": "#22c55e",
    "no_rep": "#f97316",
    "score": "#38bdf8",
    "infer": "#a78bfa",
    "ecc": "#38bdf8",
    "con": "#22c55e",
    "grid": "#334155",
    "text": "#e2e8f0",
    "rest": "rgba(148,163,184,0.12)",
}
_WORKOUT_PALETTE = ["#22c55e", "#38bdf8", "#f97316", "#a78bfa", "#facc15", "#f472b6", "#2dd4bf", "#fb7185"]
#: Above this many intervals a band is labelled with its round only ("1", "2"...), once per round.
MAX_INTERVAL_LABELS = 4

Titles = Callable[[str], str]


def _base_layout(*, height: int = 240, legend: bool = False, **extra: Any) -> dict:
    layout = dict(
        template="plotly_dark",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(size=13, color=COLORS["text"]),
        # room for the axis titles; a legend gets a row of its own above the plot
        margin=dict(l=52, r=12, t=34 if legend else 10, b=46),
        height=height,
        showlegend=legend,
        legend=dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0, font=dict(size=12)),
        uirevision="keep",  # zoom/pan survive updates
        xaxis=dict(gridcolor=COLORS["grid"], zeroline=False, automargin=True),
        yaxis=dict(gridcolor=COLORS["grid"], zeroline=False, rangemode="tozero", automargin=True),
    )
    for axis in ("xaxis", "yaxis"):
        if axis in extra:
            layout[axis] = {**layout[axis], **extra.pop(axis)}
    for axis in ("xaxis_title", "yaxis_title"):
        if axis in extra:
            layout[axis.split("_")[0]] = {
                **layout[axis.split("_")[0]],
                "title": dict(text=extra.pop(axis), standoff=6),
            }
    layout.update(extra)
    return layout


def workout_color(workout: str, workouts: Sequence[str]) -> str:
    try:
        i = list(workouts).index(workout)
    except ValueError:
        i = abs(hash(workout))
    return _WORKOUT_PALETTE[i % len(_WORKOUT_PALETTE)]


# --- live -----------------------------------------------------------------------------------------


def live_reps_figure(points: Iterable[tuple[float, int]] = ()) -> go.Figure:
    """The session's count over time: counted reps (trace 0, a step line: seconds → count over
    the whole session) and no-reps (trace 1, crosses at the count they did not raise, with the
    reason). The page grows both with extendTraces."""
    pts = list(points)
    fig = go.Figure(
        [
            go.Scatter(
                x=[p[0] for p in pts],
                y=[p[1] for p in pts],
                mode="lines+markers",
                line=dict(shape="hv", color=COLORS["rep"], width=3),
                marker=dict(size=7),
                name="counted",
                hovertemplate="%{x:.0f} s: %{y} reps<extra></extra>",
            ),
            go.Scatter(
                x=[],
                y=[],
                mode="markers",
                marker=dict(symbol="x", size=11, color=COLORS["no_rep"], line=dict(width=2)),
                name="no-rep",
                text=[],
                hovertemplate="%{x:.0f} s: no-rep, %{text}<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        **_base_layout(legend=True, xaxis_title="seconds", yaxis_title="reps", yaxis=dict(rangemode="tozero"))
    )
    return fig


def live_rep_time_figure() -> go.Figure:
    """How long each attempt took (attempt number → seconds): counted reps (trace 0) and no-reps
    (trace 1), so slowing down shows as the bars grow. The page grows both with extendTraces."""
    fig = go.Figure(
        [
            go.Bar(
                x=[],
                y=[],
                name="counted",
                marker_color=COLORS["rep"],
                hovertemplate="attempt %{x}: %{y:.1f} s<extra></extra>",
            ),
            go.Bar(
                x=[],
                y=[],
                name="no-rep",
                marker_color=COLORS["no_rep"],
                hovertemplate="attempt %{x}: %{y:.1f} s (no-rep)<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        **_base_layout(
            legend=True,
            xaxis_title="attempt",
            yaxis_title="seconds",
            barmode="overlay",
            bargap=0.15,
            # from the first attempt (its 0 would sit on the y axis's 0), whole numbers only
            xaxis=dict(autorangeoptions=dict(minallowed=0.4), tickformat="d"),
        )
    )
    return fig


# --- one session ----------------------------------------------------------------------------------


def interval_label(iv: IntervalRow, n_intervals: int, title: Titles) -> str | None:
    """A band's label: the workout and round with few intervals, else the round number once per
    round (at its first interval) — what stays readable at phone width."""
    if n_intervals <= MAX_INTERVAL_LABELS:
        return title(iv.workout) + (f" · {iv.round}" if iv.round else "")
    return None


def rep_timeline_figure(
    reps: Sequence[RepRow], intervals: Sequence[IntervalRow] = (), titles: Titles = pretty_name
) -> go.Figure:
    """Running count against seconds into the session; no-reps marked with their reason.

    With a program, each interval's work is a shaded band in its workout's colour (its rest left
    clear), labelled with the workout with few intervals, else with its round once per round; a
    legend names the workouts.
    """
    valid = [r for r in reps if r.valid]
    bad = [r for r in reps if not r.valid]
    count_x, count_y = [0.0], [0]
    for n, r in enumerate(valid, 1):
        count_x.append(r.at_s)
        count_y.append(n)
    traces = [
        go.Scatter(
            x=count_x,
            y=count_y,
            mode="lines+markers",
            line=dict(shape="hv", color=COLORS["rep"], width=3),
            marker=dict(size=[0] + [8] * len(valid)),
            name="reps",
            customdata=[[""]] + [[titles(r.workout)] for r in valid],
            hovertemplate="%{x:.1f} s — rep %{y}<extra>%{customdata[0]}</extra>",
            showlegend=False,
        )
    ]
    if bad:
        # a no-rep sits at the count it did not raise
        at = [sum(1 for v in valid if v.at_s <= r.at_s) for r in bad]
        traces.append(
            go.Scatter(
                x=[r.at_s for r in bad],
                y=at,
                mode="markers",
                marker=dict(symbol="x", size=12, color=COLORS["no_rep"], line=dict(width=2)),
                name="no-rep",
                text=[r.reason or "no-rep" for r in bad],
                hovertemplate="%{x:.1f} s — no-rep: %{text}<extra></extra>",
            )
        )
    shapes, annotations = [], []
    legend = bool(bad)
    if len(intervals) > 1:
        # intervals carry wall-clock times; the first one starts with the session
        workouts = list(dict.fromkeys(i.workout for i in intervals))
        base = intervals[0].started_at
        seen_rounds: set[int | None] = set()
        for iv in intervals:
            x0 = (iv.started_at - base).total_seconds()
            x1 = x0 + iv.active_s
            color = workout_color(iv.workout, workouts)
            shapes.append(
                dict(
                    type="rect",
                    xref="x",
                    yref="paper",
                    x0=x0,
                    x1=x1,
                    y0=0,
                    y1=1,
                    fillcolor=color,
                    opacity=0.14,
                    line_width=0,
                    layer="below",
                )
            )
            label = interval_label(iv, len(intervals), titles)
            if label is None and iv.round is not None and iv.round not in seen_rounds:
                label = str(iv.round)
            seen_rounds.add(iv.round)
            if label:
                annotations.append(
                    dict(
                        x=x0,
                        y=1.0,
                        xref="x",
                        yref="paper",
                        xanchor="left",
                        text=label,
                        showarrow=False,
                        font=dict(size=11),
                        yanchor="bottom",
                    )
                )
        for wk in workouts:  # the legend's key to the band colours
            traces.append(
                go.Scatter(
                    x=[None],
                    y=[None],
                    mode="markers",
                    marker=dict(symbol="square", size=12, color=workout_color(wk, workouts), opacity=0.6),
                    name=titles(wk),
                    hoverinfo="skip",
                )
            )
        legend = True
    fig = go.Figure(traces)
    layout = _base_layout(
        height=280,
        legend=legend,
        xaxis_title="seconds",
        yaxis_title="reps",
        shapes=shapes,
        annotations=annotations,
    )
    if annotations:  # the round labels get a row above the plot, the legend one above them
        layout["margin"]["t"] = 56 if legend else 26
        layout["legend"]["y"] = 1.12
    fig.update_layout(**layout)
    return fig


def tut_figure(reps: Sequence[RepRow]) -> go.Figure:
    """Time under tension per counted rep: eccentric and concentric stacked (total when unsplit)."""
    valid = [r for r in reps if r.valid]
    x = list(range(1, len(valid) + 1))
    split = [r for r in valid if r.eccentric_s is not None and r.concentric_s is not None]
    if valid and len(split) == len(valid):
        traces = [
            go.Bar(
                x=x,
                y=[r.eccentric_s for r in valid],
                name="down (lowering)",
                marker_color=COLORS["ecc"],
                hovertemplate="rep %{x}: %{y:.2f} s down<extra></extra>",
            ),
            go.Bar(
                x=x,
                y=[r.concentric_s for r in valid],
                name="up (lifting)",
                marker_color=COLORS["con"],
                hovertemplate="rep %{x}: %{y:.2f} s up<extra></extra>",
            ),
        ]
    else:
        traces = [
            go.Bar(
                x=x,
                y=[r.time_under_tension_s for r in valid],
                name="time under tension",
                marker_color=COLORS["con"],
                hovertemplate="rep %{x}: %{y:.2f} s<extra></extra>",
            )
        ]
    fig = go.Figure(traces)
    fig.update_layout(
        **_base_layout(
            height=260,
            barmode="stack",
            legend=len(traces) > 1,
            xaxis_title="rep",
            yaxis_title="seconds",
        )
    )
    return fig


def similarity_figure(reps: Sequence[RepRow]) -> go.Figure | None:
    """Each scored rep's similarity to the workout's reference (0–100; no-reps in their colour),
    the part that deviated most in the hover text; None when no rep was scored."""
    scored = [r for r in reps if r.similarity is not None]
    if not scored:
        return None
    fig = go.Figure(
        go.Bar(
            x=[r.index for r in scored],
            y=[r.similarity for r in scored],
            marker_color=[COLORS["rep"] if r.valid else COLORS["no_rep"] for r in scored],
            text=[f"{r.similarity:.0f}" for r in scored],
            textposition="outside",
            customdata=[[r.deviation or "–", "rep" if r.valid else "no-rep"] for r in scored],
            hovertemplate="%{customdata[1]} %{x}: %{y:.0f}/100, %{customdata[0]} off most<extra></extra>",
        )
    )
    fig.update_layout(
        **_base_layout(
            height=280,
            xaxis_title="rep",
            yaxis_title="similarity",
            yaxis=dict(range=[0, 110], gridcolor=COLORS["grid"]),
        )
    )
    return fig


# --- trends ---------------------------------------------------------------------------------------


def weekly_trends_figure(weeks: Sequence[WeekRow], titles: Titles = pretty_name) -> go.Figure:
    """Reps per week, one bar colour per workout (its title), stacked."""
    workouts = sorted({w.workout for w in weeks}, key=lambda w: titles(w).lower())
    traces = []
    for wk in workouts:
        rows = [w for w in weeks if w.workout == wk]
        name = titles(wk)
        traces.append(
            go.Bar(
                x=[w.week.isoformat() for w in rows],
                y=[w.reps for w in rows],
                name=name,
                marker_color=workout_color(wk, workouts),
                customdata=[[w.sessions, w.best_reps, round(w.active_s / 60, 1)] for w in rows],
                hovertemplate=(
                    "week of %{x}: %{y} reps<br>%{customdata[0]} sessions, best %{customdata[1]},"
                    " %{customdata[2]} min<extra>" + name + "</extra>"
                ),
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(
        **_base_layout(
            height=300,
            barmode="stack",
            legend=len(workouts) > 1,
            # ISO dates sort as text: weeks left to right whatever order the traces list them in
            xaxis=dict(type="category", categoryorder="category ascending", tickangle=-45),
            xaxis_title="week (from Monday)",
            yaxis_title="reps",
        )
    )
    return fig
