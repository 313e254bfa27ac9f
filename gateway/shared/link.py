"""The connection to Redis, and whether it is usable right now."""

from __future__ import annotations

import logging
import time

import redis.asyncio as redis

from gateway.redact import hide_password

log = logging.getLogger("gateway.shared")

# After a failure, Redis is left alone this long: a dead Redis must not add a timeout to
# every request.
RETRY_SECONDS = 5.0
# Short, since every quota check waits for Redis: a slow Redis is treated as a dead one.
SOCKET_TIMEOUT_SECONDS = 0.5


class RedisLink:
    """A Redis client with a circuit breaker: usable, or resting after a failure."""

    def __init__(self, url: str, prefix: str, clock=time.monotonic) -> None:
        self.url = url
        self.prefix = prefix
        self.client = redis.Redis.from_url(
            url,
            decode_responses=True,
            socket_connect_timeout=SOCKET_TIMEOUT_SECONDS,
            socket_timeout=SOCKET_TIMEOUT_SECONDS,
        )
        # Subscriptions wait for messages as long as it takes: no read timeout.
        self.subscriber = redis.Redis.from_url(
            url, decode_responses=True, socket_connect_timeout=SOCKET_TIMEOUT_SECONDS
        )
        self.up: bool | None = None  # None until the first call
        self.last_error: str | None = None
        self._clock = clock
        self._resting_until = 0.0
        self.retry_seconds = RETRY_SECONDS

    def key(self, *parts: str) -> str:
        return ":".join((self.prefix, *parts))

    def available(self) -> bool:
        return self._clock() >= self._resting_until

    def succeeded(self) -> None:
        if self.up is False:
            log.warning("Redis at %s is back: cooldowns and quotas are shared again", self.safe_url)
        self.up = True

    def failed(self, exc: BaseException) -> None:
        self.last_error = f"{type(exc).__name__}: {exc}"[:300]
        self._resting_until = self._clock() + self.retry_seconds
        if self.up is not False:
            log.warning(
                "Redis at %s is unreachable (%s): each gateway instance keeps its own "
                "cooldowns and quota counters until it is back",
                self.safe_url,
                self.last_error,
            )
        self.up = False

    @property
    def safe_url(self) -> str:
        return hide_password(self.url)

    def status(self) -> dict[str, object]:
        state = {None: "connecting", True: "up", False: "down"}[self.up]
        return {"redis": self.safe_url, "state": state, "last_error": self.last_error}

    async def close(self) -> None:
        await self.client.aclose()
        await self.subscriber.aclose()
