"""Page layouts: the app shell, the live page and the history pages (components only, no data access).

Phone first: one column at 390 px with big numbers and large touch targets, more columns on wider
screens (see assets/style.css). Builders take plain data from `hiitpi.store.queries` (and a
``title`` function: the catalogue's titles, never rules names) and return Dash components, so
they are easy to call from callbacks and tests.

Where others' parts go: a page is one entry of `NAV` and one route in `callbacks.route`; a card
on the session page is one entry of the ``cards`` the session page is given (the coach chat is
one; see `callbacks.SESSION_CARDS`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from urllib.parse import urlencode

from dash import dcc, html

from hiitpi.recognition import AUTO
from hiitpi.referee.catalog import Choice, pretty_name
from hiitpi.store.players import PlayerRow
from hiitpi.store.queries import (
    MIN_PACE_S,
    BestRow,
    BoardRow,
    IntervalRow,
    Page,
    RepRow,
    SessionDetail,
    SessionRow,
    Streaks,
)
from hiitpi.web import figures
from hiitpi.web.params import MAX_PAGE, ascii_int

#: The navigation: (path, label). A new page is one entry here and one route in the callbacks.
NAV = [
    ("/", "Live"),
    ("/history", "History"),
    ("/trends", "Trends"),
    ("/teach", "Teach"),
    ("/upload", "Upload"),
]

Title = Callable[[str], str]

#: The page's names for the counting conventions.
COUNTING_LABELS = {"judge": "Full reps only", "attempts": "Every attempt"}
#: What the big number is called under each convention, and the number beside it.
MAIN_LABEL = {"judge": "REPS", "attempts": "ATTEMPTS"}
SECOND_LABEL = {"judge": "ATTEMPTS", "attempts": "FULL REPS"}


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
                    dcc.Link(
                        label, href=href, className="nav-link", id=f"nav-{label.lower().replace(' ', '-')}"
                    )
                    for href, label in NAV
                ],
            ),
            html.Main(id="page"),
        ],
    )


def fmt_time(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    s = round(seconds)
    return f"{s // 60}:{s % 60:02d}"


def fmt_dt(dt: datetime | None) -> str:
    return "–" if dt is None else dt.astimezone().strftime("%a %d %b %Y %H:%M")


def fmt_pace(rpm: float | None) -> str:
    return "–" if rpm is None else f"{rpm:.1f}"


def _stat(
    label: str, value_id: str, value: str = "–", extra: str = "", label_id: str | None = None
) -> html.Div:
    return html.Div(
        className=f"stat {extra}".strip(),
        id=f"{value_id}-box",
        children=[
            html.Div(value, id=value_id, className="stat-value"),
            html.Div(label, className="stat-label", id=label_id)
            if label_id
            else html.Div(label, className="stat-label"),
        ],
    )


def plural(n: int, word: str) -> str:
    """``1 session``, ``2 sessions``."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def session_title(s: SessionRow, title: Title = pretty_name) -> str:
    """A session's name: the one a person gave it, else its program's or workout's title."""
    return s.name or title(s.what)


