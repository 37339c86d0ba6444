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
