"""Free-tier quotas: routes at their limit are skipped before they are called."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import create_engine

from gateway.catalog import Deployment
from gateway.config import Limits, ModelOptions
from gateway.providers import PROVIDER_TYPES
from gateway.routing.quotas import QuotaTracker, UsageEvent
from gateway.telemetry.schema import attempts, metadata
from gateway.telemetry.writer import database_url
from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

PROMPT = [{"role": "user", "content": "hi"}]


def _gateway(emulator, root) -> GatewayProcess:
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                "fault-rpm5": {"rpm": 5},
                "daily": {"rpd": 3},
                "monthly": {"rpmonth": 2},
                "monthly-old": {"rpmonth": 2},
            },
        },
        "tiny": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "limits": {"rpm": 2},
            "models": ["a", "b"],
        },
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["backup"]},
    }
    virtual = {
        "load": {"candidates": ["groq/fault-rpm5", "gemini/backup"]},
        "daily": {"candidates": ["groq/daily", "gemini/backup"]},
        "account": {"candidates": ["tiny/a", "tiny/b", "gemini/backup"]},
        "only-daily": {"candidates": ["groq/daily"]},
        "monthly": {"candidates": ["groq/monthly", "gemini/backup"]},
        "monthly-old": {"candidates": ["groq/monthly-old", "gemini/backup"]},
    }
    config = write_config(root / "config", providers, virtual)
    return GatewayProcess(config, root / "data", env=provider_env(emulator))


def ask(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions", json={"model": model, "messages": PROMPT}, timeout=30
    )


def test_three_times_rpm_gives_zero_upstream_429s(emulator, tmp_path):
    """The emulator's fault-rpm5 answers 429 past 5 requests a minute, like a real free tier."""
    with _gateway(emulator, tmp_path) as gw:
        served = [ask(gw, "load").json()["model"] for _ in range(15)]
    assert served.count("groq/fault-rpm5") == 5
    assert served.count("gemini/backup") == 10
    assert emulator.count(model="fault-rpm5") == 5
    assert emulator.count(model="fault-rpm5", status=429) == 0


def test_daily_and_monthly_limits_hold_across_a_restart(emulator, tmp_path):
    with _gateway(emulator, tmp_path) as gw:
        served = [ask(gw, "daily").json()["model"] for _ in range(4)]
        monthly = [ask(gw, "monthly").json()["model"] for _ in range(3)]
    assert served == ["groq/daily"] * 3 + ["gemini/backup"]
    assert monthly == ["groq/monthly"] * 2 + ["gemini/backup"]
    with _gateway(emulator, tmp_path) as gw:  # same data dir: same telemetry
        assert ask(gw, "daily").json()["model"] == "gemini/backup"
        assert ask(gw, "monthly").json()["model"] == "gemini/backup"
        response = ask(gw, "only-daily")
        assert "restored from" in gw.log()
    assert emulator.count(model="daily") == 3
    assert emulator.count(model="monthly") == 2
    assert response.status_code == 429
    error = response.json()["error"]
    assert error["candidates"][0]["outcome"] == "quota_exhausted"
    assert "rpd 3/3" in error["candidates"][0]["reason"]
    assert 0 < int(response.headers["retry-after"]) <= 86400


def test_provider_limit_counts_all_its_models(emulator, tmp_path):
    with _gateway(emulator, tmp_path) as gw:
        served = [ask(gw, "account").json()["model"] for _ in range(4)]
    assert served == ["tiny/a", "tiny/a", "gemini/backup", "gemini/backup"]
    assert emulator.count(model="b") == 0


def _deployment(daily_reset: str, **limits) -> Deployment:
    return Deployment(
        id="gemini/m",
        provider="gemini",
        provider_type=PROVIDER_TYPES["gemini"],
        model_id="m",
        api_base=None,
        api_key_env="K",
        options=ModelOptions(**limits),
        provider_limits=Limits(),
        timeout=None,
        daily_reset=daily_reset,
    )


