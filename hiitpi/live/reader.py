"""The web side's view of the live bus: the state hash, the stream from an id, and sending commands.

Reading never removes anything (``XREAD``/``XRANGE`` from an id the caller keeps), so any number
of readers see the same entries in the same order.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator

import redis

from hiitpi.errors import InputError
from hiitpi.live.contract import COMMANDS_MAXLEN, LiveEntry, LiveKeys, LiveState, validate_command
from hiitpi.live.redisconn import make_client

log = logging.getLogger(__name__)


class CommandRejected(InputError, ValueError):
    """A command the engine would refuse anyway (unknown action, bad player name)."""


class LiveReader:
    def __init__(self, url: str, keys: LiveKeys, *, client: redis.Redis | None = None):
        self.keys = keys
        self.client = client or make_client(url, timeout_s=5.0)

    def state(self) -> dict[str, str]:
        """The state hash as it is on the wire (field → string)."""
        raw = self.client.hgetall(self.keys.state)
        return {k.decode(): v.decode() for k, v in raw.items()}

    def live_state(self) -> LiveState:
        """The state hash decoded (`LiveState`); an empty hash gives the defaults."""
        return LiveState.decode(self.client.hgetall(self.keys.state))

    def session_running(self, *, stale_s: float = 30.0) -> bool:
        """Whether the engine says a session runs now. False when the bus does not answer or the
        state is older than ``stale_s`` (no engine is running then to compete with)."""
        try:
            st = self.live_state()
        except redis.RedisError:
            return False
        return st.running and time.time() - st.updated < stale_s

    def read(
        self, after: str = "0-0", *, count: int | None = None, block_ms: int | None = None
    ) -> list[LiveEntry]:
        """Entries after ``after`` (an id; "0-0" for all, "$" for only new ones)."""
        res = self.client.xread({self.keys.stream: after}, count=count, block=block_ms)
        if not res:
            return []
        _key, entries = res[0]
        return [LiveEntry.decode(i, f) for i, f in entries]

    def history(self, start: str = "-", end: str = "+", *, count: int | None = None) -> list[LiveEntry]:
        return [
            LiveEntry.decode(i, f) for i, f in self.client.xrange(self.keys.stream, start, end, count=count)
        ]

    def last_id(self) -> str:
        """The newest entry's id ("0-0" when empty): follow from here to see only what comes next."""
        last = self.client.xrevrange(self.keys.stream, count=1)
        return last[0][0].decode() if last else "0-0"

    def follow(self, after: str | None = None, *, block_ms: int = 1000, stop=None) -> Iterator[LiveEntry]:
        """Yield entries as they arrive, forever (or until ``stop`` is set)."""
        cursor = after or self.last_id()
        while stop is None or not stop.is_set():
            for entry in self.read(cursor, block_ms=block_ms, count=500):
                cursor = entry.id
                yield entry

    def send_command(
        self,
        action: str,
        *,
        player: str | None = None,
        workout: str | None = None,
        counting: str | None = None,
    ) -> str:
        """Append a command for the engine; returns its id (the engine echoes it as ``cmd_id``)."""
        problem = validate_command(action, player, workout, counting)
        if problem:
            raise CommandRejected(problem)
        fields = {"action": action, "sent": repr(time.time())}
        if player:
            fields["player"] = player.strip()
        if workout:
            fields["workout"] = workout
        if counting:
            fields["counting"] = counting
        cid = self.client.xadd(self.keys.commands, fields, maxlen=COMMANDS_MAXLEN, approximate=True)
        return cid.decode()

    def wait_command(self, command_id: str, timeout_s: float = 3.0) -> tuple[bool, str] | None:
        """(ok, message) once the engine has handled ``command_id``; None on time-out."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            st = self.client.hmget(self.keys.state, ["cmd_id", "cmd_ok", "cmd_message"])
            if st[0] is not None and st[0].decode() == command_id:
                return st[1] == b"1", (st[2] or b"").decode()
            time.sleep(0.02)
        return None

    def close(self) -> None:
        self.client.close()
