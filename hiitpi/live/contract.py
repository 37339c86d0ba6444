"""The Redis contract between the analysis side (one engine) and the web side (any number of readers).

Every key lives under ``settings.redis.prefix`` (default ``hiitpi``):

``{prefix}:live`` — a stream, appended with ``XADD … MAXLEN ~ stream_maxlen``. Each entry has a
``type``:

- ``sample``: an analysed frame, at most ``[redis] sample_fps`` a second (and with every frame
  that has events). ``seq`` (frame number), ``ts`` (the referee's clock, s),
  ``wall`` (Unix time, s), ``session``, ``score`` (pose score, "" with no person), ``kp`` (JSON
  ``[[x, y, score] × 17]``, x/y in 0..1 of the frame, "" with no person), ``stages`` (JSON
  ``{stage: ms}``), ``age_ms`` (frame captured → entry written, without the pose model).
- ``event``: ``kind`` (``rep``, ``no_rep``, ``fault``, ``hold_tick`` from the referee;
  ``session_start``, ``session_stop``, ``status`` from the engine), ``session``, ``ts``,
  ``wall``, ``count`` (reps so far), ``data`` (JSON: the referee event's fields, or the session's
  player/workout, or a status message).

``{prefix}:state`` — a hash, the current state (`LiveState`: its fields are the hash's keys, every
value a string; `LiveState.encode`/`LiveState.decode` are the only way either side writes or reads
it). Only fields that changed are written, and the whole hash now and then; the clocks and
counters in `VOLATILE_FIELDS` go out with the next sample or event, every other change at once.
The hash is written before the entries of the same frame, so a reader woken by an entry finds a
state at least as new.

``{prefix}:commands`` — a stream the web side appends to (``XADD``, capped) and only the engine
reads: ``action`` (``start``, ``stop``, ``switch``, ``correct``: the workout auto mode recognised was
wrong, re-count the current interval as ``workout``), ``player``, ``workout``, ``counting`` (a
start's counting convention, ``judge`` or ``attempts``; empty: the settings'), ``sent`` (Unix time).

Readers use ``XREAD``/``XRANGE`` from an id they keep: nothing is ever popped, so every viewer
sees the same entries in the same order.
"""

from __future__ import annotations

import json
import operator
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np

ENTRY_SAMPLE = "sample"
ENTRY_EVENT = "event"
COMMAND_ACTIONS = ("start", "stop", "switch", "correct")
#: Cap on the command stream: commands are consumed within a frame or two.
COMMANDS_MAXLEN = 1000
MAX_PLAYER_LEN = 64


@dataclass(frozen=True, slots=True)
class LiveKeys:
    prefix: str = "hiitpi"

    @property
    def stream(self) -> str:
        return f"{self.prefix}:live"

    @property
    def state(self) -> str:
        return f"{self.prefix}:state"

    @property
    def commands(self) -> str:
        return f"{self.prefix}:commands"


def _num(value: float | None, digits: int = 4) -> str:
    return "" if value is None else repr(round(float(value), digits))


def _kp_format(n: int) -> str:
    """``[[%.4f,%.4f,%.4f],…]`` for n points: the keypoints' JSON in one formatting step."""
    fmt = "[" + ",".join(["[%.4f,%.4f,%.4f]"] * n) + "]"
    _KP_FORMATS[n] = fmt
    return fmt


_KP_FORMATS: dict[int, str] = {}


def encode_sample(
    *,
    seq: int,
    ts: float,
    wall: float,
    session: str,
    keypoints: np.ndarray | None,
    score: float | None,
    stages: dict[str, float],
    age_ms: float | None = None,
) -> dict[str, str]:
    kp = ""
    if keypoints is not None:
        pts = keypoints[:, :3]
        if np.isfinite(pts).all():
            kp = (_KP_FORMATS.get(len(pts)) or _kp_format(len(pts))) % tuple(pts.ravel().tolist())
        else:  # never from a backend; JSON's NaN rather than a broken entry
            kp = json.dumps(np.round(pts.astype(np.float64), 4).tolist(), separators=(",", ":"))
    return {
        "type": ENTRY_SAMPLE,
        "seq": str(seq),
        "ts": _num(ts),
        "wall": _num(wall, 3),
        "session": session,
        "score": _num(score),
        "kp": kp,
        "stages": json.dumps({k: round(v, 3) for k, v in stages.items()}, separators=(",", ":")),
        "age_ms": _num(age_ms, 3),
    }


