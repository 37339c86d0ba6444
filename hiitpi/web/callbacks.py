"""Dash callbacks: thin glue from page inputs to `hiitpi.web.actions`, the store's queries and layouts.

Every callback catches what the page can cause (bad input, a missing session, a database that
cannot be read) and shows a message instead of failing with a 500.

The session page's cards: `SESSION_CARDS` lists functions ``(WebContext, SessionDetail) ->
component or None``; the page shows each one's card after the summary (the coach chat is the first).
A part that adds a card to the session page adds one function here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from dash.exceptions import PreventUpdate

from hiitpi.store.errors import InvalidInput, NotFound, StoreError
from hiitpi.web import figures, layout
from hiitpi.web.context import WebContext
from hiitpi.web.params import MAX_PAGE

log = logging.getLogger(__name__)

MSG_OK = "msg msg-ok"
MSG_ERR = "msg msg-err"


def _query(search: str | None) -> dict[str, str]:
    if not search:
        return {}
    return {k: v[:200] for k, v in parse_qsl(search.lstrip("?"))}


def chat_card(wc: WebContext, d) -> Any:
    """Ask the coach about this session (when the coach is on)."""
    from hiitpi.store.chat import Conversation
    from hiitpi.web.chat import chat_panel

    if wc.chat is None:
        return None
    sid = d.session.id
    conv = Conversation.of_session(sid)
    try:
        suggestions = wc.chat.suggestions(conv)
    except (NotFound, StoreError) as exc:
        log.warning("chat suggestions for session %s unavailable: %s", sid, exc)
        suggestions = []
    return chat_panel(conv, title="Ask the coach about this session", suggestions=suggestions)


def video_card(wc: WebContext, d) -> Any:
    """The video a session was refereed from (sent from a phone), annotated, and the upload's notes."""
    from hiitpi.store.uploads import upload_of_session
    from hiitpi.store.videosessions import session_video as lookup
    from hiitpi.web.uploadpage import video_panel

    if d.session.source != "video":
        return None
    try:
        _source, name, file = lookup(wc.store, d.session.id)
        upload = upload_of_session(wc.store, d.session.id)
    except (NotFound, StoreError) as exc:
        log.warning("session %s: its video cannot be read: %s", d.session.id, exc)
        return None
    notes = upload.notes if upload is not None else []
    return video_panel(d.session.id, video_name=name, has_video=file is not None, notes=notes)


#: The session page's cards after the summary, in order (see the module docstring).
SESSION_CARDS: list[Callable[[WebContext, Any], Any]] = [video_card, chat_card]


