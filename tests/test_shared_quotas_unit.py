"""The Redis quota script's arithmetic, against the local Redis with an injected clock."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import redis

from gateway.routing.quotas import QuotaTracker, UsageEvent
from gateway.shared.link import RedisLink
from gateway.shared.quotas import SharedQuotaTracker
from gateway.telemetry.records import AttemptRecord
from tests.services import require_redis
from tests.test_quotas import Clock, _deployment

# The Redis client lives on the fixture's loop: the tests must run on the same one.
pytestmark = pytest.mark.asyncio(loop_scope="session")


@pytest.fixture
async def link():
    url = require_redis()
    prefix = f"gateway-test-{uuid.uuid4().hex[:12]}"
    shared = RedisLink(url, prefix)
    yield shared
    await shared.close()
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def tracker(link, deployment, clock) -> SharedQuotaTracker:
    return SharedQuotaTracker(link, QuotaTracker([deployment], clock), clock)


def tokens(deployment_id: str, count: int) -> AttemptRecord:
    return AttemptRecord(
        request_id="r",
        virtual_model=None,
        provider="gemini",
        model=deployment_id,
        attempt=1,
        outcome="success",
        stream=False,
        latency_ms=1.0,
        input_tokens=count,
    )


async def test_rpm_blocks_until_the_oldest_call_is_a_minute_old(link):
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", rpm=2)
    quotas = tracker(link, d, clock)
    assert await quotas.acquire(d) is None
    clock.now += 10
    assert await quotas.acquire(d) is None
    block = await quotas.acquire(d)
    assert block is not None and block.reason == "gemini/m: rpm 2/2"
    assert block.retry_after == pytest.approx(50, abs=0.01)
    clock.now += 50
    assert await quotas.acquire(d) is None  # the first call aged out


async def test_tokens_count_per_minute_and_per_day(link):
    clock = Clock(datetime(2026, 3, 1, 23, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", tpm=100, tpd=150)
    quotas = tracker(link, d, clock)
    assert await quotas.acquire(d) is None
    quotas.record(tokens(d.id, 120))
    await quotas.close()  # the token update runs in the background
    assert (await quotas.acquire(d)).reason == "gemini/m: tpm 120/100"
    clock.now += 61
    assert await quotas.acquire(d) is None  # the minute has passed; the day has room
    quotas.record(tokens(d.id, 40))
    await quotas.close()
    block = await quotas.acquire(d)
    assert block is not None and block.reason == "gemini/m: tpd 160/150 until midnight UTC"
    assert block.retry_after == pytest.approx(3600 - 61, abs=1)
    usage = await quotas.snapshot(d.id)
    assert usage["gemini/m"]["tpm"] == {"used": 40, "limit": 100}
    assert usage["gemini/m"]["tpd"] == {"used": 160, "limit": 150}
    assert usage["gemini/m"]["rpd"] == {"used": 2, "limit": None}
    clock.now += 3600  # a new day in UTC
    assert await quotas.acquire(d) is None


async def test_seeding_happens_once(link):
    clock = Clock(datetime(2026, 3, 1, 12, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", rpd=3)
    history = [UsageEvent("gemini", d.id, clock.now - 30), UsageEvent("gemini", d.id, clock.now)]
    first, second = tracker(link, d, clock), tracker(link, d, clock)
    assert await first.seed(history) == 2
    assert await second.seed(history) == 0  # Redis already counts
    usage = await second.snapshot(d.id)
    assert usage["gemini/m"]["rpd"] == {"used": 2, "limit": 3}
    assert usage["gemini/m"]["rpm"]["used"] == 2


async def test_monthly_limit_is_shared_and_resets_with_the_month(link):
    clock = Clock(datetime(2026, 4, 30, 22, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", rpmonth=1)
    first, second = tracker(link, d, clock), tracker(link, d, clock)
    assert await first.acquire(d) is None
    block = await second.acquire(d)  # another instance: the month's one call is taken
    assert block is not None and block.reason == "gemini/m: rpmonth 1/1 until the 1st (UTC)"
    assert block.retry_after == pytest.approx(7200, abs=1)
    assert (await second.snapshot(d.id))["gemini/m"]["rpmonth"] == {"used": 1, "limit": 1}
    clock.now += 7200  # May
    assert await second.acquire(d) is None
