"""A bounded load test: 2,000 requests at concurrency 64 through a healthy chain. Every one is
answered, the client sees no connection errors, the healthy route is never cooled down by the
gateway's own load, and memory stays flat."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

REQUESTS = 2000
CONCURRENCY = 64
PROMPT = [{"role": "user", "content": "echo: under load"}]


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("load")
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["loaded"]},
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["spare"]},
    }
    virtual = {"coding-elite": {"candidates": ["groq/loaded", "gemini/spare"]}}
    # A short provider timeout, as in the run that once cooled healthy routes down.
    routing = {"first_byte_timeout": 3, "first_token_timeout": 3, "request_timeout": 3}
    config = write_config(root / "config", providers, virtual, routing=routing)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def load(gw: GatewayProcess, count: int) -> tuple[list[int], list[str], list[str]]:
    """(statuses, who served each, client errors) for `count` requests, half of them
    streamed, `CONCURRENCY` at a time, on httpx's default connection pool settings."""
    statuses: list[int] = []
    served: list[str] = []
    errors: list[str] = []
    queue = iter(range(count))
    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:

        async def worker() -> None:
            for n in queue:
                body = {"model": "coding-elite", "messages": PROMPT, "stream": n % 2 == 0}
                try:
                    async with client.stream(
                        "POST", gw.url + "/v1/chat/completions", json=body
                    ) as response:
                        await response.aread()
                    statuses.append(response.status_code)
                    served.append(response.headers.get("x-gateway-served-by", ""))
                except httpx.HTTPError as exc:
                    errors.append(f"{type(exc).__name__}: {exc}")

        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
    return statuses, served, errors


def test_load_without_errors_cooldowns_or_growth(gw):
    pid = gw.process.pid
    first = asyncio.run(load(gw, REQUESTS // 2))
    after_first = rss_mb(pid)
    second = asyncio.run(load(gw, REQUESTS // 2))
    after_second = rss_mb(pid)
    statuses = first[0] + second[0]
    errors = first[2] + second[2]
    assert not errors, errors[:5]
    assert statuses == [200] * REQUESTS
    assert set(first[1] + second[1]) == {"groq/loaded"}  # never failed over
    stats = httpx.get(gw.url + "/stats", timeout=30).json()
    assert stats["providers"]["groq"]["models"]["groq/loaded"]["cooldown"] is None
    assert stats["providers"]["groq"]["cooldown"] is None
    # Flat: the second thousand requests add (almost) nothing.
    assert after_second - after_first < 25, (after_first, after_second)
