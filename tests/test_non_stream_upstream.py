"""`stream_upstream: false`: non-stream requests are sent to upstreams non-streamed, through
the engine's plain POST (every wire), with the same failover on bad answers."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

PROMPT = [{"role": "user", "content": "echo: whole answer here"}]


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("non-stream-upstream")
    base = emulator.base_url
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": ["plain", "fault-cut3-ns", "fault-malformed-ns", "fault-noUsage-ns"],
        },
        "slow": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "timeout": 1.5,
            "models": ["fault-silent-ns"],
        },
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["plain-g"]},
        "github": {"type": "github", "models": ["openai/gpt-4.1"]},
        "cloudflare": {"type": "cloudflare", "models": ["@cf/plain"]},
        "mybox": {"type": "openai_compatible", "api_base": f"{base}/v1", "models": ["plain-m"]},
    }
    virtual = {
        "cut": {"candidates": ["groq/fault-cut3-ns", "mybox/plain-m"]},
        "malformed": {"candidates": ["groq/fault-malformed-ns", "gemini/plain-g"]},
        "silent": {"candidates": ["slow/fault-silent-ns", "github/openai/gpt-4.1"]},
    }
    config = write_config(root / "config", providers, virtual, routing={"stream_upstream": False})
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def complete(gw: GatewayProcess, model: str) -> httpx.Response:
    return httpx.post(
        gw.url + "/v1/chat/completions", json={"model": model, "messages": PROMPT}, timeout=30
    )


@pytest.mark.parametrize(
    "model",
    [
        "groq/plain",
        "gemini/plain-g",
        "github/openai/gpt-4.1",
        "cloudflare/@cf/plain",
        "mybox/plain-m",
    ],
)
def test_each_wire_answers_non_streamed(gw, emulator, model):
    emulator.clear()
    response = complete(gw, model)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "whole answer here"
    assert body["usage"]["completion_tokens"] > 0
    sent = next(r for r in emulator.requests if r.model == model.split("/", 1)[1])
    assert not sent.body.get("stream") and "streamGenerateContent" not in sent.path


@pytest.mark.parametrize(
    ("chain", "served"), [("cut", "mybox/plain-m"), ("malformed", "gemini/plain-g")]
)
def test_a_broken_body_fails_over(gw, chain, served):
    response = complete(gw, chain)
    assert response.status_code == 200
    assert response.json()["model"] == served
    assert response.json()["choices"][0]["message"]["content"] == "whole answer here"


def test_a_silent_provider_fails_over_after_its_timeout(gw):
    started = time.monotonic()
    response = complete(gw, "silent")
    assert response.json()["model"] == "github/openai/gpt-4.1"
    assert time.monotonic() - started < 5


def test_usage_is_estimated_when_the_upstream_sends_none(gw):
    usage = complete(gw, "groq/fault-noUsage-ns").json()["usage"]
    assert usage["prompt_tokens"] > 0 and usage["completion_tokens"] > 0