def encode_event(
    kind: str, *, ts: float, wall: float, session: str, count: int, data: dict[str, Any]
) -> dict[str, str]:
    return {
        "type": ENTRY_EVENT,
        "kind": kind,
        "ts": _num(ts),
        "wall": _num(wall, 3),
        "session": session,
        "count": str(count),
        "data": json.dumps(data, separators=(",", ":"), default=str),
    }


def encode_state_value(value: Any) -> str:
    """One state field's value as the hash holds it."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return repr(round(value, 4))
    if isinstance(value, list | tuple | set | frozenset):
        return ",".join(sorted(str(v) for v in value))
    return str(value)


@dataclass(slots=True)
class LiveState:
    """What every viewer sees of the engine right now: the ``{prefix}:state`` hash.

    Session fields (``session`` … ``elapsed``) describe the running session, or after it ended the
    one that just finished (``running`` false). Program fields are empty without a HIIT program.
    ``degraded`` names the parts that are not working (``source``, ``store``, ``analysis``…).
    ``cmd_*`` echo the last command the engine handled, so a sender can wait for its answer.
    """

    session: str = ""
    player: str = ""
    workout: str = ""
    running: bool = False
    phase: str = ""
    reps: int = 0
    no_reps: int = 0
    attempts: int = 0  # every attempted rep of this interval (full or not)
    total_reps: int = 0  # the whole session, every interval of a program
    total_no_reps: int = 0
    total_attempts: int = 0
    full_reps: int = 0  # the whole session's full-range reps (= total_reps when judging)
    counting: str = ""  # judge | attempts: the session's counting convention
    pace: float = (
        0.0  # reps per minute over the pace window, at the newest frame (0 in a long rest, after stop)
    )
    avg_pace: float | None = None  # the session's reps per minute of its time so far (None: too short yet)
    elapsed: float = 0.0  # seconds since the session's first frame
    t0: float | None = None  # referee clock at the session's first frame (running, else the last one)
    store_id: int | None = None  # the running session's id in the history store
    program: str = ""
    program_elapsed: float | None = None
    round: int | None = None
    rounds: int | None = None
    segment: str = ""  # work | rest
    remaining: float | None = None  # seconds left in the program's current segment
    auto: bool = False  # auto mode: the workout is recognised, not picked
    recognised: str = ""  # auto mode: the workout the recogniser holds ("" none yet, or rest)
    confidence: float | None = None  # auto mode: its probability, 0..1
    choices: tuple[str, ...] = ()  # auto mode: the next likeliest workouts, for a one-tap correction
    #: where the body's up points in the picture, read from the body by the interval's referee: 0
    #: upright (or not read), 90/180/270 a camera on its side or upside down, counted as if upright
    turn: int = 0
    #: the picture is darker than the pose model's exposure can make up for (`hiitpi.pose.exposure`:
    #: brightened by its most, 4 times, in the newest frame)
    dark: bool = False
    fps: float = 0.0
    dropped: int = 0
    source: str = ""
    source_restarts: int = 0
    degraded: tuple[str, ...] = ()
    redis_reconnects: int = 0
    updated: float = 0.0  # Unix time of this state
    cmd_id: str = ""
    cmd_ok: bool | None = None
    cmd_message: str = ""

    def encode(self) -> dict[str, str]:
        """The hash's fields: every value a string ("" for None, "1"/"0" for booleans)."""
        return {name: encode_state_value(getattr(self, name)) for name in _STATE_FIELDS}

    @classmethod
    def decode(cls, raw: dict) -> LiveState:
        """A state from the hash (bytes or str); unknown keys are ignored, bad numbers are defaults."""
        f = {_s(k): _s(v) for k, v in raw.items()}
        out = cls()
        for name, kind in _STATE_FIELDS.items():
            text = f.get(name)
            if text is None:
                continue
            try:
                if kind is bool:
                    value: Any = None if text == "" else text == "1"
                elif kind is tuple:
                    value = tuple(x for x in text.split(",") if x)
                elif kind in (int, float):
                    value = None if text == "" else kind(float(text)) if kind is int else float(text)
                else:
                    value = text
            except ValueError:
                continue
            if value is None and getattr(out, name) is not None:
                continue  # "" for a field that has a default: keep the default
            setattr(out, name, value)
        return out


