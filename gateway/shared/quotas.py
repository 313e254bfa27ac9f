"""Quota counters shared between instances, checked and counted atomically in Redis.

Each limited scope (a provider account or a model) has five keys: the last minute's
requests and tokens (sorted sets scored by time, trimmed as they age), the day's request and
token totals and the month's requests (one key per day or month in the scope's reset time
zone, so midnight needs no job).
Taking a call from a route's quotas is one Lua script: every scope is checked, and only when
all have room is the call counted in all of them, so two instances can never both take the
last call of a minute. Tokens are added when an attempt finishes, off the request path.

The in-process `QuotaTracker` counts alongside (it is cheap): when Redis cannot be reached,
each instance goes on with its own counters rather than with none.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Coroutine, Iterable

from redis.exceptions import RedisError

from gateway.catalog import Deployment
from gateway.routing.quotas import MINUTE, QuotaBlock, QuotaScope, QuotaTracker, Usage, UsageEvent
from gateway.shared.link import RedisLink
from gateway.telemetry.records import AttemptRecord

log = logging.getLogger("gateway.shared")

# Day totals outlive their day by a day, for any time zone.
DAY_KEY_TTL_SECONDS = 2 * 24 * 3600
MONTH_KEY_TTL_SECONDS = 33 * 24 * 3600
MINUTE_KEY_TTL_SECONDS = 2 * int(MINUTE)
# Set by the first instance that seeds Redis from its telemetry, so later ones do not count
# the same history twice.
SEEDED_TTL_SECONDS = 26 * 3600

# KEYS: per scope [requests zset, tokens zset, day requests, day tokens, month requests]
# ARGV: now, member, then per scope [rpm, tpm, rpd, tpd, rpmonth] (0 = no limit)
# Returns {0} when counted, else {scope number, window, used, seconds until room}.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local scopes = #KEYS / 5
for i = 0, scopes - 1 do
  local requests, tokens = KEYS[5*i+1], KEYS[5*i+2]
  local day_requests, day_tokens, month_requests = KEYS[5*i+3], KEYS[5*i+4], KEYS[5*i+5]
  local rpm, tpm = tonumber(ARGV[3+5*i]), tonumber(ARGV[4+5*i])
  local rpd, tpd, rpmonth = tonumber(ARGV[5+5*i]), tonumber(ARGV[6+5*i]), tonumber(ARGV[7+5*i])
  redis.call('ZREMRANGEBYSCORE', requests, '-inf', now - 60)
  redis.call('ZREMRANGEBYSCORE', tokens, '-inf', now - 60)
  if rpm > 0 then
    local used = redis.call('ZCARD', requests)
    if used >= rpm then
      local oldest = redis.call('ZRANGE', requests, 0, 0, 'WITHSCORES')
      return {i + 1, 'rpm', used, tostring(tonumber(oldest[2]) + 60 - now)}
    end
  end
  if tpm > 0 then
    local entries = redis.call('ZRANGE', tokens, 0, -1, 'WITHSCORES')
    local used = 0
    for j = 1, #entries, 2 do
      used = used + tonumber(string.match(entries[j], ':(%d+)$'))
    end
    if used >= tpm then
      return {i + 1, 'tpm', used, tostring(tonumber(entries[2]) + 60 - now)}
    end
  end
  if rpd > 0 then
    local used = tonumber(redis.call('GET', day_requests) or '0')
    if used >= rpd then return {i + 1, 'rpd', used, '0'} end
  end
  if tpd > 0 then
    local used = tonumber(redis.call('GET', day_tokens) or '0')
    if used >= tpd then return {i + 1, 'tpd', used, '0'} end
  end
  if rpmonth > 0 then
    local used = tonumber(redis.call('GET', month_requests) or '0')
    if used >= rpmonth then return {i + 1, 'rpmonth', used, '0'} end
  end
end
for i = 0, scopes - 1 do
  redis.call('ZADD', KEYS[5*i+1], now, ARGV[2])
  redis.call('EXPIRE', KEYS[5*i+1], MINUTE_TTL)
  redis.call('INCR', KEYS[5*i+3])
  redis.call('EXPIRE', KEYS[5*i+3], DAY_TTL)
  redis.call('INCR', KEYS[5*i+5])
  redis.call('EXPIRE', KEYS[5*i+5], MONTH_TTL)
end
return {0}
"""
for _name, _seconds in (
    ("MINUTE_TTL", MINUTE_KEY_TTL_SECONDS),
    ("MONTH_TTL", MONTH_KEY_TTL_SECONDS),
    ("DAY_TTL", DAY_KEY_TTL_SECONDS),
):
    _ACQUIRE = _ACQUIRE.replace(_name, str(_seconds))