def _label(text: str, for_id: str) -> html.Label:
    return html.Label(text, htmlFor=for_id, className="field-label")


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
    players: Sequence[PlayerRow],
    choices: Sequence[Choice],
    *,
    default_workout: str | None,
    privacy: bool,
    counting: str = "judge",
    pace_window_s: float = 20.0,
) -> html.Div:
    """The live page. Idle: the last session's result, then the controls (player, workout,
    counting, Start). While a session runs (the script puts ``running`` on the root): the workout
    screen — count, interval countdown, phase, last no-rep — with one Stop button, the video below,
    then the charts of the session so far."""
    player_opts = [{"label": p.name, "value": p.name} for p in players]
    workout_opts = [{"label": "Auto: just start moving (recognised)", "value": AUTO}] + [
        {"label": ("⏱ " if c.kind == "program" else "") + c.label, "value": c.value} for c in choices
    ]
    values = {AUTO} | {c.value for c in choices}
    window = f"{pace_window_s:g}"
    return html.Div(
        id="live-root",
        className="live idle",
        **{"data-pace-window": window},
        children=[
            html.Div(id="live-degraded", className="banner banner-warn hidden", role="alert"),
            html.Div(id="live-training", className="banner banner-info hidden", role="status"),
            html.Div(id="action-msg", className="msg", role="status", **{"aria-live": "polite"}),
            _result_card(),
            html.Section(
                className="card controls",
                id="live-controls",
                children=[
                    html.H2("Start a session"),
                    _label("Player", "player-pick"),
                    dcc.Dropdown(
                        id="player-pick",
                        options=player_opts,
                        placeholder="Pick a player",
                        clearable=False,
                        searchable=False,
                        persistence=True,
                        persistence_type="local",
                    ),
                    html.Div(
                        className="row",
                        children=[
                            html.Label("New player", htmlFor="new-player", className="sr-only"),
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
                    _label("Workout", "workout-pick"),
                    dcc.Dropdown(
                        id="workout-pick",
                        options=workout_opts,
                        value=default_workout if default_workout in values else None,
                        placeholder="Pick a workout or a program",
                        clearable=False,
                        searchable=False,
                        persistence=True,
                        persistence_type="local",
                    ),
                    html.Div("Count", className="field-label"),
                    dcc.RadioItems(
                        id="counting-pick",
                        options=[{"label": label, "value": v} for v, label in COUNTING_LABELS.items()],
                        value=counting if counting in COUNTING_LABELS else "judge",
                        className="segmented",
                        inline=True,
                        persistence=True,
                        persistence_type="local",
                    ),
                    html.Div(
                        "Full reps only: a short rep is a no-rep, with the reason. Every attempt: short "
                        "reps count too, and are marked.",
                        className="sc-sub",
                    ),
                    html.Div(
                        className="row buttons",
                        children=[
                            html.Button(
                                "Start", id="start-btn", className="btn btn-go", n_clicks=0, disabled=True
                            ),
                        ],
                    ),
                    # why Start is greyed, in words (a phone shows no tooltip)
                    html.Div("", id="start-hint", className="sc-sub"),
                ],
            ),
            _workout_card(window, auto_panel([c for c in choices if c.kind == "workout"])),
            html.Section(
                className="card video",
                children=[
                    html.Div(
                        "Privacy mode is on: phones see the skeleton only, never the camera picture.",
                        id="privacy-note",
                        className="privacy",
                    )
                    if privacy
                    else None,
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
                id="live-charts",
                children=[
                    html.H2("Reps so far"),
                    dcc.Graph(
                        id="live-reps-graph",
                        figure=figures.live_reps_figure(),
                        config={"displayModeBar": False},
                    ),
                    html.H2("Time per attempt"),
                    dcc.Graph(
                        id="live-time-graph",
                        figure=figures.live_rep_time_figure(),
                        config={"displayModeBar": False},
                    ),
                ],
            ),
            html.Div(
                className="row small settings",
                children=[
                    dcc.Checklist(
                        id="sound",
                        options=[
                            {"label": " Beeps", "value": "beeps"},
                            {"label": " Spoken cues", "value": "speak"},
                        ],
                        value=["beeps"],
                        className="check",
                        inline=True,
                        persistence=True,
                        persistence_type="local",
                    ),
                    html.Span("", id="live-diag", className="diag"),
                ],
            ),
        ],
    )


def _workout_card(window: str, auto: html.Div) -> html.Section:
    """The workout screen: who, the program's interval (countdown, round, what comes next), the
    count and the numbers beside it, auto mode's recognised workout and its correction buttons
    (``auto``), the last no-rep's reason, Stop."""
    return html.Section(
        className="card numbers workout",
        id="live-workout",
        children=[
            html.Div(id="live-who", className="who", children="No session running"),
            # how the camera is set up, when it matters for the count: on its side, or too slow
            html.Div(id="live-camera", className="camera-note hidden", role="status"),
            html.Div(
                className="program hidden",
                id="live-program",
                children=[
                    html.Div(
                        className="program-top",
                        children=[
                            html.Span("–", id="live-program-phase", className="program-phase"),
                            html.Span("", id="live-round", className="round"),
                        ],
                    ),
                    html.Div("–", id="live-countdown", className="countdown", role="timer"),
                    html.Div("", id="live-next", className="next"),
                ],
            ),
            html.Div(
                className="stats",
                children=[
                    _stat("REPS", "live-reps", "0", "stat-main", label_id="live-reps-label"),
                    _stat("ATTEMPTS", "live-second", "0", label_id="live-second-label"),
                    _stat(f"PACE /min · last\u00a0{window}\u00a0s", "live-pace", "0.0"),
                    _stat("AVG /min", "live-avg"),
                    _stat("TIME", "live-elapsed", "0:00"),
                    _stat("PHASE", "live-phase"),
                    _stat("THIS INTERVAL", "live-interval-reps", "–", "stat-interval"),
                ],
            ),
            auto,
            html.Div(id="live-norep", className="norep", role="status", **{"aria-live": "assertive"}),
            html.Div(id="live-form", className="form-score", role="status"),
            html.Div(
                className="row buttons stop-row",
                children=[html.Button("Stop", id="stop-btn", className="btn btn-stop", n_clicks=0)],
            ),
        ],
    )


def _result_card() -> html.Section:
    """The session that just ended (filled in by the page's script from the live state)."""
    return html.Section(
        className="card result hidden",
        id="live-result",
        children=[
            html.Div("Last session", className="field-label"),
            html.Div("", id="live-result-title", className="result-title"),
            html.Div(
                className="result-row",
                children=[
                    html.Div(
                        className="result-main",
                        children=[
                            html.Span("0", id="live-result-reps", className="sc-num"),
                            html.Span("reps", id="live-result-label", className="stat-label"),
                        ],
                    ),
                    html.Div("", id="live-result-sub", className="result-sub"),
                ],
            ),
            html.A(
                "Open the session ›", id="live-result-link", href="/history", className="btn btn-secondary"
            ),
        ],
    )


# --- history --------------------------------------------------------------------------------------


def what_options(workouts: Sequence[str], programs: Sequence[str], title: Title) -> list[dict]:
    """The history and trends pickers: workouts by title, then programs (⏱) by title."""
    out = [{"label": title(w), "value": w} for w in sorted(workouts, key=lambda w: title(w).lower())]
    out += [{"label": "⏱ " + title(p), "value": p} for p in sorted(programs, key=lambda p: title(p).lower())]
    return out


def history_page(
    players: Sequence[PlayerRow],
    workouts: Sequence[str],
    query: dict[str, str],
    *,
    programs: Sequence[str] = (),
    title: Title = pretty_name,
) -> html.Div:
    what = query.get("workout") or query.get("program") or None
    return html.Div(
        className="history",
        children=[
            html.H1("History"),
            html.Section(
                className="card filters",
                children=[
                    _label("Player", "hist-player"),
                    dcc.Dropdown(
                        id="hist-player",
                        options=[{"label": p.name, "value": p.name} for p in players],
                        value=query.get("player") or None,
                        placeholder="All players",
                    ),
                    _label("Workout or program", "hist-workout"),
                    dcc.Dropdown(
                        id="hist-workout",
                        options=what_options(workouts, programs, title),
                        value=what,
                        placeholder="All workouts and programs",
                    ),
                    html.Div(
                        className="row dates",
                        children=[
                            _date_field("From", "hist-from", query.get("from")),
                            _date_field("To", "hist-to", query.get("to")),
                        ],
                    ),
                    html.Div(
                        className="row small",
                        children=[
                            html.Span("Export for a spreadsheet:", className="sc-sub"),
                            html.A(
                                "Sessions (CSV)",
                                href="/export/sessions.csv",
                                className="btn btn-secondary btn-small",
                                id="export-sessions-csv",
                            ),
                            html.A(
                                "Reps (CSV)",
                                href="/export/reps.csv",
                                className="btn btn-secondary btn-small",
                                id="export-reps-csv",
                            ),
                            html.A(
                                "Everything (JSON)",
                                href="/export/all.json",
                                className="btn btn-secondary btn-small",
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
                    html.Button(
                        "‹ Newer", id="hist-prev", className="btn btn-secondary", n_clicks=0, disabled=True
                    ),
                    html.Span("", id="hist-pageinfo"),
                    html.Button(
                        "Older ›", id="hist-next", className="btn btn-secondary", n_clicks=0, disabled=True
                    ),
                ],
            ),
        ],
    )


def _date_field(label: str, field_id: str, value: str | None) -> html.Div:
    return html.Div(
        className="date-field",
        children=[
            _label(label, field_id),
            dcc.Input(id=field_id, type="date", value=value or None, className="text-input"),
        ],
    )


def sessions_list(page: Page, title: Title = pretty_name) -> html.Div:
    if not page.items:
        return html.Div("No sessions match.", className="msg")
    return html.Div(
        className="session-list",
        children=[session_card(s, title) for s in page.items],
    )


def count_label(s: SessionRow) -> str:
    """What the session's count is: reps (judged) or attempts (every attempt counted)."""
    return "attempts" if s.counting == "attempts" else "reps"


def session_card(s: SessionRow, title: Title = pretty_name) -> dcc.Link:
    status = {"done": "", "open": " · recording", "recovered": " · recovered after a restart"}.get(
        s.status, f" · {s.status}"
    )
    if s.source == "video":
        status += " · from a video"
    kind = " · ⏱ " + title(s.program) if s.program and s.name else ""
    facts = [fmt_time(s.duration_s)]
    if s.avg_pace_rpm is not None:
        facts.append(f"avg {s.avg_pace_rpm:.1f}/min")
    if s.no_reps:
        facts.append(f"{s.no_reps} no-reps")
    if s.counting == "attempts":
        facts.append(f"{s.full_reps} full")
    return dcc.Link(
        href=f"/session/{s.id}",
        className="session-card",
        id={"type": "session-link", "id": s.id},
        children=[
            html.Div(
                className="sc-reps",
                children=[html.Span(str(s.reps), className="sc-num"), html.Span(count_label(s))],
            ),
            html.Div(
                className="sc-main",
                children=[
                    html.Div(
                        [
                            ("⏱ " if s.program and not s.name else ""),
                            f"{s.player} · {session_title(s, title)}",
                        ],
                        className="sc-title",
                    ),
                    html.Div(f"#{s.id} · {fmt_dt(s.started_at)}{status}{kind}", className="sc-sub"),
                    html.Div(" · ".join(facts), className="sc-sub"),
                ],
            ),
        ],
    )


def summary_block(
    text: str | None,
    kind: str | None,
    reason: str | None,
    status: str | None = None,
    *,
    can_request: bool = False,
) -> list:
    """The coach's summary: its text and kind, why the template was written (in plain words), or
    — with none yet — a way to ask for one."""
    from hiitpi.coach.explain import explain

    if not text and not status:
        out = [html.H2("Coach"), html.Div("No summary yet.", className="msg", id="summary-none")]
        if can_request:
            out.append(
                html.Button(
                    "Write the summary", id="summary-request", className="btn btn-secondary", n_clicks=0
                )
            )
        else:
            out.append(html.Div("The coach is off on this device ([coach] enabled).", className="sc-sub"))
        out.append(html.Div("", id="summary-msg", className="msg"))
        return out
    badge = {"model": "the coach model", "template": "from your numbers"}.get(kind or "", "writing…")
    children = [
        html.Div(
            className="row small chat-head",
            children=[
                html.H2("Coach"),
                html.Span(f"Coach · {badge}", className=f"badge badge-{kind or 'live'}", id="summary-kind"),
            ],
        ),
        html.P(text or "…", id="summary-text", className="summary-text"),
    ]
    if reason and kind == "template":
        children.append(html.Div(explain(reason), className="sc-sub", id="summary-reason", title=reason))
    return children


def _table(head: Sequence[str], rows: Sequence[Sequence], **kw) -> html.Table:
    return html.Table(
        className="table",
        children=[
            html.Thead(html.Tr([html.Th(h) for h in head])),
            html.Tbody([html.Tr([html.Td(c) for c in r]) for r in rows]),
        ],
        **kw,
    )


def comparison(s: SessionRow, prev: SessionRow | None, title: Title = pretty_name) -> html.Div:
    """This session against the same player's previous one of the same workout or program."""
    if prev is None:
        return html.Div(
            f"The first recorded {title(s.what)} session for {s.player}.",
            className="sc-sub",
            id="sess-compare",
        )

    def delta(a: float | None, b: float | None, fmt: str, unit: str) -> str:
        if a is None or b is None:
            return "–"
        d = a - b
        sign = "+" if d > 0 else "−" if d < 0 else "±"
        return f"{sign}{format(abs(d), fmt)}{unit}"

    rows = [
        ("reps", str(s.reps), str(prev.reps), delta(s.reps, prev.reps, "d", "")),
        ("no-reps", str(s.no_reps), str(prev.no_reps), delta(s.no_reps, prev.no_reps, "d", "")),
        (
            "avg pace /min",
            fmt_pace(s.avg_pace_rpm),
            fmt_pace(prev.avg_pace_rpm),
            delta(s.avg_pace_rpm, prev.avg_pace_rpm, ".1f", ""),
        ),
        (
            "time",
            fmt_time(s.duration_s),
            fmt_time(prev.duration_s),
            delta(s.duration_s, prev.duration_s, ".0f", " s"),
        ),
    ]
    return html.Div(
        id="sess-compare",
        children=[
            html.Div(
                [
                    "Against the previous session, ",
                    dcc.Link(f"#{prev.id} · {fmt_dt(prev.started_at)}", href=f"/session/{prev.id}"),
                ],
                className="sc-sub",
            ),
            _table(("", "this", "previous", "change"), rows, id="sess-compare-table"),
        ],
    )


def rep_table(
    reps: Sequence[RepRow], intervals: Sequence[IntervalRow], title: Title = pretty_name
) -> html.Details:
    """Every attempt of the session: counted reps numbered, no-reps with their reason."""
    program = len(intervals) > 1
    rounds = {i.index: i.round for i in intervals}
    head = ["#", "result", "at", "time s", "down s", "up s", "range"]
    if program:
        head[2:2] = ["workout", "round"]
    rows = []
    n = 0
    for r in reps:
        n += r.valid
        result = (f"rep {n}" if r.full else f"rep {n} (partial)") if r.valid else f"no-rep: {r.reason or '–'}"
        row = [
            str(r.index),
            result,
            fmt_time(r.at_s),
            f"{r.duration_s:.1f}",
            "–" if r.eccentric_s is None else f"{r.eccentric_s:.1f}",
            "–" if r.concentric_s is None else f"{r.concentric_s:.1f}",
            "–" if r.rom is None else f"{round(r.rom * 100)} %",
        ]
        if program:
            row[2:2] = [title(r.workout), str(rounds.get(r.interval_index) or "")]
        rows.append(row)
    body = (
        _table(head, rows, id="sess-reps-table")
        if rows
        else html.Div("No attempts recorded.", className="msg")
    )
    return html.Details(
        className="card",
        id="sess-reps",
        open=len(rows) <= 30,
        children=[
            html.Summary(html.H2(f"Every attempt ({len(rows)})", className="inline")),
            html.Div(body, className="scroll"),
        ],
    )


def session_page(
    d: SessionDetail,
    summary: list,
    chat: html.Section | None = None,
    *,
    title: Title = pretty_name,
    previous: SessionRow | None = None,
    cards: Sequence = (),
) -> html.Div:
    """One session: its totals, against the previous one, the coach, ``cards`` (the chat and
    whatever else a part adds), the charts, the intervals, every attempt, export, rename, delete."""
    from hiitpi.store.export import work_seconds

    s = d.session
    counting = s.counting or "judge"
    second = s.attempts if counting == "judge" else s.full_reps
    interval_rows = []
    if len(d.intervals) > 1:
        interval_rows = [
            html.H2("Intervals"),
            html.Div(
                _table(
                    ("#", "workout", "round", "reps", "no-reps", "work", "pace /min"),
                    [
                        (
                            i.index,
                            title(i.workout),
                            i.round or "",
                            i.reps,
                            i.no_reps,
                            fmt_time(i.active_s),
                            fmt_pace(None if i.active_s < 5 else i.reps * 60.0 / i.active_s),
                        )
                        for i in d.intervals
                    ],
                    id="sess-intervals",
                ),
                className="scroll",
            ),
        ]
    reasons: dict[str, int] = {}
    for r in d.reps:
        if not r.valid:
            reasons[r.reason or "no-rep"] = reasons.get(r.reason or "no-rep", 0) + 1
    status = {"done": "", "open": " · still recording", "recovered": " · recovered after a restart"}.get(
        s.status, f" · {s.status}"
    )
    kind = f" · ⏱ {title(s.program)}" if s.program else f" · {title(s.workout)}"
    work = work_seconds(d)
    return html.Div(
        className="session",
        id="session-root",
        children=[
            html.H1(session_title(s, title), id="sess-title"),
            html.Div(
                f"#{s.id} · {s.player}{kind} · {fmt_dt(s.started_at)}{status}"
                + (" · from a video" if s.source == "video" else ""),
                className="sc-sub",
                id="sess-sub",
            ),
            html.Section(
                className="card numbers",
                children=[
                    html.Div(
                        className="stats",
                        children=[
                            _stat(MAIN_LABEL[counting], "sess-reps", str(s.reps), "stat-main"),
                            _stat(SECOND_LABEL[counting], "sess-second", str(second)),
                            _stat("NO-REPS", "sess-noreps", str(s.no_reps)),
                            _stat("TIME", "sess-time", fmt_time(s.duration_s)),
                            _stat("AVG PACE /min", "sess-pace", fmt_pace(s.avg_pace_rpm)),
                            _stat("WORK", "sess-work", fmt_time(work)) if s.program else None,
                        ],
                    ),
                    html.Div(
                        f"Counted: {COUNTING_LABELS[counting].lower()}. Average pace: counted reps per "
                        "minute of the whole session.",
                        className="sc-sub",
                    ),
                    html.Ul(
                        [
                            html.Li(f"{n} × {why}")
                            for why, n in sorted(reasons.items(), key=lambda kv: -kv[1])
                        ],
                        className="reasons",
                    ),
                    comparison(s, previous, title),
                ],
            ),
            html.Section(className="card", id="summary-box", children=summary),
            chat if chat is not None else None,
            *cards,
            html.Section(
                className="card charts",
                children=[
                    html.H2("Reps over the session"),
                    dcc.Graph(
                        id="sess-timeline",
                        figure=figures.rep_timeline_figure(d.reps, d.intervals, title),
                        config={"displayModeBar": False},
                    ),
                    html.H2("Time under tension per rep"),
                    dcc.Graph(
                        id="sess-tut", figure=figures.tut_figure(d.reps), config={"displayModeBar": False}
                    ),
                    *_similarity_graph(d),
                ],
            ),
            html.Section(className="card", children=interval_rows) if interval_rows else None,
            rep_table(d.reps, d.intervals, title),
            html.Section(
                className="card",
                children=[
                    html.H2("Export"),
                    html.Div(
                        className="row small",
                        children=[
                            html.A(
                                "Reps (CSV)",
                                href=f"/export/reps.csv?session={s.id}",
                                className="btn btn-secondary btn-small",
                                id="export-csv",
                            ),
                            html.A(
                                "Totals (CSV)",
                                href=f"/export/sessions.csv?session={s.id}",
                                className="btn btn-secondary btn-small",
                                id="export-session-csv",
                            ),
                            html.A(
                                "JSON",
                                href=f"/export/session/{s.id}.json",
                                className="btn btn-secondary btn-small",
                                id="export-json",
                            ),
                        ],
                    ),
                    html.H2("Name or delete"),
                    html.Div(
                        className="row",
                        children=[
                            html.Label("Session name", htmlFor="sess-name", className="sr-only"),
                            dcc.Input(
                                id="sess-name",
                                type="text",
                                value=s.name or "",
                                placeholder=title(s.what),
                                maxLength=200,
                                className="text-input",
                            ),
                            html.Button(
                                "Rename", id="sess-rename", className="btn btn-secondary", n_clicks=0
                            ),
                        ],
                    ),
                    html.Div(
                        className="row",
                        children=[
                            dcc.ConfirmDialogProvider(
                                id="sess-delete-confirm",
                                message=f"Delete session #{s.id} ({session_title(s, title)}, {fmt_dt(s.started_at)}) "
                                "with every rep and its chat? This cannot be undone.",
                                children=html.Button(
                                    "Delete session", id="sess-delete", className="btn btn-danger", n_clicks=0
                                ),
                            ),
                            dcc.Link("‹ History", href="/history", className="btn btn-secondary"),
                        ],
                    ),
                    html.Div("", id="sess-edit-msg", className="msg", role="status"),
                    dcc.Store(id="sess-id", data=s.id),
                ],
            ),
        ],
    )


def _similarity_graph(d: SessionDetail) -> list:
    """The per-rep similarity chart, when the workout had a reference (else nothing), and in words
    which rep was furthest from it and which part was off (a phone has no hover)."""
    fig = figures.similarity_figure(d.reps)
    if fig is None:
        return []
    return [
        html.H2("Form: each rep against the reference"),
        dcc.Graph(id="sess-similarity", figure=fig, config={"displayModeBar": False}),
        html.P(form_note(d.reps), className="sc-sub", id="sess-form-note"),
    ]


def form_note(reps: Sequence[RepRow]) -> str:
    """ "Furthest from the reference: rep 4 (44/100), knees off most. Off most often: knees (6 of
    10 scored)." for the scored reps (no-reps included, named so)."""
    scored = [r for r in reps if r.similarity is not None]
    if not scored:
        return ""
    low = min(scored, key=lambda r: r.similarity)
    what = "rep" if low.valid else "no-rep"
    part = f", {low.deviation} off most" if low.deviation else ""
    note = f"Furthest from the reference: {what} {low.index} ({low.similarity:.0f}/100){part}."
    parts = Counter(r.deviation for r in scored if r.deviation)
    if parts:
        name, n = parts.most_common(1)[0]
        note += f" Off most often: {name} ({n} of {len(scored)} scored)."
    return note


def not_found(message: str) -> html.Div:
    return html.Div(
        className="card",
        children=[html.H1("Not found"), html.P(message), dcc.Link("Back to history", href="/history")],
    )


# --- trends ---------------------------------------------------------------------------------------

BOARD_SORT_LABELS = {"reps": "Most reps in a session", "rpm": "Best reps per minute", "total": "Total reps"}


def trends_page(
    players: Sequence[PlayerRow],
    workouts: Sequence[str],
    query: dict[str, str],
    *,
    title: Title = pretty_name,
    default_player: str | None = None,
    default_workout: str | None = None,
) -> html.Div:
    names = {p.name for p in players}
    player = query.get("player") if query.get("player") in names else default_player
    workout = query.get("workout") if query.get("workout") in workouts else default_workout
    return html.Div(
        className="trends",
        children=[
            html.H1("Trends"),
            html.Section(
                className="card filters",
                children=[
                    _label("Player", "trend-player"),
                    dcc.Dropdown(
                        id="trend-player",
                        options=[{"label": p.name, "value": p.name} for p in players if p.sessions],
                        value=player,
                        placeholder="All players",
                    ),
                ],
            ),
            html.Section(className="card", id="trend-week", children=[html.H2("This week")]),
            html.Section(
                className="card charts",
                children=[
                    html.H2("Reps per week"),
                    dcc.Graph(id="trend-weekly", config={"displayModeBar": False}),
                ],
            ),
            html.Section(className="card", children=[html.H2("Personal bests"), html.Div(id="trend-bests")]),
            html.Section(
                className="card",
                children=[
                    html.H2("Leaderboard"),
                    _label("Workout", "trend-workout"),
                    dcc.Dropdown(
                        id="trend-workout",
                        options=[
                            {"label": title(w), "value": w}
                            for w in sorted(workouts, key=lambda w: title(w).lower())
                        ],
                        value=workout,
                        placeholder="Pick a workout",
                        clearable=False,
                    ),
                    _label("Rank by", "trend-sort"),
                    dcc.RadioItems(
                        id="trend-sort",
                        options=[{"label": v, "value": k} for k, v in BOARD_SORT_LABELS.items()],
                        value=query.get("sort") if query.get("sort") in BOARD_SORT_LABELS else "reps",
                        className="segmented",
                        inline=True,
                    ),
                    html.Div(id="trend-leaders"),
                ],
            ),
        ],
    )


def week_block(st: Streaks, player: str) -> list:
    def days(n: int) -> str:
        return f"{n} day" if n == 1 else f"{n} days"

    def weeks(n: int) -> str:
        return f"{n} week" if n == 1 else f"{n} weeks"

    tw, lw = st.this_week, st.last_week
    return [
        html.H2(f"This week · {player}"),
        html.Div(
            className="stats",
            children=[
                _stat("SESSIONS", "week-sessions", str(tw.sessions)),
                _stat("REPS", "week-reps", str(tw.reps)),
                _stat("WORK TIME", "week-minutes", fmt_time(tw.active_s)),
            ],
        ),
        html.Div(
            f"Last week: {plural(lw.sessions, 'session')}, {plural(lw.reps, 'rep')}, "
            f"{fmt_time(lw.active_s)} of work.",
            className="sc-sub",
        ),
        html.Ul(
            id="trend-streaks",
            className="streaks",
            children=[
                html.Li(f"Streak: {days(st.days)} in a row with a session"),
                html.Li(f"Longest streak: {days(st.longest_days)}"),
                html.Li(f"{weeks(st.weeks)} in a row with a session"),
            ],
        ),
    ]


def bests_table(rows: Sequence[BestRow], title: Title = pretty_name) -> html.Div:
    if not rows:
        return html.Div("No sessions yet.", className="msg")
    table = _table(
        ("workout", "most reps", "best pace", "sessions"),
        [
            (
                title(b.workout),
                dcc.Link(str(b.best_reps), href=f"/session/{b.best_reps_session}"),
                "–"
                if b.best_pace_rpm is None
                else dcc.Link(f"{b.best_pace_rpm:.1f}/min", href=f"/session/{b.best_pace_session}"),
                b.sessions,
            )
            for b in sorted(rows, key=lambda b: title(b.workout).lower())
        ],
    )
    if all(b.best_pace_rpm is not None for b in rows):
        return table
    why = f"A best pace is a session's reps per minute of work, from sessions with at least {MIN_PACE_S:g} s of it."
    return html.Div([table, html.Div(why, className="sc-sub", id="bests-pace-note")])


def board_table(rows: Sequence[BoardRow], sort: str = "reps") -> html.Div:
    """Per player: best session, best reps per minute (of work), total reps and sessions."""
    if not rows:
        what = "at least 30 s of work" if sort == "rpm" else "this workout"
        return html.Div(f"Nobody has done {what} yet.", className="msg")
    return html.Div(
        _table(
            ("#", "player", "best session", "best /min", "total reps", "sessions"),
            [
                (
                    r.rank,
                    r.player,
                    dcc.Link(str(r.best_reps), href=f"/session/{r.best_reps_session}"),
                    "–"
                    if r.best_rpm is None
                    else dcc.Link(f"{r.best_rpm:.1f}", href=f"/session/{r.best_rpm_session}"),
                    r.total_reps,
                    r.sessions,
                )
                for r in rows
            ],
            id="trend-board",
        ),
        className="scroll",
    )


def history_query(player: str | None, workout: str | None, date_from: str | None, date_to: str | None) -> str:
    q = {
        k: v for k, v in (("player", player), ("workout", workout), ("from", date_from), ("to", date_to)) if v
    }
    return "?" + urlencode(q) if q else ""