def _field_kind(annotation: str) -> type:
    for kind in (bool, int, float, tuple):
        if annotation.startswith(kind.__name__):
            return kind
    return str


#: Field name → the type its string is decoded to.
_STATE_FIELDS: dict[str, type] = {f.name: _field_kind(str(f.type)) for f in fields(LiveState)}
#: The hash's fields, in the order `state_values` gives their values.
STATE_FIELD_NAMES: tuple[str, ...] = tuple(_STATE_FIELDS)
#: Every field's value of a `LiveState`, as a tuple in `STATE_FIELD_NAMES` order (one C call).
state_values = operator.attrgetter(*STATE_FIELD_NAMES)
#: Fields that move on nearly every frame (clocks, rates, the drop counter): a change of theirs
#: alone does not make a write; it goes out with the next sample or event.
VOLATILE_FIELDS: frozenset[str] = frozenset(
    {"updated", "elapsed", "program_elapsed", "remaining", "fps", "pace", "dropped"}
)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


@dataclass(slots=True)
class LiveEntry:
    """One decoded stream entry."""

    id: str
    type: str
    session: str
    ts: float | None
    wall: float | None
    kind: str | None = None
    count: int | None = None
    data: dict[str, Any] = field(default_factory=dict)
    seq: int | None = None
    score: float | None = None
    keypoints: list[list[float]] | None = None
    stages: dict[str, float] = field(default_factory=dict)
    age_ms: float | None = None

    @classmethod
    def decode(cls, entry_id: Any, fields: dict) -> LiveEntry:
        f = {_s(k): _s(v) for k, v in fields.items()}

        def num(key: str) -> float | None:
            v = f.get(key, "")
            return float(v) if v else None

        common = {"id": _s(entry_id), "type": f.get("type", ""), "session": f.get("session", "")}
        if common["type"] == ENTRY_EVENT:
            return cls(
                **common,
                ts=num("ts"),
                wall=num("wall"),
                kind=f.get("kind"),
                count=int(f.get("count") or 0),
                data=json.loads(f["data"]) if f.get("data") else {},
            )
        return cls(
            **common,
            ts=num("ts"),
            wall=num("wall"),
            seq=int(f["seq"]) if f.get("seq") else None,
            score=num("score"),
            keypoints=json.loads(f["kp"]) if f.get("kp") else None,
            stages=json.loads(f["stages"]) if f.get("stages") else {},
            age_ms=num("age_ms"),
        )


@dataclass(frozen=True, slots=True)
class LiveCommand:
    """start {player, workout, counting} | stop | switch {workout} | correct {workout}: sent by the
    web side, run by the engine."""

    id: str
    action: str
    player: str | None = None
    workout: str | None = None
    counting: str | None = None

    @classmethod
    def decode(cls, entry_id: Any, fields: dict) -> LiveCommand:
        f = {_s(k): _s(v) for k, v in fields.items()}
        return cls(
            id=_s(entry_id),
            action=f.get("action", ""),
            player=f.get("player") or None,
            workout=f.get("workout") or None,
            counting=f.get("counting") or None,
        )


#: A start's counting conventions (`hiitpi.referee.machine.COUNTING`).
COUNTINGS = ("judge", "attempts")


def validate_command(
    action: str, player: str | None, workout: str | None, counting: str | None = None
) -> str | None:
    """The reason a command is malformed, or None. (Whether the workout exists is the engine's call.)"""
    if action not in COMMAND_ACTIONS:
        return f"unknown action {action!r}; use one of {', '.join(COMMAND_ACTIONS)}"
    if counting is not None and counting not in COUNTINGS:
        return f"counting must be one of {', '.join(COUNTINGS)}, not {counting[:20]!r}"
    if player is not None and not (0 < len(player.strip()) <= MAX_PLAYER_LEN):
        return f"player name must be 1..{MAX_PLAYER_LEN} characters"
    if action in ("switch", "correct") and not workout:
        return f"{action} needs a workout"
    return None
