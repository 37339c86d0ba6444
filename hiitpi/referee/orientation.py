"""Which way is up in the picture, read from the body itself.

A camera stood on its side, or a phone video whose rotation was not applied when it was
decoded, shows a standing person lying along a side of the frame: every height then reads
sideways, and the standing workouts' anatomical floor (the shoulders above the hips) drops every
pose as a glitch. The body says which way is up, in a way each workout's rules name (`up_cue`):

- ``standing``: the torso (hips to shoulders) and the whole body (ankles to nose) point up — the
  body within `AXIS_TOLERANCE_DEG` of the direction, the torso within its quadrant. Two axes, not
  one: a squat's forward lean tips the torso past 70° (RepCount-A's squatters lean up to 78°) while
  the head stays over the feet; a pose model that swaps the hips and shoulders for a while
  (Countix squat027) turns the torso alone.
- ``hands``: the hands under the shoulders (push-ups, planks), with the body's line across that.
- ``knees``: lying with the knees bent up (sit-ups), the legs lying across that and not seen
  end-on (from the feet the legs say nothing), the torso across it too (lying, or rising); or,
  where the knees do not say, sitting up: the torso up with the legs out across it. The line from
  hips to ankles of bent legs is short (the feet are near the hips), so the legs' own length
  (thighs and shins), not that line, tells legs seen end-on. In one picture a deep squat, a
  forward fold or straight legs raised from lying look like a sit-up's postures turned by a
  quarter: getting down to the mat so for longer than `EVIDENCE_S` reads the picture as turned,
  and the set's sit-ups then read it upright again (below).

Each pose that says votes for one of four turns, weighted by the time it covers; a pose identical
to the one before (a frozen or repeated frame: nothing in it moved by `STILL_TORSO` torso lengths)
does not vote. The turn is read
once a set, at its start: when `EVIDENCE_S` seconds of votes agree on a turn (`SHARE` of the votes
cast), within the set's first `GIVE_UP_S` seconds (after that the picture is upright). A camera on
its side is on its side from the first pose, while someone lying down in the middle of a set of
lunges (Countix lunge17, 15 s in) is lying down. Seconds of votes, not a share of the poses: a
pose model's garbage (squat027) leaves most poses without a vote and its few agreements never add
up, while a push-up's set-up leaves many poses without one and its votes still add up. When the
picture reads turned, the poses seen so far are measured again turned back (the set's first reps
are not lost). A turned reading goes back to upright when `EVIDENCE_S` seconds of the votes cast
in the last `WINDOW_S` seconds name upright, `SHARE` of them (someone who lay down before the set,
or an interval that began with the last exercise's poses, and stood up; a sit-up set read as
turned from the squat or the forward fold that got the person down to the mat: lying, only some
of a sit-up's poses vote).
"""

from __future__ import annotations

import math
from collections import deque

from hiitpi.pose.types import KEYPOINT_INDEX

#: the picture's turns, by where the body's "up" points in it: the keypoints are turned back
#: by the opposite turn (0 upright, 90 up points right, 180 up points down, 270 up points left)
TURNS: tuple[int, ...] = (0, 90, 180, 270)
#: the whole body within this many degrees of a direction, and the torso within its quadrant (a
#: squat's lean tips the torso 30–60°), or the pose does not vote
AXIS_TOLERANCE_DEG = 30.0
TORSO_TOLERANCE_DEG = 45.0
#: a sit-up's knees this share of the hips-to-ankles length off their line, or the legs do not say
KNEE_BEND = 0.2
#: the feet nearer the hips than this share of the torso: the knee folded past a sit-up's bend
#: (thighs and shins each about a torso long: a knee bent to 30° or less), as kneeling on the heels
FOLDED_FEET = 0.5
#: a turn is read when this many seconds of votes name it, and they are this share of the votes
EVIDENCE_S = 1.5
SHARE = 0.8
#: after this long into a set without a reading the picture is upright
GIVE_UP_S = 10.0
#: a turned reading is undone by `EVIDENCE_S` seconds of upright votes within this many seconds
WINDOW_S = 3.0
#: a pose votes only if some keypoint moved this many torso lengths since the pose before
STILL_TORSO = 0.005
#: a vote covers the time since the pose before, at most this (a gap in the video is no evidence)
MAX_VOTE_S = 0.1

