"""The "Teach a new exercise" page (/teach): a name, a few reps in front of the camera or an
uploaded clip, the reps found drawn as a Plotly figure, and a Save button.

Self-contained: `teach_page` is the layout, `register_teach` its callbacks. Teaching runs
`hiitpi.teach.session` (the same flow as `hiitpi teach`); what was learnt waits in `Drafts` until
the person saves it (`save_lesson` writes rules/<name>.toml and its reference) or teaches again.
An upload is limited to `MAX_UPLOAD_MB`; the camera recording needs the engine in this process
(the appliance hands its `hiitpi.teach.live.PoseTap` sink to the dashboard).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from dash import Dash, Input, Output, State, ctx, dcc, html, no_update
from dash.exceptions import PreventUpdate

from hiitpi.errors import HiitpiError

log = logging.getLogger(__name__)

MAX_UPLOAD_MB = 40
#: the video types the upload accepts
VIDEO_SUFFIXES = (".mp4", ".mov", ".m4v", ".avi", ".mkv", ".webm")
MSG_OK = "msg msg-ok"
MSG_ERR = "msg msg-err"


class Drafts:
    """Taught workouts waiting for the person's yes, by token (the last few only)."""

    def __init__(self, keep: int = 4):
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()
        self.keep = keep

    def put(self, lesson) -> str:
        token = uuid.uuid4().hex[:16]
        with self._lock:
            self._items[token] = lesson
            while len(self._items) > self.keep:
                self._items.popitem(last=False)
        return token

    def pop(self, token: str):
        with self._lock:
            return self._items.pop(token, None)


def teach_page(camera: bool) -> html.Div:
    """The page: name, kind, the camera or an upload, then the result and Save."""
    return html.Div(
        className="teach",
        id="teach-root",
        children=[
            html.H1("Teach a new exercise"),
            html.P(
                "Do a few reps (three or more, the whole body in view) in front of the camera, or upload "
                "a clip of them. HIIT PI finds what moves, shows the reps it found, and after you save "
                "it, the exercise is in the workout picker like any other.",
                className="sc-sub",
            ),
            html.Section(
                className="card",
                children=[
                    html.Label("Name", htmlFor="teach-name"),
                    dcc.Input(
                        id="teach-name",
                        type="text",
                        placeholder="e.g. wall push",
                        maxLength=40,
                        debounce=False,
                    ),
                    html.Div(id="teach-name-msg", className="msg", role="status"),
                    dcc.RadioItems(
                        id="teach-kind",
                        options=[
                            {"label": " Reps (a movement that repeats)", "value": "reps"},
                            {"label": " Hold (a held position: a plank, a yoga pose)", "value": "hold"},
                        ],
                        value="reps",
                        className="check",
                    ),
                    html.Label("How many reps you do (optional)", htmlFor="teach-reps"),
                    dcc.Input(id="teach-reps", type="number", min=2, max=200, step=1),
                ],
            ),
            html.Section(
                className="card",
                children=[
                    html.H2("Show it"),
                    html.Div(
                        className="row",
                        children=[
                            dcc.Input(id="teach-seconds", type="number", min=3, max=120, step=1, value=20),
                            html.Span(" seconds ", className="small"),
                            html.Button(
                                "Record from the camera",
                                id="teach-record",
                                className="btn btn-secondary",
                                n_clicks=0,
                                disabled=True,
                                title="" if camera else "the camera runs in another process",
                            ),
                        ],
                    ),
                    dcc.Upload(
                        id="teach-upload",
                        className="upload",
                        accept="video/*",
                        max_size=MAX_UPLOAD_MB * 1024 * 1024,
                        multiple=False,
                        disabled=True,
                        children=html.Div(
                            [
                                "or drop a clip here / ",
                                html.A("choose a file"),
                                f" (up to {MAX_UPLOAD_MB} MB)",
                            ]
                        ),
                    ),
                    dcc.Interval(id="teach-tick", interval=500, disabled=True),
                ],
            ),
            dcc.Loading(
                type="circle",
                children=html.Div(id="teach-msg", className="msg", role="status", **{"aria-live": "polite"}),
            ),
            html.Section(className="card", id="teach-result", children=[]),
            html.Div(
                className="row",
                children=[
                    html.Button("Save", id="teach-save", className="btn btn-go", n_clicks=0, disabled=True),
                    html.Span("", id="teach-saved", role="status"),
                ],
            ),
            dcc.Store(id="teach-token"),
            dcc.Store(id="teach-camera", data=camera),
        ],
    )


