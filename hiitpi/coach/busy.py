"""Whether the chat must wait while a session runs: ``[coach] chat_during_session``.

- ``"refuse"``: while a session runs, a question gets "the coach is busy, try again after your
  session", and an answer being written stops when a session starts;
- ``"allow"``: the chat answers during a session, niced (``[coach] nice``) and under its time limit;
- ``"auto"`` (the default): ``refuse`` on a Raspberry Pi 4 or older (Pi 3, Pi 400, CM4, Zero 2),
  whose four Cortex-A72/A53 cores are taken by the camera, the pose model and the web server
  while a session runs and whose llama.cpp speed (about 3 tokens/s) would keep the answer coming
  for a minute; ``allow`` on a Pi 5 and on anything that is not a Raspberry Pi.

The board is read from the device tree (``/proc/device-tree/model``, e.g. "Raspberry Pi 4 Model
B Rev 1.4"); the coach logs at start which policy is in force and why.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

DEVICE_TREE_MODEL = Path("/proc/device-tree/model")
#: Boards that refuse chats during a session under "auto".
_SMALL_BOARD = re.compile(r"raspberry pi (?:[1-4]\b|400\b|zero|compute module [1-4]\b|model [ab]\b)", re.I)


def board_model(path: Path = DEVICE_TREE_MODEL) -> str | None:
    """The device tree's board name, or None (not an ARM board with a device tree)."""
    try:
        return path.read_bytes().rstrip(b"\0").decode("utf-8", "replace").strip() or None
    except OSError:
        return None


def refuses_during_session(policy: str, board: str | None) -> bool:
    """Whether ``policy`` ("auto", "refuse", "allow") refuses chats during a session on ``board``."""
    if policy == "refuse":
        return True
    if policy == "allow":
        return False
    return bool(board and _SMALL_BOARD.search(board))


def describe_policy(policy: str, board: str | None) -> str:
    """One line for the log and `serve --check`."""
    refuse = refuses_during_session(policy, board)
    what = "waits until the session ends" if refuse else "answers during a session (niced)"
    where = f" on {board}" if board else " (not a Pi 4 or smaller)"
    why = f"[coach] chat_during_session = {policy!r}" + (where if policy == "auto" else "")
    return f"chat {what} ({why})"


def busy_probe(
    policy: str, session_running: Callable[[], bool], board: str | None = None
) -> Callable[[], bool]:
    """``busy()`` for the chat: true while a session runs, when the policy refuses that."""
    if board is None and policy == "auto":
        board = board_model()
    if not refuses_during_session(policy, board):
        return lambda: False
    return session_running
