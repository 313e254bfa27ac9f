"""`/stats` and the health checker, through the running gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import GEMINI_KEY, GROQ_KEY, provider_env
from tests.gateway_process import GatewayProcess, run_cli, write_config

PROMPT = [{"role": "user", "content": "echo: one two three"}]


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("stats")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "limits": {"rpm": 30, "rpd": 1000},
            "models": ["m1", "fault-429-ra30"],
        },
        # Nothing listens on port 1: the health probe finds it down.
        "deadbox": {
            "type": "openai_compatible",
            "api_base": "http://127.0.0.1:1/v1",
            "models": ["x"],
        },
    }
    virtual = {
        "v": {"candidates": ["deadbox/x", "groq/m1"]},
        "rl": {"candidates": ["groq/fault-429-ra30", "groq/m1"]},
    }
    config = write_config(root / "config", providers, virtual, routing={"health_check_interval": 1})
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def chat(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions", json={"model": model, "messages": PROMPT}, timeout=30
    )


def stats(gw: GatewayProcess) -> dict:
    return httpx.get(gw.url + "/stats", timeout=30).json()


def test_down_provider_is_skipped_without_a_call(gw):
    deadline = time.monotonic() + 10
    while (stats(gw)["providers"]["deadbox"]["health"] or {}).get("status") != "down":
        assert time.monotonic() < deadline, "health checker never marked deadbox down"
        time.sleep(0.3)
    response = chat(gw, "v")
    assert response.json()["model"] == "groq/m1"
    assert response.headers["x-gateway-attempt"] == "1"  # deadbox was not even tried
    assert "down" in gw.log()


def test_stats_numbers_match_what_was_sent(gw):
    before = stats(gw)["providers"]["groq"]["models"]["groq/m1"]["hour"] or {"requests": 0}
    for _ in range(3):
        assert chat(gw, "v").status_code == 200
    assert chat(gw, "rl").json()["model"] == "groq/m1"
    doc = stats(gw)
    m1 = doc["providers"]["groq"]["models"]["groq/m1"]
    assert m1["hour"]["requests"] - before["requests"] == 4
    assert m1["hour"]["success_rate"] == 1.0
    assert m1["hour"]["latency_ms"]["p50"] > 0
    assert m1["hour"]["output_tokens"] >= 12
    limited = doc["providers"]["groq"]["models"]["groq/fault-429-ra30"]
    assert limited["hour"]["outcomes"] == {"rate_limited": 1}
    assert limited["cooldown"]["reason"] == "rate_limited 429"
    assert limited["last_error"]["status"] == 429
    quota = m1["quota"]["groq"]
    assert quota["rpm"]["limit"] == 30 and quota["rpm"]["used"] >= 5
    assert quota["rpd"]["limit"] == 1000
    served = doc["virtual_models"]["v"]["served"]["hour"]
    assert served["groq/m1"] >= 3 and list(served) == ["groq/m1"]
    assert doc["virtual_models"]["rl"]["served"]["hour"] == {"groq/m1": 1}
    assert doc["providers"]["groq"]["health"]["status"] == "up"
    assert doc["telemetry"]["pending"] == 0


def test_stats_html_page_is_self_contained(gw):
    for url in (gw.url + "/stats?format=html", gw.url + "/stats/ui"):
        response = httpx.get(url, timeout=30)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        page = response.text
        assert "<table>" in page and "groq/m1" in page and "deadbox/x" in page
        assert "src=" not in page and "<link" not in page  # no external assets


def test_stats_hold_no_secrets(gw):
    text = httpx.get(gw.url + "/stats", timeout=30).text
    assert GROQ_KEY not in text and GEMINI_KEY not in text


def test_gateway_stats_cli_prints_the_same(gw):
    chat(gw, "v")
    result = run_cli("stats", "--url", gw.url)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split()[:2] == ["route", "status"]
    m1 = next(line for line in lines if line.startswith("groq/m1 "))
    assert " ok " in m1 and "rpm" in m1
    assert any(line.startswith("deadbox/x") and "down" in line for line in lines)
    assert "v: groq/m1" in result.stdout


def test_gateway_stats_cli_without_a_gateway():
    result = run_cli("stats", "--url", "http://127.0.0.1:1")
    assert result.returncode == 1
    assert "not reachable" in result.stderr
