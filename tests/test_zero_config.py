"""A user with nothing configured: the shipped config, no keys, no network. They hear at once
and clearly what to set (no 429 for the SDK to sit on), `make run` says which virtual models
can answer, `gateway doctor --probe` fails, and with G4F reachable (here: the emulator) the
coding chains answer with tool calls intact."""

from __future__ import annotations

import json
import socket
import time

import anthropic
import httpx
import openai
import pytest
import yaml

from tests.conftest import tool_spec
from tests.gateway_process import REPO, GatewayProcess, run_cli, write_config

# Every key the shipped config reads, unset (a developer's own environment must not leak in).
NO_KEYS = {
    name: ""
    for name in (
        "GROQ_API_KEY",
        "GEMINI_API_KEY",
        "GITHUB_MODELS_API_KEY",
        "CLOUDFLARE_ACCOUNT_ID",
        "CLOUDFLARE_API_TOKEN",
        "BRAVE_API_KEY",
        "TAVILY_API_KEY",
        "PROXY_API_KEY",
    )
}
ASK = [{"role": "user", "content": "hi"}]


def _online() -> bool:
    """Whether G4F's keyless endpoint resolves: then this machine is not the one to show
    what happens without a network."""
    try:
        socket.getaddrinfo("pollinations.g4f.space", 443)
    except OSError:
        return False
    return True


@pytest.fixture(scope="module")
def keyless(tmp_path_factory):
    if _online():
        pytest.skip("this machine reaches the internet; the test needs one that does not")
    root = tmp_path_factory.mktemp("zero-config")
    with GatewayProcess(REPO / "litellm_config", root / "data", env=NO_KEYS) as gw:
        yield gw


def test_the_openai_sdk_hears_at_once_what_to_set(keyless):
    client = openai.OpenAI(base_url=keyless.url + "/v1", api_key="unused")  # default retries
    for _ in range(2):  # the first reaches for G4F and fails; the second knows already
        started = time.monotonic()
        with pytest.raises(openai.APIStatusError) as caught:
            client.chat.completions.create(model="coding-elite", messages=ASK)
        elapsed = time.monotonic() - started
        assert elapsed < 10, elapsed
        error = caught.value
        assert error.status_code == 503
        assert error.response.headers["x-should-retry"] == "false"
        assert "retry-after" not in error.response.headers
        assert error.body["code"] == "no_reachable_candidate"
        message = error.body["message"]
        assert "g4f/gpt-4o could not be reached" in message
        assert "Set GROQ_API_KEY, GEMINI_API_KEY, CLOUDFLARE_API_TOKEN in .env" in message
        assert "gateway doctor --probe" in message
    assert elapsed < 1  # the second time nothing is even tried


def test_the_anthropic_sdk_too(keyless):
    client = anthropic.Anthropic(base_url=keyless.url, api_key="unused")
    started = time.monotonic()
    with pytest.raises(anthropic.APIStatusError) as caught:
        client.messages.create(model="coding-elite", max_tokens=10, messages=ASK)
    assert time.monotonic() - started < 10
    assert caught.value.status_code == 503
    assert "GROQ_API_KEY" in caught.value.body["error"]["message"]


def test_startup_says_what_can_answer(keyless):
    log = keyless.log()
    assert "virtual models (usable candidates / all):" in log
    assert "coding-elite        1/6  g4f/gpt-4o  (keyless only: best-effort)" in log
    assert "embeddings          0/2  cannot answer: set GEMINI_API_KEY or CLOUDFLARE" in log
    assert "more candidates: set GROQ_API_KEY, GEMINI_API_KEY, CLOUDFLARE_API_TOKEN" in log


def test_doctor_probe_fails_when_nothing_can_answer(tmp_path):
    if _online():
        pytest.skip("this machine reaches the internet; the test needs one that does not")
    result = run_cli(
        "doctor", "--probe", env={**NO_KEYS, "GATEWAY_DATA_DIR": str(tmp_path / "data")}
    )
    assert result.returncode == 1
    assert "[!!] reach g4f: down" in result.stdout
    assert "[!!] reach duckduckgo: down" in result.stdout
    assert "[!!] chat: no chat route can answer" in result.stdout


def test_a_chain_with_nothing_configured_says_so(tmp_path):
    providers = {"groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m"]}}
    config = write_config(tmp_path / "config", providers, {"v": {"candidates": ["groq/m"]}})
    with GatewayProcess(config, tmp_path / "data", env=NO_KEYS) as gw:
        response = httpx.post(
            gw.url + "/v1/chat/completions", json={"model": "v", "messages": ASK}, timeout=10
        )
        assert gw.log().count("no chat provider is usable") == 1
    assert response.status_code == 503
    assert response.headers["x-should-retry"] == "false"
    error = response.json()["error"]
    assert error["code"] == "no_usable_candidate"
    assert "Set GROQ_API_KEY in .env" in error["message"]


def test_without_keys_coding_elite_answers_through_g4f_with_tools(emulator, tmp_path):
    """The shipped chains with no keys at all, G4F pointed at the emulator (the shipped g4f
    provider reaches PollinationsAI, which this machine cannot): tool calls come back whole."""
    shipped = yaml.safe_load((REPO / "litellm_config" / "providers.yaml").read_text())
    shipped["providers"]["g4f"] = {
        "type": "g4f",
        "api_base": emulator.base_url + "/v1",
        "models": ["gpt-4o", "gpt-4o-mini"],
    }
    config = tmp_path / "config"
    config.mkdir()
    (config / "providers.yaml").write_text(yaml.safe_dump(shipped))
    (config / "virtual_models.yaml").write_text(
        (REPO / "litellm_config" / "virtual_models.yaml").read_text()
    )
    with GatewayProcess(config, tmp_path / "data", env=NO_KEYS) as gw:
        client = openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)
        raw = client.chat.completions.with_raw_response.create(
            model="coding-elite",
            messages=[{"role": "user", "content": "create hello.txt containing hi"}],
            tools=[tool_spec("write")],
        )
    assert raw.headers["x-gateway-served-by"] == "g4f/gpt-4o"
    (call,) = raw.parse().choices[0].message.tool_calls
    assert call.function.name == "write"
    assert json.loads(call.function.arguments) == {"filePath": "hello.txt", "content": "hi"}