def result_children(lesson) -> list:
    """What the person looks at before saving: the figure of the reps and what was learnt."""
    from hiitpi.teach.plot import figure

    t = lesson.taught
    t0 = float(t.times[0])
    if t.kind == "hold":
        lines = [
            f"A held position, recognised by {', '.join(t.members)}: the clock ran {t.held_s:.1f} s on the demo."
        ]
    else:
        lines = [
            f"{t.count} reps found, decided on {', '.join(t.members)} (seen {t.view or 'from an unknown view'})."
        ]
        lines += [f"rep {i}: {e.t_start - t0:.1f}–{e.t_end - t0:.1f} s" for i, e in enumerate(t.reps, 1)]
    lines += [f"note: {n}" for n in t.notes]
    return [
        dcc.Graph(
            id="teach-plot",
            figure=figure(t),
            config={"displayModeBar": False, "responsive": True},
            style={"width": "100%"},
        ),
        html.Ul([html.Li(x) for x in lines], id="teach-reps-found", className="teach-found"),
        html.Details([html.Summary(f"rules/{t.name}.toml"), html.Pre(lesson.text, className="rules-text")]),
    ]


def _decode(contents: str, filename: str | None) -> bytes:
    from hiitpi.errors import InputError

    suffix = Path(filename or "").suffix.lower()
    if suffix not in VIDEO_SUFFIXES:
        raise InputError(
            f"{filename or 'the file'} is not a video", f"upload a clip ({', '.join(VIDEO_SUFFIXES)})"
        )
    try:
        _head, b64 = contents.split(",", 1)
        data = base64.b64decode(b64, validate=True)
    except (ValueError, binascii.Error):
        raise InputError(f"{filename}: the upload arrived broken", "try again") from None
    if len(data) > MAX_UPLOAD_MB * 1024 * 1024:
        raise InputError(f"{filename} is over {MAX_UPLOAD_MB} MB", "trim the clip to a few reps")
    return data


def _allow_uploads(app: Dash) -> None:
    """Callback requests from the teach page may carry a clip (base64, a third larger): the rest of
    the dashboard keeps the server's small request limit. The clip's callback arguments get their
    rules at the edge (`hiitpi.web.callguard`)."""
    from hiitpi.web.callguard import ID_RULES, optional_bool, optional_number, optional_text
    from hiitpi.web.guards import allow_body

    limit = MAX_UPLOAD_MB * 1024 * 1024 * 4 // 3 + 1024 * 1024
    update_path = f"{app.config.requests_pathname_prefix}_dash-update-component"
    allow_body(app.server, update_path, limit, from_page="/teach")
    ID_RULES[("teach-upload", "contents")] = optional_text(limit)  # a data: URL
    ID_RULES[("teach-upload", "filename")] = optional_text(255)
    ID_RULES[("teach-token", "data")] = optional_text(64)  # a draft's key
    ID_RULES[("teach-camera", "data")] = optional_bool  # whether the camera runs in this process
    ID_RULES[("teach-reps", "value")] = optional_number  # number inputs: out of range is explained
    ID_RULES[("teach-seconds", "value")] = optional_number