class Clock:
    def __init__(self, when: datetime) -> None:
        self.now = when.timestamp()

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "UTC"])
def test_daily_reset_at_midnight_in_the_providers_zone(zone):
    tz = ZoneInfo(zone)
    clock = Clock(datetime(2026, 11, 24, 23, 59, 0, tzinfo=tz))
    d = _deployment(zone, rpd=2)
    quotas = QuotaTracker([d], clock)
    quotas.count_request(d)
    clock.now += 1
    quotas.count_request(d)
    block = quotas.block(d)
    assert block is not None and "rpd 2/2" in block.reason
    assert 58 <= block.retry_after <= 60
    clock.now += 60  # 00:00:01 local
    assert quotas.block(d) is None


def test_minute_window_slides_and_tokens_count():
    clock = Clock(datetime(2026, 11, 24, 12, 0, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", rpm=2, tpm=100)
    quotas = QuotaTracker([d], clock)
    quotas.count_request(d)
    quotas.count_tokens(d.id, 150)
    assert "tpm 150/100" in quotas.block(d).reason
    clock.now += 61
    assert quotas.block(d) is None


def test_restore_replays_history():
    clock = Clock(datetime(2026, 11, 24, 12, 0, 0, tzinfo=ZoneInfo("UTC")))
    d = _deployment("UTC", rpd=2)
    quotas = QuotaTracker([d], clock)
    yesterday = clock.now - 86400
    quotas.restore(
        [UsageEvent("gemini", d.id, yesterday), UsageEvent("gemini", d.id, clock.now - 10)]
    )
    assert quotas.block(d) is None  # yesterday's call does not count today
    quotas.restore([UsageEvent("gemini", d.id, clock.now - 5)])
    assert quotas.block(d) is not None


def test_monthly_limit_blocks_until_the_first_of_next_month():
    zone = ZoneInfo("America/Los_Angeles")
    clock = Clock(datetime(2026, 2, 27, 23, 0, tzinfo=zone))
    d = _deployment("America/Los_Angeles", rpmonth=2)
    quotas = QuotaTracker([d], clock)
    assert quotas.take(d) is None
    clock.now += 86400  # Feb 28, a new day: the month still counts
    assert quotas.take(d) is None
    block = quotas.take(d)
    assert block is not None and "rpmonth 2/2 until the 1st" in block.reason
    assert block.retry_after == pytest.approx(3600, abs=1)  # March 1st, 00:00 Pacific
    clock.now += 3600
    assert quotas.take(d) is None
    assert quotas.usage(d.id)["gemini/m"]["rpmonth"] == {"used": 1, "limit": 2}


def test_history_reaches_back_to_the_month_start_only_where_needed():
    clock = Clock(datetime(2026, 3, 20, 12, 0, tzinfo=ZoneInfo("UTC")))
    assert QuotaTracker([_deployment("UTC", rpd=5)], clock).monthly_history() is None
    monthly = QuotaTracker([_deployment("America/Los_Angeles", rpmonth=5)], clock)
    start = datetime(2026, 3, 1, tzinfo=ZoneInfo("America/Los_Angeles")).astimezone(UTC)
    assert monthly.monthly_history() == (start, ["gemini/m"])


def test_monthly_limit_counts_calls_older_than_a_day(emulator, tmp_path):
    """Startup replays the month's telemetry for routes with a monthly limit, not just the
    last day's (on the 1st and 2nd of a month the rows fall inside the day anyway)."""
    now = datetime.now(UTC)
    month_start = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    when = max(month_start + timedelta(minutes=1), now - timedelta(days=2))
    engine = create_engine(database_url(None, tmp_path / "data"))
    metadata.create_all(engine)
    with engine.begin() as connection:
        for n in range(2):
            connection.execute(
                attempts.insert().values(
                    ts=when,
                    request_id=f"old-{n}",
                    provider="groq",
                    model="groq/monthly-old",
                    attempt=1,
                    outcome="success",
                    stream=False,
                )
            )
    engine.dispose()
    before = emulator.count(model="monthly-old")
    with _gateway(emulator, tmp_path) as gw:
        response = ask(gw, "monthly-old")
    assert response.json()["model"] == "gemini/backup"
    assert emulator.count(model="monthly-old") == before