_NOSE = KEYPOINT_INDEX["nose"]
_LS, _RS = KEYPOINT_INDEX["left_shoulder"], KEYPOINT_INDEX["right_shoulder"]
_LH, _RH = KEYPOINT_INDEX["left_hip"], KEYPOINT_INDEX["right_hip"]
_LA, _RA = KEYPOINT_INDEX["left_ankle"], KEYPOINT_INDEX["right_ankle"]
_LW, _RW = KEYPOINT_INDEX["left_wrist"], KEYPOINT_INDEX["right_wrist"]
_LK, _RK = KEYPOINT_INDEX["left_knee"], KEYPOINT_INDEX["right_knee"]


def _mid(px: list, a: int, b: int, min_score: float) -> tuple[float, float] | None:
    pa, pb = px[a], px[b]
    if pa[2] >= min_score and pb[2] >= min_score:
        return (pa[0] + pb[0]) * 0.5, (pa[1] + pb[1]) * 0.5
    if pa[2] >= min_score:
        return pa[0], pa[1]
    if pb[2] >= min_score:
        return pb[0], pb[1]
    return None


def _direction(dx: float, dy: float, tolerance_deg: float) -> int | None:
    """The turn whose "up" the image vector (dx, dy) points along (y grows downwards), or None."""
    if dx == 0.0 and dy == 0.0:
        return None
    # 0° = up the picture, clockwise on screen
    a = math.degrees(math.atan2(dx, -dy)) % 360.0
    turn = round(a / 90.0) % 4 * 90
    off = abs((a - turn + 180.0) % 360.0 - 180.0)
    return turn if off <= tolerance_deg else None


def _standing(px: list, min_score: float) -> int | None:
    """The torso (hips to shoulders, within its quadrant) and the whole body (ankles to nose,
    within `AXIS_TOLERANCE_DEG`) point the same way."""
    sh = _mid(px, _LS, _RS, min_score)
    hip = _mid(px, _LH, _RH, min_score)
    ank = _mid(px, _LA, _RA, min_score)
    nose = px[_NOSE]
    if sh is None or hip is None or ank is None or nose[2] < min_score:
        return None
    torso = _direction(sh[0] - hip[0], sh[1] - hip[1], TORSO_TOLERANCE_DEG)
    if torso is None:
        return None
    return torso if _direction(nose[0] - ank[0], nose[1] - ank[1], AXIS_TOLERANCE_DEG) == torso else None


def _across(turn: int, a: tuple[float, float], b: tuple[float, float], torso: float) -> bool:
    """The body's line from ``a`` to ``b`` lies across ``turn``'s up (more than 45° off it either
    way), or is foreshortened to under a torso's length (seen end-on)."""
    dx, dy = b[0] - a[0], b[1] - a[1]
    if math.hypot(dx, dy) < torso:
        return True
    along = _direction(dx, dy, 45.0)
    return along is None or (along - turn) % 180 != 0


def _torso(px: list, min_score: float) -> float:
    sh = _mid(px, _LS, _RS, min_score)
    hip = _mid(px, _LH, _RH, min_score)
    return 0.0 if sh is None or hip is None else math.hypot(sh[0] - hip[0], sh[1] - hip[1])


def _hands(px: list, min_score: float) -> int | None:
    """The hands under the shoulders (a plank, a push-up, on all fours): wrists to shoulders, with
    the body's line (ankles to shoulders) across it."""
    sh = _mid(px, _LS, _RS, min_score)
    wr = _mid(px, _LW, _RW, min_score)
    ank = _mid(px, _LA, _RA, min_score)
    if sh is None or wr is None or ank is None:
        return None
    turn = _direction(sh[0] - wr[0], sh[1] - wr[1], AXIS_TOLERANCE_DEG)
    if turn is None or not _across(turn, ank, sh, _torso(px, min_score)):
        return None
    return turn


