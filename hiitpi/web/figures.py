"""Plotly figures for the dashboard: pure functions of plain data, tested directly.

Nothing here touches Redis, the database or Dash callbacks. The live charts are built once
(`live_reps_figure`, `live_pose_figure`) and then drawn on by the page's script (Plotly's own
restyle/extendTraces: the session so far, then each new point), never sent again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import plotly.graph_objects as go

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


def _base_layout(title: str | None = None, *, height: int = 260, **extra: Any) -> dict:
    layout = dict(
        template="plotly_dark",
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        font=dict(size=14, color=COLORS["text"]),
        margin=dict(l=44, r=12, t=36 if title else 8, b=40),
        height=height,
        showlegend=False,
        uirevision="keep",  # zoom/pan survive updates
        xaxis=dict(gridcolor=COLORS["grid"], zeroline=False),
        yaxis=dict(gridcolor=COLORS["grid"], zeroline=False, rangemode="tozero"),
    )
    if title:
        layout["title"] = dict(text=title, x=0.02, font=dict(size=15))
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
    """Reps over time (elapsed s → count) as a step line; trace 0, grown by extendData."""
    pts = list(points)
    fig = go.Figure(
        go.Scatter(
            x=[p[0] for p in pts],
            y=[p[1] for p in pts],
            mode="lines+markers",
            line=dict(shape="hv", color=COLORS["rep"], width=3),
            marker=dict(size=7),
            name="reps",
            hovertemplate="%{x:.1f} s: %{y} reps<extra></extra>",
        )
    )
    fig.update_layout(
        **_base_layout(
            "Reps", xaxis_title="seconds", yaxis=dict(rangemode="tozero", gridcolor=COLORS["grid"])
        )
    )
    return fig


def live_pose_figure(points: Iterable[tuple[float, float | None, float | None]] = ()) -> go.Figure:
    """Pose score (trace 0, left axis 0..1) and inference ms (trace 1, right axis) over elapsed s."""
    pts = list(points)
    x = [p[0] for p in pts]
    fig = go.Figure(
        [
            go.Scatter(
                x=x,
                y=[p[1] for p in pts],
                mode="lines",
                line=dict(color=COLORS["score"], width=2),
                name="pose score",
                hovertemplate="score %{y:.2f}<extra></extra>",
            ),
            go.Scatter(
                x=x,
                y=[p[2] for p in pts],
                mode="lines",
                line=dict(color=COLORS["infer"], width=1.5),
                name="inference ms",
                yaxis="y2",
                hovertemplate="%{y:.1f} ms<extra></extra>",
            ),
        ]
    )
    fig.update_layout(
        **_base_layout(
            "Pose score / inference ms",
            showlegend=True,
            legend=dict(orientation="h", y=-0.25, x=0),
            yaxis=dict(range=[0, 1], gridcolor=COLORS["grid"], title="score"),
            yaxis2=dict(overlaying="y", side="right", rangemode="tozero", showgrid=False, title="ms"),
            xaxis_title="seconds",
        )
    )
    return fig


# --- one session ----------------------------------------------------------------------------------


def rep_timeline_figure(reps: Sequence[RepRow], intervals: Sequence[IntervalRow] = ()) -> go.Figure:
    """Running count against seconds into the session; no-reps marked with their reason.

    With a program, each interval is a shaded band labelled with its workout and round.
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
            customdata=[[None, None]] + [[r.workout, r.index] for r in valid],
            hovertemplate="%{x:.1f} s — rep %{y}<extra>%{customdata[0]}</extra>",
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
    fig = go.Figure(traces)
    shapes, annotations = [], []
    if len(intervals) > 1:
        # intervals carry wall-clock times; the first one starts with the session
        workouts = list(dict.fromkeys(i.workout for i in intervals))
        base = intervals[0].started_at
        for iv in intervals:
            x0 = (iv.started_at - base).total_seconds()
            x1 = x0 + iv.duration_s
            shapes.append(
                dict(
                    type="rect",
                    xref="x",
                    yref="paper",
                    x0=x0,
                    x1=x1,
                    y0=0,
                    y1=1,
                    fillcolor=workout_color(iv.workout, workouts),
                    opacity=0.10,
                    line_width=0,
                    layer="below",
                )
            )
            label = iv.workout + (f" r{iv.round}" if iv.round else "")
            annotations.append(
                dict(
                    x=(x0 + x1) / 2,
                    y=1.0,
                    xref="x",
                    yref="paper",
                    text=label,
                    showarrow=False,
                    font=dict(size=11),
                    yanchor="bottom",
                )
            )
    fig.update_layout(
        **_base_layout(
            "Rep timeline",
            height=300,
            xaxis_title="seconds into the session",
            yaxis_title="reps",
            shapes=shapes,
            annotations=annotations,
        )
    )
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
                name="lowering (eccentric)",
                marker_color=COLORS["ecc"],
                hovertemplate="rep %{x}: %{y:.2f} s down<extra></extra>",
            ),
            go.Bar(
                x=x,
                y=[r.concentric_s for r in valid],
                name="lifting (concentric)",
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
            "Time under tension per rep",
            height=280,
            barmode="stack",
            showlegend=len(traces) > 1,
            legend=dict(orientation="h", y=-0.3, x=0),
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
            "Form: each rep against the reference",
            height=280,
            xaxis_title="rep",
            yaxis_title="similarity",
            yaxis=dict(range=[0, 110], gridcolor=COLORS["grid"]),
        )
    )
    return fig


# --- trends ---------------------------------------------------------------------------------------


def weekly_trends_figure(weeks: Sequence[WeekRow]) -> go.Figure:
    """Reps per week, one bar colour per workout, stacked."""
    workouts = sorted({w.workout for w in weeks})
    traces = []
    for wk in workouts:
        rows = [w for w in weeks if w.workout == wk]
        traces.append(
            go.Bar(
                x=[w.week.isoformat() for w in rows],
                y=[w.reps for w in rows],
                name=wk,
                marker_color=workout_color(wk, workouts),
                customdata=[[w.sessions, w.best_reps, round(w.active_s / 60, 1)] for w in rows],
                hovertemplate=(
                    "week of %{x}: %{y} reps<br>%{customdata[0]} sessions, best %{customdata[1]},"
                    " %{customdata[2]} min<extra>" + wk + "</extra>"
                ),
            )
        )
    fig = go.Figure(traces)
    fig.update_layout(
        **_base_layout(
            "Reps per week",
            height=300,
            barmode="stack",
            showlegend=len(workouts) > 1,
            legend=dict(orientation="h", y=-0.35, x=0),
            # ISO dates sort as text: weeks left to right whatever order the traces list them in
            xaxis=dict(
                type="category", categoryorder="category ascending", gridcolor=COLORS["grid"], tickangle=-45
            ),
            yaxis_title="reps per week (from Monday)",
        )
    )
    return fig
