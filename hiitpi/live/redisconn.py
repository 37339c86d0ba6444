"""Redis clients for the live bus: short time-outs and no hidden retries, so a dead server costs
the caller one fast failure, never a stall."""

from __future__ import annotations

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


def make_client(url: str, *, timeout_s: float = 1.0) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_connect_timeout=min(timeout_s, 0.5),
        socket_timeout=timeout_s,
        retry=Retry(NoBackoff(), 0),
        health_check_interval=0,
    )


def make_async_client(url: str, *, timeout_s: float = 1.0, max_connections: int | None = None):
    """The same for an event loop (`redis.asyncio`): the web server's one live-feed reader.
    ``max_connections`` caps its pool (callers beyond it wait for a free connection), so a burst of
    phones opening the page does not leave a connection each open in Redis."""
    import redis.asyncio
    from redis.asyncio.retry import Retry as AsyncRetry

    options = dict(
        socket_connect_timeout=min(timeout_s, 0.5),
        socket_timeout=timeout_s,
        retry=AsyncRetry(NoBackoff(), 0),
        health_check_interval=0,
    )
    if max_connections is None:
        return redis.asyncio.Redis.from_url(url, **options)
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=max_connections, timeout=timeout_s, **options
    )
    return redis.asyncio.Redis(connection_pool=pool)


class OneInFlight:
    """Writes on one connection of ``client``'s pool, with at most one write's replies unread.

    ``send(commands)`` packs the commands into one round trip and returns at once; their replies
    are read at the next ``send`` (or ``collect``), by when they have long arrived, so the
    writer never sleeps waiting for Redis and wakes up to a cold cache. ``wait=True`` reads
    them at once (what must be known to be written: events). An error reply or a dead
    connection raises there as a `redis.RedisError`; the connection is then dropped and the next
    ``send`` opens a fresh one.
    """

    def __init__(self, client: redis.Redis):
        self._pool = client.connection_pool
        self._conn = None
        self._unread = 0

    def send(self, commands: list[tuple], *, wait: bool = False) -> list | None:
        self.collect()
        if self._conn is None:
            self._conn = self._pool.get_connection()
        conn = self._conn
        try:
            conn.send_packed_command(conn.pack_commands(commands), check_health=False)
        except BaseException:
            self._drop()
            raise
        self._unread = len(commands)
        return self.collect() if wait else None

    def collect(self) -> list:
        """The replies of the write in flight (raising its error, if it had one)."""
        replies = []
        try:
            while self._unread:
                replies.append(self._conn.read_response())
                self._unread -= 1
        except BaseException:
            self._drop()
            raise
        return replies

    def _drop(self) -> None:
        conn, self._conn, self._unread = self._conn, None, 0
        if conn is not None:
            conn.disconnect()
            self._pool.release(conn)

    def close(self) -> None:
        try:
            self.collect()
        except redis.RedisError:
            pass
        finally:
            self._drop()