def register_teach(app: Dash, wc) -> None:
    """The page's callbacks; ``wc.teach_source`` is the engine's `PoseTap` (None: no camera here)."""
    drafts = Drafts()
    wc.teach_drafts = drafts
    settings = wc.settings
    _allow_uploads(app)

    def lesson_from(demo_or_path, name, kind, reps):
        from hiitpi.teach.session import check_name, load_demo, teach_demo

        key = check_name(name or "", settings.referee.rules_dir)
        if isinstance(demo_or_path, Path):
            demo = load_demo(demo_or_path, settings, progress=False)
        else:
            demo = demo_or_path
        n = int(reps) if reps not in (None, "") and kind == "reps" else None
        return teach_demo(demo, key, reps=n, hold=kind == "hold")

    def shown(lesson):
        token = drafts.put(lesson)
        title = lesson.taught.doc["title"]
        return (
            result_children(lesson),
            token,
            f"Learnt '{title}'. Look at the reps found, then save it.",
            MSG_OK,
            False,
            True,
            "",
        )

    def failed(exc: HiitpiError):
        text = exc.message + (f" — {exc.hint}" if exc.hint else "")
        return [], None, text, MSG_ERR, True, True, ""

    @app.callback(
        Output("teach-result", "children"),
        Output("teach-token", "data"),
        Output("teach-msg", "children"),
        Output("teach-msg", "className"),
        Output("teach-save", "disabled"),
        Output("teach-tick", "disabled"),
        Output("teach-saved", "children"),
        Output("teach-upload", "contents"),
        Input("teach-upload", "contents"),
        Input("teach-record", "n_clicks"),
        Input("teach-tick", "n_intervals"),
        State("teach-upload", "filename"),
        State("teach-name", "value"),
        State("teach-kind", "value"),
        State("teach-reps", "value"),
        State("teach-seconds", "value"),
        prevent_initial_call=True,
    )
    def teach(contents, _rec, _tick, filename, name, kind, reps, seconds):
        # the upload is emptied each time, so the same clip can be sent again (after fixing the name)
        return (*run(contents, filename, name, kind, reps, seconds), None)

    def run(contents, filename, name, kind, reps, seconds):
        from hiitpi.capture.video import VideoOpenError
        from hiitpi.errors import InputError
        from hiitpi.teach.session import check_name

        trigger = ctx.triggered_id
        tap = getattr(wc, "teach_source", None)
        try:
            if trigger == "teach-upload":
                if not contents:
                    raise PreventUpdate
                check_name(name or "", settings.referee.rules_dir)  # before the clip is analysed
                data = _decode(contents, filename)
                folder = Path(settings.general.data_dir) / "teach"
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"upload-{uuid.uuid4().hex[:8]}{Path(filename).suffix.lower()}"
                path.write_bytes(data)
                try:
                    lesson = lesson_from(path, name, kind, reps)
                except VideoOpenError:
                    raise InputError(
                        f"{filename} is not a video HIIT PI can read", "upload an mp4, mov or webm clip"
                    ) from None
                finally:
                    path.unlink(missing_ok=True)
                lesson.demo.source = Path(filename).name
                return shown(lesson)
            if tap is None:
                raise InputError("the camera runs in another process", "upload a clip instead")
            if trigger == "teach-record":
                check_name(name or "", settings.referee.rules_dir)
                tap.start(float(seconds or 20))
                return [], None, f"Recording for {float(seconds or 20):.0f} s: go!", MSG_OK, True, False, ""
            st = tap.status()
            if st["state"] == "recording":
                if st["frames"] == 0 and st["waiting_s"] > 5:
                    tap.cancel()
                    raise InputError("no frames from the camera", "check the camera on the Live page")
                left = max(0.0, st["seconds"] - st["elapsed"])
                return no_update, no_update, f"Recording… {left:.0f} s left", MSG_OK, True, False, no_update
            if st["state"] != "done":
                return no_update, no_update, no_update, no_update, no_update, True, no_update
            return shown(lesson_from(tap.take(), name, kind, reps))
        except HiitpiError as exc:
            log.info("teach: %s", exc.message)
            return failed(exc)

    @app.callback(
        Output("teach-name-msg", "children"),
        Output("teach-name-msg", "className"),
        Output("teach-upload", "disabled"),
        Output("teach-record", "disabled"),
        Input("teach-name", "value"),
        State("teach-camera", "data"),
    )
    def name_ok(name, camera):
        """The name is checked as it is typed: showing the clip waits for one that is free."""
        from hiitpi.teach.session import check_name

        if not (name or "").strip():
            return "Give the exercise a name first.", "msg", True, True
        try:
            key = check_name(name, settings.referee.rules_dir)
        except HiitpiError as exc:
            return exc.message, MSG_ERR, True, True
        return f"It will be saved as rules/{key}.toml.", "msg", False, not camera

    @app.callback(
        Output("teach-saved", "children", allow_duplicate=True),
        Output("teach-save", "disabled", allow_duplicate=True),
        Input("teach-save", "n_clicks"),
        State("teach-token", "data"),
        prevent_initial_call=True,
    )
    def save(n, token):
        from hiitpi.teach.session import save_lesson

        if not n or not token:
            raise PreventUpdate
        lesson = drafts.pop(token)
        if lesson is None:
            return "This one was already saved or has expired: teach it again.", True
        try:
            path, _ref = save_lesson(lesson, settings.referee.rules_dir)
        except HiitpiError as exc:
            return exc.message + (f" — {exc.hint}" if exc.hint else ""), True
        title = lesson.taught.doc["title"]
        return [f"Saved {path.name}. ", dcc.Link(f"Start '{title}' on the Live page", href="/")], True
