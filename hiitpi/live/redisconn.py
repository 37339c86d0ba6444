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


def make_async_client(url: str, *, timeout_s: float = 1.0):
    """The same for an event loop (`redis.asyncio`): the web server's one live-feed reader."""
    import redis.asyncio
    from redis.asyncio.retry import Retry as AsyncRetry

    return redis.asyncio.Redis.from_url(
        url,
        socket_connect_timeout=min(timeout_s, 0.5),
        socket_timeout=timeout_s,
        retry=AsyncRetry(NoBackoff(), 0),
        health_check_interval=0,
    )
