"""Page layouts: the app shell, the live page and the history pages (components only, no data access).

Phone first: one column at 390 px with big numbers and large touch targets, more columns on wider
screens (see assets/style.css). Builders take plain data from `hiitpi.store.queries` and return
Dash components, so they are easy to call from callbacks and tests.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from urllib.parse import urlencode

from dash import dcc, html

from hiitpi.recognition import AUTO
from hiitpi.referee.catalog import Choice
from hiitpi.store.players import PlayerRow
from hiitpi.store.queries import BestRow, LeaderRow, Page, SessionDetail, SessionRow
from hiitpi.web import figures
from hiitpi.web.params import MAX_PAGE, ascii_int

NAV = (
    ("/", "Live"),
    ("/history", "History"),
    ("/trends", "Trends"),
    ("/teach", "Teach"),
    ("/upload", "Upload"),
)


def shell() -> html.Div:
    return html.Div(
        className="app",
        children=[
            dcc.Location(id="url", refresh="callback-nav"),
            dcc.Store(id="me", storage_type="local"),
            dcc.Interval(id="health-tick", interval=5000),
            html.Div(id="health-banner", className="banner banner-warn hidden", role="alert"),
            html.Nav(
                className="nav",
                children=[html.Span("HIIT PI", className="brand")]
                + [
                    dcc.Link(label, href=href, className="nav-link", id=f"nav-{label.lower()}")
                    for href, label in NAV
                ],
            ),
            html.Main(id="page"),
        ],
    )


def _fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


def _fmt_dt(dt: datetime | None) -> str:
    return "–" if dt is None else dt.astimezone().strftime("%a %d %b %Y %H:%M")


def _stat(label: str, value_id: str, value: str = "–", extra: str = "") -> html.Div:
    return html.Div(
        className=f"stat {extra}".strip(),
        id=f"{value_id}-box",
        children=[
            html.Div(value, id=value_id, className="stat-value"),
            html.Div(label, className="stat-label"),
        ],
    )


# --- live -----------------------------------------------------------------------------------------


def auto_panel(workouts: Sequence[Choice]) -> html.Div:
    """Auto mode: what was recognised and how sure, and one button per workout to correct it
    (the page script shows the likeliest few, from the state's ``choices``)."""
    return html.Div(
        id="live-auto",
        className="auto hidden",
        children=[
            html.Div(
                "", id="live-auto-what", className="auto-what", role="status", **{"aria-live": "polite"}
            ),
            html.Div(
                className="auto-fix",
                children=[html.Span("Not right? Tap what you are doing:", className="auto-hint")]
                + [
                    html.Span(
                        html.Button(
                            c.label,
                            id={"type": "correct-btn", "workout": c.value},
                            className="btn btn-secondary",
                            n_clicks=0,
                        ),
                        id=f"correct-{c.value}",
                        className="hidden",
                    )
                    for c in workouts
                ],
            ),
        ],
    )


def live_page(
    players: Sequence[PlayerRow], choices: Sequence[Choice], *, default_workout: str | None, privacy: bool
) -> html.Div:
    player_opts = [{"label": p.name, "value": p.name} for p in players]
    workout_opts = [{"label": "Auto: just start moving (recognised)", "value": AUTO}] + [
        {"label": ("⏱ " if c.kind == "program" else "") + c.label, "value": c.value} for c in choices
    ]
    values = {AUTO} | {c.value for c in choices}
    return html.Div(
        id="live-root",
        className="live",
        children=[
            html.Div(id="live-degraded", className="banner banner-warn hidden", role="alert"),
            html.Div(id="live-training", className="banner banner-info hidden", role="status"),
            html.Section(
                className="card controls",
                children=[
                    html.Label("Player", htmlFor="player-pick", className="field-label"),
                    dcc.Dropdown(
                        id="player-pick",
                        options=player_opts,
                        placeholder="Pick a player",
                        clearable=False,
                        searchable=False,
                    ),
                    html.Div(
                        className="row",
                        children=[
                            dcc.Input(
                                id="new-player",
                                type="text",
                                placeholder="or a new name",
                                maxLength=10000,
                                debounce=False,
                                className="text-input",
                            ),
                            html.Button("Add", id="add-player", className="btn btn-secondary", n_clicks=0),
                        ],
                    ),
                    html.Label("Workout", htmlFor="workout-pick", className="field-label"),
                    dcc.Dropdown(
                        id="workout-pick",
                        options=workout_opts,
                        value=default_workout if default_workout in values else None,
                        placeholder="Pick a workout or a program",
                        clearable=False,
                        searchable=False,
                    ),
                    html.Div(
                        className="row buttons",
                        children=[
                            html.Button("Start", id="start-btn", className="btn btn-go", n_clicks=0),
                            html.Button("Stop", id="stop-btn", className="btn btn-stop", n_clicks=0),
                        ],
                    ),
                    html.Div(id="action-msg", className="msg", role="status", **{"aria-live": "polite"}),
                ],
            ),
            html.Section(
                className="card numbers",
                children=[
                    html.Div(id="live-who", className="who", children="No session running"),
                    html.Div(
                        className="program hidden",
                        id="live-program",
                        children=[
                            html.Span("–", id="live-program-phase", className="program-phase"),
                            html.Span("–", id="live-countdown", className="countdown"),
                            html.Span("", id="live-round", className="round"),
                        ],
                    ),
                    html.Div(
                        className="stats",
                        children=[
                            _stat("REPS", "live-reps", "0", "stat-main"),
                            _stat("PACE /min", "live-pace"),
                            _stat("TIME", "live-elapsed", "0:00"),
                            _stat("PHASE", "live-phase"),
                        ],
                    ),
                    auto_panel([c for c in choices if c.kind == "workout"]),
                    html.Div(id="live-norep", className="norep", role="status", **{"aria-live": "assertive"}),
                    html.Div(id="live-form", className="form-score", role="status"),
                    html.Div(
                        className="row small",
                        children=[
                            dcc.Checklist(
                                id="speak",
                                options=[{"label": " Speak counts", "value": "on"}],
                                value=[],
                                className="check",
                                persistence=True,
                                persistence_type="local",
                            ),
                            html.Span("", id="live-diag", className="diag"),
                        ],
                    ),
                ],
            ),
            html.Section(
                className="card video",
                children=[
                    html.Img(
                        id="live-video",
                        src="/video",
                        alt="camera view" if not privacy else "skeleton view",
                        className="video-img",
                    ),
                ],
            ),
            html.Section(
                className="card charts",
                children=[
                    dcc.Graph(
                        id="live-reps-graph",
                        figure=figures.live_reps_figure(),
                        config={"displayModeBar": False},
                    ),
                    dcc.Graph(
                        id="live-pose-graph",
                        figure=figures.live_pose_figure(),
                        config={"displayModeBar": False},
                    ),
                ],
            ),
        ],
    )


# --- history --------------------------------------------------------------------------------------


def history_page(players: Sequence[PlayerRow], workouts: Sequence[str], query: dict[str, str]) -> html.Div:
    return html.Div(
        className="history",
        children=[
            html.H1("History"),
            html.Section(
                className="card filters",
                children=[
                    dcc.Dropdown(
                        id="hist-player",
                        options=[{"label": p.name, "value": p.name} for p in players],
                        value=query.get("player") or None,
                        placeholder="All players",
                    ),
                    dcc.Dropdown(
                        id="hist-workout",
                        options=[{"label": w, "value": w} for w in workouts],
                        value=query.get("workout") or None,
                        placeholder="All workouts",
                    ),
                    html.Div(
                        className="row",
                        children=[
                            dcc.Input(
                                id="hist-from",
                                type="date",
                                value=query.get("from") or None,
                                className="text-input",
                                placeholder="from",
                            ),
                            dcc.Input(
                                id="hist-to",
                                type="date",
                                value=query.get("to") or None,
                                className="text-input",
                                placeholder="to",
                            ),
                        ],
                    ),
                    html.Div(
                        className="row small",
                        children=[
                            html.A(
                                "Export all (CSV)",
                                href="/export/all.csv",
                                className="btn btn-secondary",
                                id="export-all-csv",
                            ),
                            html.A(
                                "Export all (JSON)",
                                href="/export/all.json",
                                className="btn btn-secondary",
                                id="export-all-json",
                            ),
                        ],
                    ),
                ],
            ),
            dcc.Store(id="hist-page", data=ascii_int(query.get("page"), lo=1, hi=MAX_PAGE) or 1),
            html.Div(id="hist-chat"),
            html.Div(id="hist-results"),
            html.Div(
                className="row pager",
                children=[
                    html.Button("‹ Newer", id="hist-prev", className="btn btn-secondary", n_clicks=0),
                    html.Span("", id="hist-pageinfo"),
                    html.Button("Older ›", id="hist-next", className="btn btn-secondary", n_clicks=0),
                ],
            ),
        ],
    )


def sessions_list(page: Page) -> html.Div:
    if not page.items:
        return html.Div("No sessions match.", className="msg")
    return html.Div(
        className="session-list",
        children=[session_card(s) for s in page.items],
    )


def session_card(s: SessionRow) -> dcc.Link:
    what = s.program or s.workout
    status = "" if s.status == "done" else f" · {s.status}"
    if s.source == "video":
        status += " · from a video"
    return dcc.Link(
        href=f"/session/{s.id}",
        className="session-card",
        id={"type": "session-link", "id": s.id},
        children=[
            html.Div(
                className="sc-reps", children=[html.Span(str(s.reps), className="sc-num"), html.Span("reps")]
            ),
            html.Div(
                className="sc-main",
                children=[
                    html.Div(f"{s.player} · {what}", className="sc-title"),
                    html.Div(
                        f"{_fmt_dt(s.started_at)} · {_fmt_time(s.duration_s)}{status}", className="sc-sub"
                    ),
                    html.Div(f"{s.no_reps} no-reps" if s.no_reps else "", className="sc-sub"),
                ],
            ),
        ],
    )


def summary_block(text: str | None, kind: str | None, reason: str | None, status: str | None = None) -> list:
    if not text and not status:
        return [html.Div("No summary yet.", className="msg")]
    badge = kind or "writing…"
    children = [
        html.Div(
            className="row small",
            children=[
                html.Span(f"Coach · {badge}", className=f"badge badge-{kind or 'live'}", id="summary-kind")
            ],
        ),
        html.P(text or "…", id="summary-text", className="summary-text"),
    ]
    if reason and kind == "template":
        children.append(html.Div(f"Template used: {reason}", className="sc-sub"))
    return children


def session_page(
    d: SessionDetail, summary: list, chat: html.Section | None = None, video: html.Section | None = None
) -> html.Div:
    s = d.session
    title = s.program or s.workout
    pace = (s.reps * 60.0 / s.duration_s) if s.duration_s >= 1 else None
    interval_rows = []
    if len(d.intervals) > 1:
        interval_rows = [
            html.Table(
                className="table",
                children=[
                    html.Thead(
                        html.Tr(
                            [
                                html.Th("#"),
                                html.Th("workout"),
                                html.Th("round"),
                                html.Th("reps"),
                                html.Th("no-reps"),
                                html.Th("time"),
                            ]
                        )
                    ),
                    html.Tbody(
                        [
                            html.Tr(
                                [
                                    html.Td(i.index),
                                    html.Td(i.workout),
                                    html.Td(i.round or ""),
                                    html.Td(i.reps),
                                    html.Td(i.no_reps),
                                    html.Td(_fmt_time(i.duration_s)),
                                ]
                            )
                            for i in d.intervals
                        ]
                    ),
                ],
            )
        ]
    reasons: dict[str, int] = {}
    for r in d.reps:
        if not r.valid:
            reasons[r.reason or "no-rep"] = reasons.get(r.reason or "no-rep", 0) + 1
    return html.Div(
        className="session",
        id="session-root",
        children=[
            html.H1(f"{s.player} · {title}"),
            html.Div(
                f"{_fmt_dt(s.started_at)} · {s.status}" + (" · from a video" if s.source == "video" else ""),
                className="sc-sub",
                id="sess-when",
            ),
            html.Section(
                className="card numbers",
                children=[
                    html.Div(
                        className="stats",
                        children=[
                            _stat("REPS", "sess-reps", str(s.reps), "stat-main"),
                            _stat("NO-REPS", "sess-noreps", str(s.no_reps)),
                            _stat("TIME", "sess-time", _fmt_time(s.duration_s)),
                            _stat("PACE /min", "sess-pace", "–" if pace is None else f"{pace:.1f}"),
                        ],
                    ),
                    html.Ul(
                        [
                            html.Li(f"{n} × {why}")
                            for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])
                        ],
                        className="reasons",
                    ),
                ],
            ),
            video if video is not None else html.Div(),
            html.Section(className="card", id="summary-box", children=summary),
            chat if chat is not None else html.Div(),
            html.Section(
                className="card charts",
                children=[
                    dcc.Graph(
                        id="sess-timeline",
                        figure=figures.rep_timeline_figure(d.reps, d.intervals),
                        config={"displayModeBar": False},
                    ),
                    dcc.Graph(
                        id="sess-tut", figure=figures.tut_figure(d.reps), config={"displayModeBar": False}
                    ),
                    *_similarity_graph(d),
                ],
            ),
            html.Section(className="card", children=interval_rows) if interval_rows else html.Div(),
            html.Div(
                className="row small",
                children=[
                    html.A(
                        "Export CSV",
                        href=f"/export/session/{s.id}.csv",
                        className="btn btn-secondary",
                        id="export-csv",
                    ),
                    html.A(
                        "Export JSON",
                        href=f"/export/session/{s.id}.json",
                        className="btn btn-secondary",
                        id="export-json",
                    ),
                    dcc.Link("‹ History", href="/history", className="btn btn-secondary"),
                ],
            ),
        ],
    )