def register_callbacks(app: Dash, wc: WebContext) -> None:
    from hiitpi.store import queries
    from hiitpi.store.players import list_players

    def title():
        return wc.catalog.get().title

    def players():
        try:
            return list_players(wc.store)
        except StoreError as exc:
            log.warning("players unavailable: %s", exc)
            return []

    def workouts():
        try:
            return queries.list_workouts(wc.store)
        except StoreError as exc:
            log.warning("workouts unavailable: %s", exc)
            return []

    def programs():
        try:
            return queries.list_programs(wc.store)
        except StoreError as exc:
            log.warning("programs unavailable: %s", exc)
            return []

    # --- routing -----------------------------------------------------------------------------

    @app.callback(Output("page", "children"), Input("url", "pathname"), State("url", "search"))
    def route(pathname: str | None, search: str | None):
        path = (pathname or "/").rstrip("/") or "/"
        q = _query(search)
        if path in ("/", "/live"):
            cat = wc.catalog.get()
            ref = wc.settings.referee
            return layout.live_page(
                players(),
                cat.choices(),
                default_workout=ref.workout,
                privacy=wc.settings.web.privacy_mode,
                counting=ref.counting,
                pace_window_s=ref.pace_window_s,
            )
        if path == "/history":
            return layout.history_page(players(), workouts(), q, programs=programs(), title=title())
        if path == "/trends":
            return trends_view(q)
        if path == "/upload":
            from hiitpi.web.uploadpage import upload_page

            return upload_page(
                players(),
                wc.catalog.get().choices(),
                wc.settings,
                available=wc.uploads is not None and wc.settings.upload.enabled,
                player=q.get("player"),
            )
        if path == "/teach":
            from hiitpi.web.teach import teach_page

            return teach_page(camera=wc.teach_source is not None)
        if path.startswith("/session/"):
            from hiitpi.web.params import record_id

            sid = path.removeprefix("/session/")
            session_id = record_id(sid)
            if session_id is None:
                return layout.not_found(f"'{sid[:40]}' is not a session number.")
            return session_view(session_id)
        return layout.not_found(f"There is no page at {path[:80]}.")

    def trends_view(q: dict[str, str]):
        ps = [p for p in players() if p.sessions]
        # the player who trained last, and the workout they did most: never an empty chart
        default_player = max(ps, key=lambda p: str(p.last_session_at or "")).name if ps else None
        default_workout = None
        if default_player is not None:
            try:
                bests = queries.personal_bests(wc.store, default_player)
                if bests:
                    default_workout = max(bests, key=lambda b: (b.sessions, b.workout)).workout
            except (InvalidInput, StoreError) as exc:
                log.warning("bests unavailable: %s", exc)
        return layout.trends_page(
            players(),
            workouts(),
            q,
            title=title(),
            default_player=default_player,
            default_workout=default_workout,
        )

    def session_view(sid: int):
        try:
            d = queries.session_detail(wc.store, sid)
            previous = queries.previous_session(wc.store, sid)
        except NotFound:
            return layout.not_found(f"There is no session {sid}.")
        except StoreError as exc:
            return layout.not_found(f"The history cannot be read: {exc}")
        cards = []
        for make in SESSION_CARDS:
            try:
                card = make(wc, d)
            except Exception:  # one card failing must not take the page down
                log.exception("session %s: the card %s failed", sid, getattr(make, "__name__", make))
                continue
            if card is not None:
                cards.append(card)
        return html.Div(
            [
                layout.session_page(
                    d,
                    summary_children(sid, d.summary, d.session.summary_kind, d.summary_reason),
                    title=title(),
                    previous=previous,
                    cards=cards,
                ),
                _summary_poll(sid, d.summary),
            ]
        )

    def can_request(sid: int) -> bool:
        return wc.summaries is not None

    def summary_children(sid: int, text, kind, reason):
        if text:
            return layout.summary_block(text, kind, reason)
        snap = wc.coach_snapshot(sid)
        if snap and snap.get("status") in ("queued", "running"):
            return layout.summary_block(
                snap.get("text") or "", snap.get("source"), None, status=snap["status"]
            )
        if snap and snap.get("status") == "done":
            return layout.summary_block(snap.get("text"), snap.get("kind"), snap.get("reason"))
        return layout.summary_block(None, None, None, can_request=can_request(sid))

    def _summary_poll(sid: int, text):
        from dash import dcc

        return html.Div(
            [
                dcc.Store(id="summary-sid", data=sid),
                dcc.Interval(id="summary-tick", interval=700, disabled=bool(text), max_intervals=600),
            ]
        )

    @app.callback(
        Output("summary-box", "children"),
        Output("summary-tick", "disabled"),
        Input("summary-tick", "n_intervals"),
        State("summary-sid", "data"),
        prevent_initial_call=True,
    )
    def summary_stream(_n, sid):
        if not isinstance(sid, int):
            return no_update, True
        try:
            d = queries.session_detail(wc.store, sid)
        except (NotFound, StoreError):
            return no_update, True
        if d.summary:
            return layout.summary_block(d.summary, d.session.summary_kind, d.summary_reason), True
        snap = wc.coach_snapshot(sid)
        if not snap:
            return no_update, d.session.status != "open"
        if snap.get("status") in ("queued", "running"):
            return layout.summary_block(
                snap.get("text") or "", snap.get("source"), None, status=snap["status"]
            ), False
        return layout.summary_block(snap.get("text"), snap.get("kind"), snap.get("reason")), True

    @app.callback(
        Output("summary-msg", "children"),
        Output("summary-msg", "className"),
        Output("summary-tick", "disabled", allow_duplicate=True),
        Output("summary-tick", "n_intervals"),
        Input("summary-request", "n_clicks"),
        State("summary-sid", "data"),
        prevent_initial_call=True,
    )
    def summary_request(n, sid):
        if not n or not isinstance(sid, int):
            raise PreventUpdate
        if wc.summaries is None:
            return "The coach is off on this device.", MSG_ERR, True, no_update
        try:
            wc.summaries.request(sid)
        except NotFound:
            return f"There is no session {sid}.", MSG_ERR, True, no_update
        except StoreError as exc:
            return f"The history cannot be read: {exc}", MSG_ERR, True, no_update
        return "Asked the coach: the summary appears here as it is written.", MSG_OK, False, 0

    # --- health banner -----------------------------------------------------------------------

    @app.callback(
        Output("health-banner", "children"),
        Output("health-banner", "className"),
        Input("health-tick", "n_intervals"),
    )
    def health(_n):
        if wc.health_report is None:
            return "", "banner banner-warn hidden"
        from hiitpi.web.health import banner_text

        try:
            text = banner_text(wc.health_report())
        except Exception as exc:  # a probe failing must not break the page
            log.warning("health report failed: %s", exc)
            text = None
        return (text or "", "banner banner-warn" if text else "banner banner-warn hidden")

    # --- live controls -----------------------------------------------------------------------

    @app.callback(
        Output("action-msg", "children", allow_duplicate=True),
        Output("action-msg", "className", allow_duplicate=True),
        Output("player-pick", "options"),
        Output("player-pick", "value", allow_duplicate=True),
        Output("new-player", "value"),
        Input("add-player", "n_clicks"),
        State("new-player", "value"),
        prevent_initial_call=True,
    )
    def add_player(n, name):
        from hiitpi.web.actions import add_player as do_add

        if not n:  # the button was just drawn (a page change), not pressed
            raise PreventUpdate

        res = do_add(wc.store, name if name is not None else "")
        if not res.ok:
            return res.message, MSG_ERR, no_update, no_update, no_update
        opts = [{"label": p.name, "value": p.name} for p in players()]
        return res.message, MSG_OK, opts, res.player, ""

    @app.callback(
        Output("start-btn", "disabled"),
        Output("start-btn", "title"),
        Output("start-hint", "children"),
        Input("player-pick", "value"),
        Input("new-player", "value"),
        Input("workout-pick", "value"),
    )
    def start_ready(picked, typed, workout):
        """Start is pressable once there is a player and a workout; until then it says why."""
        if not (picked or (typed or "").strip()):
            why = "Pick a player (or type a new name) first"
        elif not workout:
            why = "Pick a workout first"
        else:
            return False, "", ""
        return True, why, f"{why}."

    @app.callback(
        Output("action-msg", "children", allow_duplicate=True),
        Output("action-msg", "className", allow_duplicate=True),
        Output("me", "data", allow_duplicate=True),
        Input("start-btn", "n_clicks"),
        State("player-pick", "value"),
        State("new-player", "value"),
        State("workout-pick", "value"),
        State("counting-pick", "value"),
        State("me", "data"),
        prevent_initial_call=True,
    )
    def start(n, picked, typed, workout, counting, me):
        from hiitpi.web.actions import start_session, who_starts

        if not n:
            raise PreventUpdate

        name = who_starts(picked, typed)
        res = start_session(wc.reader, wc.catalog.get(), name if name is not None else "", workout, counting)
        if not res.ok:
            return res.message, MSG_ERR, no_update
        me = dict(me or {})
        me.update(session=res.session, player=res.player, store_id=res.store_id)
        return res.message, MSG_OK, me

    @app.callback(
        Output("action-msg", "children", allow_duplicate=True),
        Output("action-msg", "className", allow_duplicate=True),
        Input("stop-btn", "n_clicks"),
        prevent_initial_call=True,
    )
    def stop(n):
        from hiitpi.web.actions import stop_session

        if not n:
            raise PreventUpdate

        res = stop_session(wc.reader)
        return res.message, MSG_OK if res.ok else MSG_ERR

    @app.callback(
        Output("action-msg", "children", allow_duplicate=True),
        Output("action-msg", "className", allow_duplicate=True),
        Input({"type": "correct-btn", "workout": ALL}, "n_clicks"),
        prevent_initial_call=True,
    )
    def correct(clicks):
        from hiitpi.web.actions import correct_workout

        trig = ctx.triggered_id
        if not isinstance(trig, dict) or not any(clicks or ()):
            raise PreventUpdate  # the buttons were just drawn, not pressed
        res = correct_workout(wc.reader, wc.catalog.get(), trig.get("workout"))
        return res.message, MSG_OK if res.ok else MSG_ERR

    # --- history -------------------------------------------------------------------------------

    @app.callback(
        Output("hist-results", "children"),
        Output("hist-pageinfo", "children"),
        Output("hist-page", "data"),
        Output("url", "search", allow_duplicate=True),
        Output("hist-prev", "disabled"),
        Output("hist-next", "disabled"),
        Input("hist-player", "value"),
        Input("hist-workout", "value"),
        Input("hist-from", "value"),
        Input("hist-to", "value"),
        Input("hist-prev", "n_clicks"),
        Input("hist-next", "n_clicks"),
        State("hist-page", "data"),
        prevent_initial_call="initial_duplicate",
    )
    def history(player, what, date_from, date_to, _p, _n, page):
        page = page if isinstance(page, int) and 1 <= page <= MAX_PAGE else 1
        trig = ctx.triggered_id
        if trig == "hist-prev":
            page = max(1, page - 1)
        elif trig == "hist-next":
            page = min(MAX_PAGE, page + 1)
        elif trig is not None:
            page = 1
        # one picker for both: a program's name is never a workout's (the catalogue sees to it)
        is_program = bool(what) and (what in wc.catalog.get().programs or what in programs())
        filters = dict(
            player=player or None,
            workout=None if is_program else (what or None),
            program=what if is_program else None,
        )
        try:
            d_from = queries.parse_date(date_from, "from date")
            d_to = queries.parse_date(date_to, "to date")
            result = queries.list_sessions(
                wc.store, **filters, date_from=d_from, date_to=d_to, page=page, per_page=20
            )
            if not result.items and page > result.pages:
                page = result.pages
                result = queries.list_sessions(
                    wc.store, **filters, date_from=d_from, date_to=d_to, page=page, per_page=20
                )
        except InvalidInput as exc:
            return html.Div(str(exc), className=MSG_ERR), "", page, no_update, True, True
        except StoreError as exc:
            return (
                html.Div(f"The history cannot be read: {exc}", className=MSG_ERR),
                "",
                page,
                no_update,
                True,
                True,
            )
        last = result.pages
        info = f"page {result.page} of {last} · {layout.plural(result.total, 'session')}"
        search = layout.history_query(player, what, date_from, date_to)
        return (
            layout.sessions_list(result, title()),
            info,
            page,
            search,
            result.page <= 1,
            result.page >= last,
        )

    @app.callback(Output("hist-chat", "children"), Input("hist-player", "value"))
    def history_chat(player):
        from hiitpi.store.chat import Conversation
        from hiitpi.store.players import find_player
        from hiitpi.web.chat import chat_panel

        if wc.chat is None:
            return None
        title = "Ask the coach about your history"
        if not player:
            return chat_panel(None, title=title, note="Pick a player above to ask about their history.")
        try:
            found = find_player(wc.store, player)
            if found is None:
                return chat_panel(None, title=title, note=f"There is no player named {player[:40]!r}.")
            conv = Conversation.of_player(found.id)
            suggestions = wc.chat.suggestions(conv)
        except (InvalidInput, StoreError) as exc:
            return chat_panel(None, title=title, note=f"The history cannot be read: {exc}")
        return chat_panel(conv, title=f"Ask the coach about {found.name}'s history", suggestions=suggestions)

    # --- one session: rename, delete ------------------------------------------------------------

    @app.callback(
        Output("sess-edit-msg", "children", allow_duplicate=True),
        Output("sess-edit-msg", "className", allow_duplicate=True),
        Output("sess-title", "children"),
        Input("sess-rename", "n_clicks"),
        State("sess-name", "value"),
        State("sess-id", "data"),
        prevent_initial_call=True,
    )
    def rename(n, name, sid):
        from hiitpi.store.edit import rename_session

        if not n or not isinstance(sid, int):
            raise PreventUpdate
        try:
            stored = rename_session(wc.store, sid, name if name is not None else "")
            row = queries.get_session(wc.store, sid)
        except NotFound:
            return f"There is no session {sid}.", MSG_ERR, no_update
        except InvalidInput as exc:
            return _sentence(str(exc)), MSG_ERR, no_update
        except StoreError as exc:
            return f"Could not save the name: {exc}", MSG_ERR, no_update
        shown = layout.session_title(row, title())
        return (f"Renamed to {stored}." if stored else f"Name cleared: {shown}."), MSG_OK, shown

    @app.callback(
        Output("sess-edit-msg", "children", allow_duplicate=True),
        Output("sess-edit-msg", "className", allow_duplicate=True),
        Output("url", "pathname", allow_duplicate=True),
        Input("sess-delete-confirm", "submit_n_clicks"),
        State("sess-id", "data"),
        prevent_initial_call=True,
    )
    def delete(n, sid):
        from hiitpi.store.edit import delete_session

        if not n or not isinstance(sid, int):
            raise PreventUpdate
        try:
            delete_session(wc.store, sid)
        except NotFound:
            return f"There is no session {sid}.", MSG_ERR, no_update
        except InvalidInput as exc:
            return _sentence(str(exc)), MSG_ERR, no_update
        except StoreError as exc:
            return f"Could not delete it: {exc}", MSG_ERR, no_update
        return f"Session {sid} deleted.", MSG_OK, "/history"

    # --- trends ----------------------------------------------------------------------------------

    @app.callback(
        Output("trend-weekly", "figure"),
        Output("trend-bests", "children"),
        Output("trend-week", "children"),
        Input("trend-player", "value"),
    )
    def trends(player):
        t = title()
        try:
            weeks = queries.weekly_trends(wc.store, player=player or None, weeks=12)
            if player:
                bests = layout.bests_table(queries.personal_bests(wc.store, player), t)
                week = layout.week_block(queries.streaks(wc.store, player), player)
            else:
                bests = html.Div("Pick a player.", className="msg")
                week = [
                    html.H2("This week"),
                    html.Div("Pick a player to see their week and streaks.", className="msg"),
                ]
        except InvalidInput as exc:
            msg = html.Div(str(exc), className=MSG_ERR)
            return figures.weekly_trends_figure([], t), msg, msg
        except StoreError as exc:
            msg = html.Div(f"The history cannot be read: {exc}", className=MSG_ERR)
            return figures.weekly_trends_figure([], t), msg, msg
        return figures.weekly_trends_figure(weeks, t), bests, week

    @app.callback(
        Output("trend-leaders", "children"),
        Input("trend-workout", "value"),
        Input("trend-sort", "value"),
    )
    def leaders(workout, sort):
        if not workout:
            return html.Div("Pick a workout.", className="msg")
        sort = sort if sort in layout.BOARD_SORT_LABELS else "reps"
        try:
            return layout.board_table(queries.leaderboard_table(wc.store, workout, sort=sort), sort)
        except InvalidInput as exc:
            return html.Div(str(exc), className=MSG_ERR)
        except StoreError as exc:
            return html.Div(f"The history cannot be read: {exc}", className=MSG_ERR)


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
