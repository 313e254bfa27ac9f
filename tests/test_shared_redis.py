"""Several gateway instances sharing cooldowns and quota counters through Redis.

Two instances (`a`, `b`) run side by side with separate data directories (so separate
SQLite telemetry: nothing is shared but Redis) and one key prefix of their own per test run.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, free_port, run_cli, write_config
from tests.services import require_redis

PROMPT = [{"role": "user", "content": "hi"}]

PROVIDERS = {
    "groq": {
        "type": "groq",
        "api_key_env": "GROQ_API_KEY",
        "models": {
            "fault-rpm4-shared": {"rpm": 4},
            "daily-shared": {"rpd": 2},
            "fault-429-ra60-shared": {},
        },
    },
    "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["backup-shared"]},
}
VIRTUAL = {
    "load": {"candidates": ["groq/fault-rpm4-shared", "gemini/backup-shared"]},
    "daily": {"candidates": ["groq/daily-shared", "gemini/backup-shared"]},
    "limited": {"candidates": ["groq/fault-429-ra60-shared", "gemini/backup-shared"]},
}


@pytest.fixture(scope="module")
def shared(emulator, tmp_path_factory) -> Iterator[dict]:
    url = require_redis()
    prefix = f"gateway-test-{uuid.uuid4().hex[:12]}"
    root = tmp_path_factory.mktemp("shared")
    config = write_config(root / "config", PROVIDERS, VIRTUAL)
    env = {**provider_env(emulator), "GATEWAY_REDIS_URL": url, "GATEWAY_REDIS_PREFIX": prefix}
    with (
        GatewayProcess(config, root / "a", env=env) as a,
        GatewayProcess(config, root / "b", env=env) as b,
    ):
        yield {"a": a, "b": b, "config": config, "env": env, "root": root}
    client = redis.Redis.from_url(url)
    keys = list(client.scan_iter(match=f"{prefix}:*"))
    if keys:
        client.delete(*keys)


def ask(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions", json={"model": model, "messages": PROMPT}, timeout=30
    )


def stats(gw: GatewayProcess) -> dict:
    return httpx.get(gw.url + "/stats", timeout=30).json()


def model_stats(gw: GatewayProcess, provider: str, model: str) -> dict:
    return stats(gw)["providers"][provider]["models"][model]


def test_rpm_counts_every_instance_so_no_upstream_429(shared, emulator):
    """fault-rpm4 answers 429 past 4 requests a minute, whoever sends them: two instances
    with 4 rpm each would make 8 calls and get 4 refusals; shared, they make 4."""
    served = [ask(shared["ab"[i % 2]], "load").json()["model"] for i in range(12)]
    assert served.count("groq/fault-rpm4-shared") == 4
    assert served.count("gemini/backup-shared") == 8
    assert emulator.count(model="fault-rpm4-shared") == 4
    assert emulator.count(model="fault-rpm4-shared", status=429) == 0
    quota = model_stats(shared["b"], "groq", "groq/fault-rpm4-shared")["quota"]
    assert quota["groq/fault-rpm4-shared"]["rpm"] == {"used": 4, "limit": 4}


def test_daily_limit_holds_across_instances(shared):
    assert ask(shared["a"], "daily").json()["model"] == "groq/daily-shared"
    assert ask(shared["a"], "daily").json()["model"] == "groq/daily-shared"
    response = ask(shared["b"], "daily")  # b has never called it itself
    assert response.json()["model"] == "gemini/backup-shared"
    quota = model_stats(shared["b"], "groq", "groq/daily-shared")["quota"]
    assert quota["groq/daily-shared"]["rpd"] == {"used": 2, "limit": 2}


def test_cooldown_seen_by_the_other_instance_and_by_one_started_later(shared, emulator):
    a, b = shared["a"], shared["b"]
    assert ask(a, "limited").json()["model"] == "gemini/backup-shared"  # groq said 429
    assert emulator.count(model="fault-429-ra60-shared") == 1
    deadline = time.monotonic() + 5
    while model_stats(b, "groq", "groq/fault-429-ra60-shared")["cooldown"] is None:
        assert time.monotonic() < deadline, "the cooldown never reached instance b"
        time.sleep(0.05)
    assert ask(b, "limited").json()["model"] == "gemini/backup-shared"
    assert emulator.count(model="fault-429-ra60-shared") == 1  # b did not call it

    root: Path = shared["root"]
    with GatewayProcess(shared["config"], root / "c", env=shared["env"]) as c:
        cooldown = model_stats(c, "groq", "groq/fault-429-ra60-shared")["cooldown"]
        assert cooldown is not None and "rate_limited 429" in cooldown["reason"]
        assert ask(c, "limited").json()["model"] == "gemini/backup-shared"
    assert emulator.count(model="fault-429-ra60-shared") == 1
    assert stats(a)["shared"]["state"] == "up"
    assert stats(a)["shared"]["redis"].startswith("redis://")


def test_unreachable_redis_fails_no_request(emulator, tmp_path):
    """Each instance then keeps its own counters: the daily limit still holds locally."""
    config = write_config(tmp_path / "config", PROVIDERS, VIRTUAL)
    env = {
        **provider_env(emulator),
        "GATEWAY_REDIS_URL": f"redis://:secret-password@127.0.0.1:{free_port()}/0",
        "GATEWAY_REDIS_PREFIX": f"gateway-test-{uuid.uuid4().hex[:12]}",
    }
    with GatewayProcess(config, tmp_path / "data", env=env) as gw:
        models = [ask(gw, "daily").json()["model"] for _ in range(3)]
        shared = stats(gw)["shared"]
        log = gw.log()
    assert models[-1] == "gemini/backup-shared"
    assert shared["state"] == "down" and shared["last_error"]
    assert "secret-password" not in str(shared) and "***" in shared["redis"]
    assert "secret-password" not in log
    assert "Redis at redis://:***@127.0.0.1" in log and "unreachable" in log


def test_doctor_checks_the_shared_redis(tmp_path):
    url = require_redis()
    config = write_config(tmp_path / "config", PROVIDERS, VIRTUAL)
    base = {"GROQ_API_KEY": "gsk_x", "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    up = run_cli("doctor", "--config-dir", str(config), env={**base, "GATEWAY_REDIS_URL": url})
    assert f"[ok] shared state: cooldowns and quotas shared via {url}" in up.stdout
    dead = f"redis://:secret-password@127.0.0.1:{free_port()}/0"
    down = run_cli("doctor", "--config-dir", str(config), env={**base, "GATEWAY_REDIS_URL": dead})
    assert "[--] shared state: redis://:***@127.0.0.1:" in down.stdout
    assert "secret-password" not in down.stdout
