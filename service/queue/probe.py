"""Is Redis there? A start asks once, briefly, before it serves (``service/preflight.py``)."""

from __future__ import annotations

from urllib.parse import urlsplit

from redis.exceptions import RedisError

from service.errors import StartupError
from service.queue.redis_client import client_from_url


async def probe_redis(url: str, *, named: str, timeout: float) -> None:
    """One PING within ``timeout``; a failure is a ``StartupError`` naming ``named`` (the
    setting that holds the URL) and the host and port, never the password."""
    try:
        parts = urlsplit(url)
        where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}"
        # the service's own client settings, but one connection, no retries, the probe's bound
        client = client_from_url(
            url, 1, {"socket_connect_timeout": timeout, "socket_timeout": timeout, "retry": None}
        )
    except ValueError as exc:
        raise StartupError(f"{named} is not a Redis URL: {exc}") from exc
    try:
        await client.ping()
    except (RedisError, OSError) as exc:
        reason = str(exc).rstrip(".")
        raise StartupError(f"cannot reach Redis at {where} ({named}): {reason}") from exc
    finally:
        await client.aclose()