def _knees(px: list, min_score: float) -> int | None:
    """A sit-up: lying with the knees bent up (`_knees_up`), else sitting up (`_sitting_up`)."""
    hip = _mid(px, _LH, _RH, min_score)
    knee = _mid(px, _LK, _RK, min_score)
    ank = _mid(px, _LA, _RA, min_score)
    if hip is None or knee is None or ank is None:
        return None
    turn = _knees_up(px, hip, knee, ank, min_score)
    return turn if turn is not None else _sitting_up(px, hip, ank, min_score)


def _knees_up(px: list, hip: tuple, knee: tuple, ank: tuple, min_score: float) -> int | None:
    """The knees' offset from the line of hips and ankles, at least `KNEE_BEND` of that line's
    length (straight legs do not say), with that line across it and the legs (thighs and shins) at
    least a torso long (legs seen from the feet, foreshortened, do not say); the feet at least
    `FOLDED_FEET` of a torso from the hips (a knee folded under, as kneeling on the heels, does
    not say); and the torso across the knees' direction too (lying, or risen less than halfway:
    RepCount-A's stu2_62, filmed from the feet, reads knees and torso along one direction)."""
    dx, dy = 2.0 * knee[0] - hip[0] - ank[0], 2.0 * knee[1] - hip[1] - ank[1]
    feet = math.hypot(ank[0] - hip[0], ank[1] - hip[1])
    if math.hypot(dx, dy) < 2.0 * KNEE_BEND * feet:
        return None
    turn = _direction(dx, dy, AXIS_TOLERANCE_DEG)
    if turn is None:
        return None
    torso = _torso(px, min_score)
    legs = math.hypot(knee[0] - hip[0], knee[1] - hip[1]) + math.hypot(ank[0] - knee[0], ank[1] - knee[1])
    if legs < torso or feet < FOLDED_FEET * torso:
        return None
    sh = _mid(px, _LS, _RS, min_score)
    if sh is not None and not _across(turn, hip, sh, 0.0):
        return None
    return turn if _across(turn, hip, ank, 0.0) else None


def _sitting_up(px: list, hip: tuple, ank: tuple, min_score: float) -> int | None:
    """The torso (hips to shoulders, within its quadrant) with the legs out across it, hips to
    ankles at least a torso long: the top of a sit-up, whatever the knees do."""
    sh = _mid(px, _LS, _RS, min_score)
    if sh is None:
        return None
    turn = _direction(sh[0] - hip[0], sh[1] - hip[1], TORSO_TOLERANCE_DEG)
    if turn is None or math.hypot(ank[0] - hip[0], ank[1] - hip[1]) < _torso(px, min_score):
        return None
    return turn if _across(turn, hip, ank, 0.0) else None


#: how the body shows which way is up, by the rules' `up_cue`
CUES = {"standing": _standing, "hands": _hands, "knees": _knees}


def body_turn(px: list, min_score: float, cue: str = "standing") -> int | None:
    """Where the body's up points in one pose (pixel keypoints), read by ``cue`` (`CUES`); None
    when a point is missing or the pose does not say."""
    return CUES[cue](px, min_score)


def turn_back(px: list | None, turn: int, width: float, height: float) -> list | None:
    """Pixel keypoints of a picture turned by ``turn`` (where up points), as the upright picture
    would show them (its frame is ``height`` × ``width`` for a quarter turn); None stays None."""
    if px is None or turn == 0:
        return px
    if turn == 90:  # up points right: turn the picture a quarter anticlockwise
        return [[p[1], width - p[0], p[2]] for p in px]
    if turn == 270:  # up points left: a quarter clockwise
        return [[height - p[1], p[0], p[2]] for p in px]
    return [[width - p[0], height - p[1], p[2]] for p in px]


def _moved(before: list | None, now: list, min_score: float) -> bool:
    """Some keypoint seen in both poses moved by `STILL_TORSO` torso lengths or more."""
    if before is None:
        return False
    torso = _torso(now, min_score)
    if torso <= 0.0:
        return False
    limit = STILL_TORSO * torso
    return any(
        a[2] >= min_score and b[2] >= min_score and abs(a[0] - b[0]) + abs(a[1] - b[1]) >= limit
        for a, b in zip(before, now, strict=True)
    )


