"""Cooldowns shared between instances: each one publishes its own and applies the others'.

Checking a cooldown stays a local dict lookup (it happens for every candidate of every
request); what travels is the cooldown itself, once, when a route starts resting. Each is
also stored as a key that expires when the rest ends, so an instance that starts later (or
reconnects) picks up the ones still running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

import orjson
from redis.exceptions import RedisError

from gateway.routing.cooldowns import Cooldown, CooldownTracker
from gateway.shared.link import RedisLink
from gateway.tasks import stop_task

log = logging.getLogger("gateway.shared")


class SharedCooldowns:
    def __init__(self, link: RedisLink, tracker: CooldownTracker) -> None:
        self.link = link
        self.tracker = tracker
        self.origin = uuid.uuid4().hex  # to ignore our own announcements
        self.channel = link.key("cooldowns")
        self._tasks: set[asyncio.Task] = set()
        self._listener: asyncio.Task | None = None
        tracker.listener = self._announce

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen(), name="gateway-shared-cooldowns")

    async def close(self) -> None:
        await stop_task(self._listener)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)

    def _announce(self, key: str, cooldown: Cooldown) -> None:
        if not self.link.available():
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (not serving): nothing to announce to
            return
        task = loop.create_task(self._publish(key, cooldown))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _publish(self, key: str, cooldown: Cooldown) -> None:
        message = orjson.dumps(
            {"key": key, "until": cooldown.until, "reason": cooldown.reason, "origin": self.origin}
        )
        try:
            async with self.link.client.pipeline(transaction=False) as pipe:
                pipe.set(self.link.key("cooldown", key), message, pxat=int(cooldown.until * 1000))
                pipe.publish(self.channel, message)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.link.failed(exc)
        else:
            self.link.succeeded()

    async def _listen(self) -> None:
        """Subscribe, load the cooldowns already running, apply what others announce;
        reconnect after a failure."""
        while True:
            pubsub = self.link.subscriber.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                await self._load_running()
                self.link.succeeded()
                while True:
                    message = await pubsub.get_message(timeout=30)
                    if message is not None:
                        self._apply(message.get("data"))
            except asyncio.CancelledError:
                raise
            except (RedisError, OSError) as exc:
                self.link.failed(exc)
                await asyncio.sleep(self.link.retry_seconds)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    async def _load_running(self) -> None:
        keys = [k async for k in self.link.client.scan_iter(match=self.link.key("cooldown", "*"))]
        if keys:
            for value in await self.link.client.mget(keys):
                self._apply(value)

    def _apply(self, raw: object) -> None:
        try:
            data = orjson.loads(raw)  # type: ignore[arg-type]
            if data.get("origin") == self.origin:
                return
            cooldown = Cooldown(float(data["until"]), str(data["reason"]))
            key = str(data["key"])
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("ignored a malformed shared cooldown: %r", raw)
            return
        if self.tracker.apply(key, cooldown):
            log.info("%s rests (%s, seen by another instance)", key, cooldown.reason)