class SharedQuotaTracker:
    """`Quotas` kept in Redis, with the in-process tracker as mirror and fallback."""

    def __init__(
        self, link: RedisLink, local: QuotaTracker, clock: Callable[[], float] = time.time
    ) -> None:
        self.link = link
        self.local = local
        self._clock = clock
        self._acquire = link.client.register_script(_ACQUIRE)
        self._tasks: set[asyncio.Task] = set()

    async def acquire(self, deployment: Deployment) -> QuotaBlock | None:
        scopes = self.local.scopes(deployment.id)
        if not scopes or not self.link.available():
            return self.local.take(deployment)
        now = self._clock()
        keys: list[str] = []
        args: list[object] = [repr(now), uuid.uuid4().hex]
        for scope in scopes:
            keys += self._keys(scope, now)
            limits = scope.limits
            windows = (limits.rpm, limits.tpm, limits.rpd, limits.tpd, limits.rpmonth)
            args += [limit or 0 for limit in windows]
        try:
            result = await self._acquire(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self.link.failed(exc)
            return self.local.take(deployment)
        self.link.succeeded()
        if int(result[0]) == 0:
            self.local.count_request(deployment)
            return None
        scope = scopes[int(result[0]) - 1]
        window, used = str(result[1]), int(result[2])
        limit = getattr(scope.limits, window)
        if window in ("rpd", "tpd"):
            return QuotaBlock(
                f"{scope.name}: {window} {used}/{limit} until midnight {scope.zone}",
                scope.until_midnight(now),
            )
        if window == "rpmonth":
            return QuotaBlock(
                f"{scope.name}: rpmonth {used}/{limit} until the 1st ({scope.zone})",
                scope.until_next_month(now),
            )
        return QuotaBlock(f"{scope.name}: {window} {used}/{limit}", max(0.0, float(result[3])))

    def record(self, record: AttemptRecord) -> None:
        """Telemetry sink: a finished attempt's tokens count against its limits."""
        self.local.record(record)
        tokens = (record.input_tokens or 0) + (record.output_tokens or 0)
        scopes = self.local.scopes(record.model)
        if tokens and scopes and self.link.available():
            self._background(self._add_tokens(scopes, tokens))

    async def _add_tokens(self, scopes: list[QuotaScope], tokens: int) -> None:
        now = self._clock()
        try:
            async with self.link.client.pipeline(transaction=False) as pipe:
                for scope in scopes:
                    _, minute_tokens, _, day_tokens, _ = self._keys(scope, now)
                    pipe.zadd(minute_tokens, {f"{uuid.uuid4().hex}:{tokens}": now})
                    pipe.expire(minute_tokens, MINUTE_KEY_TTL_SECONDS)
                    pipe.incrby(day_tokens, tokens)
                    pipe.expire(day_tokens, DAY_KEY_TTL_SECONDS)
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.link.failed(exc)

    async def snapshot(self, deployment_id: str) -> Usage:
        scopes = self.local.scopes(deployment_id)
        if not scopes or not self.link.available():
            return self.local.usage(deployment_id)
        now = self._clock()
        try:
            async with self.link.client.pipeline(transaction=False) as pipe:
                for scope in scopes:
                    requests, tokens, day_requests, day_tokens, month = self._keys(scope, now)
                    pipe.zcount(requests, f"({now - MINUTE}", "+inf")
                    pipe.zrangebyscore(tokens, f"({now - MINUTE}", "+inf")
                    pipe.get(day_requests)
                    pipe.get(day_tokens)
                    pipe.get(month)
                replies = await pipe.execute()
        except (RedisError, OSError) as exc:
            self.link.failed(exc)
            return self.local.usage(deployment_id)
        usage: Usage = {}
        for index, scope in enumerate(scopes):
            minute_requests, minute_tokens, day_requests, day_tokens, month_requests = replies[
                5 * index : 5 * index + 5
            ]
            limits = scope.limits
            usage[scope.name] = {
                "rpm": {"used": int(minute_requests), "limit": limits.rpm},
                "tpm": {"used": sum(_tokens_of(m) for m in minute_tokens), "limit": limits.tpm},
                "rpd": {"used": int(day_requests or 0), "limit": limits.rpd},
                "tpd": {"used": int(day_tokens or 0), "limit": limits.tpd},
                "rpmonth": {"used": int(month_requests or 0), "limit": limits.rpmonth},
            }
        return usage

    async def seed(self, events: Iterable[UsageEvent]) -> int:
        """Put this instance's recent history (from telemetry) into Redis, unless another
        instance already did: then Redis has been counting all along."""
        if not self.link.available():
            return 0
        try:
            if not await self.link.client.set(
                self.link.key("quota", "seeded"), "1", nx=True, ex=SEEDED_TTL_SECONDS
            ):
                return 0
            now, seeded = self._clock(), 0
            async with self.link.client.pipeline(transaction=False) as pipe:
                for event in events:
                    for scope in self.local.scopes(event.model):
                        requests, tokens, day_requests, day_tokens, month = self._keys(
                            scope, event.ts
                        )
                        if scope.month_of(event.ts) != scope.month_of(now):
                            continue
                        pipe.incr(month)
                        pipe.expire(month, MONTH_KEY_TTL_SECONDS)
                        if scope.day_of(event.ts) != scope.day_of(now):
                            continue
                        pipe.incr(day_requests)
                        pipe.expire(day_requests, DAY_KEY_TTL_SECONDS)
                        if event.tokens:
                            pipe.incrby(day_tokens, event.tokens)
                            pipe.expire(day_tokens, DAY_KEY_TTL_SECONDS)
                        if now - event.ts < MINUTE:
                            member = uuid.uuid4().hex
                            pipe.zadd(requests, {member: event.ts})
                            pipe.zadd(tokens, {f"{member}:{event.tokens}": event.ts})
                            pipe.expire(requests, MINUTE_KEY_TTL_SECONDS)
                            pipe.expire(tokens, MINUTE_KEY_TTL_SECONDS)
                    seeded += 1
                await pipe.execute()
        except (RedisError, OSError) as exc:
            self.link.failed(exc)
            return 0
        self.link.succeeded()
        return seeded

    async def close(self) -> None:
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=1)

    def _background(self, work: Coroutine[None, None, None]) -> None:
        try:
            task = asyncio.get_running_loop().create_task(work)
        except RuntimeError:  # no loop (not serving): the local counters have it
            work.close()
            return
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _keys(self, scope: QuotaScope, now: float) -> list[str]:
        day = scope.day_of(now)
        return [
            self.link.key("quota", scope.name, "minute-requests"),
            self.link.key("quota", scope.name, "minute-tokens"),
            self.link.key("quota", scope.name, "day-requests", day),
            self.link.key("quota", scope.name, "day-tokens", day),
            self.link.key("quota", scope.name, "month-requests", scope.month_of(now)),
        ]


def _tokens_of(member: str) -> int:
    return int(member.rsplit(":", 1)[-1])