class _Tally:
    """Seconds of votes by turn, kept as they come and go."""

    __slots__ = ("by_turn",)

    def __init__(self):
        self.by_turn = dict.fromkeys(TURNS, 0.0)

    def add(self, vote: int | None, seconds: float) -> None:
        if vote is not None:
            self.by_turn[vote] += seconds

    def reading(self, evidence_s: float = EVIDENCE_S) -> int | None:
        """The turn ``evidence_s`` seconds of votes name, `SHARE` of all votes cast; else None."""
        turn = max(TURNS, key=self.by_turn.__getitem__)
        votes = self.by_turn[turn]
        if votes < evidence_s - 1e-9:
            return None
        return turn if votes >= SHARE * sum(self.by_turn.values()) else None


class Orientation:
    """``update(px, t, width, height)`` (px None: nobody seen) reads the picture's turn from the
    body (by the rule's cue) and returns the keypoints as the upright picture would show them, and
    — on the pose that decides the picture is turned — the set's poses so far (None where nobody
    was seen), turned back, to be measured again. ``turn`` is the current reading (0 upright)."""

    __slots__ = (
        "_first",
        "_last_px",
        "_last_t",
        "_recent",
        "_seen",
        "_tally",
        "_window",
        "cue",
        "decided",
        "min_score",
        "turn",
    )

    def __init__(self, cue: str = "standing", min_score: float = 0.2):
        if cue not in CUES:
            raise ValueError(f"up cue must be one of {', '.join(CUES)}, not {cue!r}")
        self.cue = cue
        self.min_score = min_score
        self.reset()

    def reset(self) -> None:
        """A new set: the turn is read again."""
        self.turn = 0
        self.decided = False
        #: the set's poses (pixel keypoints or None, time, frame size) until the turn is decided
        self._seen: list[tuple[list | None, float, float, float]] = []
        self._first: float | None = None  # when the set's first person was seen
        self._last_t: float | None = None
        self._last_px: list | None = None
        self._tally = _Tally()  # the set's votes until the turn is decided
        #: a turned picture's last WINDOW_S seconds of votes (time, vote, seconds), to see it upright
        self._recent: deque[tuple[float, int | None, float]] = deque()
        self._window = _Tally()

    def update(
        self, px: list | None, t: float, width: float, height: float
    ) -> tuple[list | None, list[tuple[list | None, float]] | None]:
        """(keypoints as upright, the set's poses turned back when a turn was just read, else None)."""
        if self.decided and not self.turn:
            return px, None  # upright for the rest of the set: nothing more to read
        vote = None if px is None else CUES[self.cue](px, self.min_score)
        if vote is not None and not _moved(self._last_px, px, self.min_score):
            vote = None  # a frozen frame is not more evidence
        dt = 0.0 if self._last_t is None else min(max(t - self._last_t, 0.0), MAX_VOTE_S)
        self._last_t = t
        self._last_px = px
        replay = None
        if not self.decided:
            self._seen.append((px, t, width, height))
            if px is not None:
                self._tally.add(vote, dt)
                if self._first is None:
                    self._first = t
                replay = self._decide(t)
        elif px is not None:
            recent, window = self._recent, self._window
            recent.append((t, vote, dt))
            window.add(vote, dt)
            while t - recent[0][0] > WINDOW_S:
                _, v, d = recent.popleft()
                window.add(v, -d)
            if window.reading() == 0:
                self.turn = 0  # stood up after lying down, or a sit-up set read turned by getting down
        return turn_back(px, self.turn, width, height), replay

    @property
    def leaning(self) -> bool:
        """Not read yet, and most of the votes so far name a turn: the picture may well be turned."""
        if self.decided:
            return False
        by = self._tally.by_turn
        turn = max(TURNS, key=by.__getitem__)
        return turn != 0 and by[turn] > 0.0

    def _decide(self, t: float) -> list[tuple[list | None, float]] | None:
        turn = self._tally.reading()
        if turn is None and t - self._first < GIVE_UP_S:
            return None
        self.decided = True
        replay = None
        if turn:
            self.turn = turn
            replay = [(turn_back(p, turn, w, h), tp) for p, tp, w, h in self._seen]
        self._seen = []
        return replay