def _similarity_graph(d: SessionDetail) -> list:
    """The per-rep similarity chart, when the workout had a reference (else nothing)."""
    fig = figures.similarity_figure(d.reps)
    return (
        [] if fig is None else [dcc.Graph(id="sess-similarity", figure=fig, config={"displayModeBar": False})]
    )


def not_found(message: str) -> html.Div:
    return html.Div(
        className="card",
        children=[html.H1("Not found"), html.P(message), dcc.Link("Back to history", href="/history")],
    )


# --- trends ---------------------------------------------------------------------------------------


def trends_page(players: Sequence[PlayerRow], workouts: Sequence[str], query: dict[str, str]) -> html.Div:
    player = query.get("player") or (players[0].name if players else None)
    workout = query.get("workout") or (workouts[0] if workouts else None)
    return html.Div(
        className="trends",
        children=[
            html.H1("Trends"),
            html.Section(
                className="card filters",
                children=[
                    dcc.Dropdown(
                        id="trend-player",
                        options=[{"label": p.name, "value": p.name} for p in players],
                        value=player,
                        placeholder="All players",
                    ),
                    dcc.Dropdown(
                        id="trend-workout",
                        options=[{"label": w, "value": w} for w in workouts],
                        value=workout,
                        placeholder="Workout (leaderboard)",
                        clearable=False,
                    ),
                ],
            ),
            html.Section(
                className="card charts",
                children=[dcc.Graph(id="trend-weekly", config={"displayModeBar": False})],
            ),
            html.Section(className="card", children=[html.H2("Personal bests"), html.Div(id="trend-bests")]),
            html.Section(className="card", children=[html.H2("Leaderboard"), html.Div(id="trend-leaders")]),
        ],
    )


