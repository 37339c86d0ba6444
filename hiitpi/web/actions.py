"""What the page's buttons do, validated: create a player, start and stop a session, correct the
workout auto mode recognised.

Each returns an `ActionResult` whose message is fit to show on the page. Bad input (an empty or
10,000-character name, an unknown workout, stop without start) is refused here, before anything is
written or sent, so it never reaches the store or the engine. Start and stop go through the live
command path (the Redis command stream) and wait briefly for the engine's answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import redis

from hiitpi.live.reader import CommandRejected, LiveReader
from hiitpi.recognition import AUTO, is_auto
from hiitpi.referee.catalog import Catalog, UnknownNameError
from hiitpi.store.db import Store
from hiitpi.store.errors import InvalidInput, StoreError
from hiitpi.store.players import clean_player_name, create_player

log = logging.getLogger(__name__)

#: Longer workout names are refused without a look-up.
MAX_NAME = 64
#: How long a button waits for the engine to confirm a command.
COMMAND_TIMEOUT_S = 4.0
REDIS_DOWN = (
    "The live bus (Redis) is not answering, so the engine cannot be reached: check `hiitpi serve --check`."
)


@dataclass(frozen=True, slots=True)
class ActionResult:
    ok: bool
    message: str
    session: str | None = None
    player: str | None = None
    #: the session's id in the history (the one every page, URL and command uses)
    store_id: int | None = None


def add_player(store: Store, name: object) -> ActionResult:
    try:
        row = create_player(store, name)
    except InvalidInput as exc:
        return ActionResult(False, _sentence(str(exc)))
    except StoreError as exc:
        return ActionResult(False, f"Could not save the player: {exc}")
    return ActionResult(True, f"Added {row.name}.", player=row.name)


#: What the page's counting choice may be: the convention's name → what the page calls it.
COUNTING_CHOICES = {"judge": "Full reps only", "attempts": "Every attempt"}


def who_starts(picked: object, typed: object) -> object:
    """The player a Start is for: a name just typed under "or a new name" (the person means it,
    whether or not they pressed Add), else the one picked."""
    if isinstance(typed, str) and typed.strip():
        return typed
    return picked if picked else typed


def start_session(
    reader: LiveReader, catalog: Catalog, player: object, workout: object, counting: object = None
) -> ActionResult:
    try:
        name = clean_player_name(player if player is not None else "")
    except InvalidInput as exc:
        return ActionResult(False, _sentence(str(exc)))
    canonical, problem = _startable(catalog, workout)
    if problem:
        return ActionResult(False, problem)
    if counting in (None, ""):
        counting = None
    elif counting not in COUNTING_CHOICES:
        shown = str(counting)[:20]
        return ActionResult(
            False, f"Unknown counting '{shown}': pick 'judge' (full reps only) or 'attempts'."
        )
    try:  # whether a start is allowed now is the engine's call (one session per camera)
        cid = reader.send_command("start", player=name, workout=canonical, counting=counting)
        answer = reader.wait_command(cid, COMMAND_TIMEOUT_S)
    except CommandRejected as exc:
        return ActionResult(False, _sentence(str(exc)))
    except redis.RedisError as exc:
        log.warning("start: Redis unavailable: %s", exc)
        return ActionResult(False, REDIS_DOWN)
    if answer is None:
        return ActionResult(
            False, f"The engine did not answer within {COMMAND_TIMEOUT_S:g} s: is `hiitpi serve` running?"
        )
    ok, message = answer
    if not ok:
        return ActionResult(False, _sentence(message or "the engine refused to start"))
    try:
        live = reader.live_state()
        session, store_id = live.session or None, live.store_id
    except redis.RedisError:
        session, store_id = None, None
    return ActionResult(
        True,
        message or f"Started {catalog.title(canonical)} for {name}.",
        session=session,
        player=name,
        store_id=store_id,
    )


def _startable(catalog: Catalog, name: object) -> tuple[str, str]:
    """(the canonical workout or program name, "") or ("", what to tell the person)."""
    if not isinstance(name, str) or not name.strip():
        return "", "Pick a workout first."
    if len(name) > MAX_NAME:
        return "", f"Unknown workout (a {len(name)}-character name): pick one from the list."
    if is_auto(name):
        return AUTO, ""
    try:
        rule, program = catalog.resolve(name)
    except UnknownNameError:
        known = ", ".join(catalog.title(n) for n in catalog.names()) or "(none loaded)"
        return "", f"Unknown workout '{name.strip()[:40]}': pick one from the list ({known})."
    return (program.name if program else rule.name), ""


def stop_session(reader: LiveReader) -> ActionResult:
    try:
        if not reader.live_state().running:
            return ActionResult(False, "No session is running: press Start first.")
    except redis.RedisError as exc:
        log.warning("stop: Redis unavailable: %s", exc)
        return ActionResult(False, REDIS_DOWN)
    return _ask(reader, "stop", "Stopped and saved.", "The engine could not stop.")


def correct_workout(reader: LiveReader, catalog: Catalog, workout: object) -> ActionResult:
    """Auto mode recognised the wrong workout: the current interval is ``workout``, re-counted."""
    if not isinstance(workout, str) or len(workout) > MAX_NAME or workout.strip() not in catalog.workouts:
        return ActionResult(False, "Pick the workout you are doing from the buttons.")
    return _ask(
        reader, "correct", f"Now counting {workout}.", "The engine could not correct it.", workout=workout
    )


def _ask(reader: LiveReader, action: str, done: str, failed: str, **fields: str) -> ActionResult:
    """Send a command and wait for the engine's answer, as an `ActionResult`."""
    try:
        answer = reader.wait_command(reader.send_command(action, **fields), COMMAND_TIMEOUT_S)
    except redis.RedisError as exc:
        log.warning("%s: Redis unavailable: %s", action, exc)
        return ActionResult(False, REDIS_DOWN)
    if answer is None:
        return ActionResult(
            False, f"The engine did not answer within {COMMAND_TIMEOUT_S:g} s: is `hiitpi serve` running?"
        )
    ok, message = answer
    return ActionResult(ok, message or (done if ok else failed))


def _sentence(text: str) -> str:
    text = text.strip()
    return text[:1].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")
