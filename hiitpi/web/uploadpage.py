"""The upload page and the annotated-video player (components only; the browser script
``assets/upload.js`` does the rest).

- `upload_page`: pick a video (or film one: ``<input type=file accept="video/*" capture>``), the
  player and the workout, send it with a progress bar, then follow the analysis; the list of recent
  uploads shows the queue, and a banner (and a browser notification, when allowed) says when one
  is done. It holds no Dash callbacks: ``upload.js`` finds ``[data-upload]`` and talks to the
  routes of `hiitpi.web.upload`.
- `video_panel`: what the session page shows for a session refereed from a video: the annotated
  video (H.264 MP4, plays in the phone's browser), a link to download it, and what the analysis
  noticed about the file.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from dash import dcc, html

from hiitpi.recognition import AUTO, is_auto
from hiitpi.referee.catalog import Choice
from hiitpi.store.players import PlayerRow


def upload_page(
    players: Sequence[PlayerRow],
    choices: Sequence[Choice],
    settings: Any,
    *,
    available: bool,
    player: str | None = None,
) -> html.Div:
    up = settings.upload
    workouts = [c for c in choices if c.kind != "program"]  # a video is one workout, not a program
    default = settings.referee.workout
    limits = {
        "maxBytes": up.max_mb * 1024 * 1024,
        "maxMb": up.max_mb,
        "maxMinutes": up.max_minutes,
    }
    form = html.Section(
        className="card upload-form",
        id="upload-form",
        **{"data-upload": "/api/uploads", "data-limits": json.dumps(limits)},
        children=[
            html.Label("Video", className="field-label"),
            html.Div(className="row upload-pickers", id="upload-pickers"),
            html.Div("No video picked yet.", id="upload-file-info", className="sc-sub"),
            html.Label("Player", htmlFor="upload-player", className="field-label"),
            dcc.Input(
                id="upload-player",
                type="text",
                list="upload-players",
                placeholder="who trained (a name from the list, or a new one)",
                value=player or "",
                maxLength=40,
                className="text-input upload-input",
                autoComplete="off",
            ),
            html.Datalist(id="upload-players", children=[html.Option(value=p.name) for p in players]),
            html.Label("Workout", htmlFor="upload-workout", className="field-label"),
            html.Select(
                id="upload-workout",
                className="text-input upload-input",
                children=[
                    html.Option("Auto: recognise the workout", value=AUTO, selected=is_auto(default)),
                    *(html.Option(c.label, value=c.value, selected=(c.value == default)) for c in workouts),
                ],
            ),
            dcc.Checklist(
                id="upload-keep",
                options=[{"label": " Keep the annotated video", "value": "keep"}],
                value=["keep"] if up.keep_video else [],
                className="upload-keep",
                inputClassName="upload-keep-box",
            ),
            html.Div(
                f"Up to {up.max_mb} MB and {up.max_minutes:g} minutes. The video is deleted once it is "
                "refereed; the annotated copy is kept "
                + (f"{up.retention_days} days" if up.retention_days else "until space is needed")
                + " if you tick the box.",
                className="sc-sub",
            ),
            html.Div(
                className="row buttons",
                children=[html.Button("Send", id="upload-send", className="btn btn-go", n_clicks=0)],
            ),
            html.Div(
                className="upload-progress hidden",
                id="upload-progress",
                children=[html.Div(className="upload-bar", id="upload-bar")],
                role="progressbar",
                **{"aria-valuemin": "0", "aria-valuemax": "100", "aria-label": "upload progress"},
            ),
            html.Div(id="upload-msg", className="msg", role="status", **{"aria-live": "polite"}),
        ],
    )
    if not available:
        form = html.Section(
            className="card",
            id="upload-form",
            children=[
                html.P(
                    "Videos are refereed by the appliance itself: open this page on the dashboard "
                    "`hiitpi serve` shows (uploads need [upload] enabled = true).",
                    className="msg msg-err",
                    id="upload-msg",
                )
            ],
        )
    return html.Div(
        id="upload-root",
        className="upload",
        children=[
            html.H1("Send a workout video"),
            html.P(
                "Filmed at the park or in a hotel room? Send the video: it is refereed like a session in "
                "front of the camera, every rep and no-rep with its timing, and kept in the history.",
                className="sc-sub",
            ),
            html.Div(id="upload-banner", className="banner banner-info hidden", role="alert"),
            form,
            html.Section(
                className="card",
                children=[
                    html.H2("Sent videos"),
                    html.Div(id="upload-jobs", className="upload-jobs", children="…"),
                ],
            ),
        ],
    )


def video_panel(
    session_id: int, *, video_name: str | None, has_video: bool, notes: Sequence[str] = ()
) -> html.Section:
    """The session page's card for a session refereed from a video."""
    children: list = [html.H2("Annotated video")]
    if has_video:
        src = f"/media/session/{session_id}.mp4"
        children += [
            html.Video(
                id="sess-video",
                src=src,
                controls=True,
                playsInline=True,
                preload="metadata",
                className="video-img sess-video",
            ),
            html.Div(
                className="row small",
                children=[
                    html.A(
                        "Download the video",
                        href=src + "?download=1",
                        id="sess-video-download",
                        className="btn btn-secondary",
                    )
                ],
            ),
        ]
    else:
        children.append(html.P("The annotated video was not kept.", className="msg", id="sess-video-none"))
    if video_name:
        children.append(html.Div(f"Refereed from the video {video_name}", className="sc-sub"))
    if notes:
        children.append(html.Ul([html.Li(n) for n in notes], className="upload-notes", id="sess-video-notes"))
    return html.Section(className="card", id="sess-video-card", children=children)