def bests_table(rows: Sequence[BestRow]) -> html.Div:
    if not rows:
        return html.Div("No sessions yet.", className="msg")
    return html.Table(
        className="table",
        children=[
            html.Thead(
                html.Tr([html.Th("workout"), html.Th("most reps"), html.Th("best pace"), html.Th("sessions")])
            ),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(b.workout),
                            html.Td(dcc.Link(str(b.best_reps), href=f"/session/{b.best_reps_session}")),
                            html.Td(
                                "–"
                                if b.best_pace_rpm is None
                                else dcc.Link(
                                    f"{b.best_pace_rpm:.1f}/min", href=f"/session/{b.best_pace_session}"
                                )
                            ),
                            html.Td(b.sessions),
                        ]
                    )
                    for b in rows
                ]
            ),
        ],
    )


def leaders_table(rows: Sequence[LeaderRow], metric: str = "reps") -> html.Div:
    if not rows:
        return html.Div("Nobody has done this workout yet.", className="msg")
    return html.Table(
        className="table",
        children=[
            html.Thead(html.Tr([html.Th("#"), html.Th("player"), html.Th(metric), html.Th("when")])),
            html.Tbody(
                [
                    html.Tr(
                        [
                            html.Td(r.rank),
                            html.Td(r.player),
                            html.Td(dcc.Link(f"{r.value:g}", href=f"/session/{r.session_id}")),
                            html.Td(_fmt_dt(r.at)),
                        ]
                    )
                    for r in rows
                ]
            ),
        ],
    )


def history_query(player: str | None, workout: str | None, date_from: str | None, date_to: str | None) -> str:
    q = {
        k: v for k, v in (("player", player), ("workout", workout), ("from", date_from), ("to", date_to)) if v
    }
    return "?" + urlencode(q) if q else ""
