"""The engine's command inbox: a thread that follows the command stream and queues what it reads.

Only the engine reads this stream. It starts from the newest command present when it starts (old
commands are not replayed), keeps its cursor across Redis outages, and backs off while Redis is down.
"""

from __future__ import annotations

import logging
import queue
import threading

import redis

from hiitpi.backoff import Backoff
from hiitpi.live.contract import LiveCommand, LiveKeys
from hiitpi.live.redisconn import make_client

log = logging.getLogger(__name__)


class CommandListener:
    def __init__(self, url: str, keys: LiveKeys, *, block_ms: int = 250, backoff_max_s: float = 5.0):
        self.keys = keys
        self.block_ms = block_ms
        self.backoff_max_s = backoff_max_s
        self.client = make_client(url, timeout_s=block_ms / 1000 + 1.0)
        self.inbox: queue.Queue[LiveCommand] = queue.Queue()
        self._cursor: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start following. The starting point is taken now when Redis answers, so a command
        sent after this returns is never missed."""
        try:
            self._cursor = self._last_id()
        except redis.RedisError as exc:
            log.debug("command stream unavailable at start (%s); will retry", exc)
        self._thread = threading.Thread(target=self._run, name="live-commands", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=3)
        self.client.close()

    def _last_id(self) -> str:
        last = self.client.xrevrange(self.keys.commands, count=1)
        return last[0][0].decode() if last else "0-0"

    def drain(self) -> list[LiveCommand]:
        out = []
        while True:
            try:
                out.append(self.inbox.get_nowait())
            except queue.Empty:
                return out

    def _run(self) -> None:
        backoff = Backoff(0.2, self.backoff_max_s)
        while not self._stop.is_set():
            try:
                if self._cursor is None:
                    self._cursor = self._last_id()
                res = self.client.xread({self.keys.commands: self._cursor}, block=self.block_ms, count=50)
            except redis.RedisError as exc:
                delay = backoff.next()
                log.debug("command stream unavailable (%s); retrying in %.1f s", exc, delay)
                if self._stop.wait(delay):
                    return
                continue
            backoff.reset()
            for _key, entries in res or []:
                for entry_id, fields in entries:
                    cmd = LiveCommand.decode(entry_id, fields)
                    self._cursor = cmd.id
                    log.info(
                        "command %s: %s player=%s workout=%s", cmd.id, cmd.action, cmd.player, cmd.workout
                    )
                    self.inbox.put(cmd)
