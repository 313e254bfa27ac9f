"""PROXY_API_KEY: every route but liveness needs `Authorization: Bearer <key>`; 401 otherwise."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

KEY = "gw-test-key-6f1c2d3e4b5a"


@pytest.fixture(scope="module")
def locked_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("locked")
    config = write_config(
        root / "config",
        {"groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m"]}},
        {"coding-elite": {"candidates": ["groq/m"]}},
    )
    env = {**provider_env(emulator), "PROXY_API_KEY": KEY}
    with GatewayProcess(config, root / "data", env=env) as process:
        yield process


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/chat/completions"),
        ("POST", "/chat/completions"),
        ("POST", "/v1/responses"),
        ("GET", "/v1/models"),
        ("GET", "/model/info"),  # one of LiteLLM's own routes
        ("GET", "/stats"),
        ("GET", "/health"),  # LiteLLM's deep health check would spend quota: locked too
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer wrong-key", "Basic abc", f"Bearer {KEY}x"])
def test_missing_or_wrong_key_is_401(locked_gateway, method, path, auth):
    headers = {"authorization": auth} if auth else {}
    response = httpx.request(
        method, locked_gateway.url + path, headers=headers, json={"model": "coding-elite"}
    )
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["type"] == "authentication_error"
    assert error["code"] == "invalid_api_key"
    assert KEY not in response.text


def test_right_key_works_with_openai_sdk(locked_gateway):
    client = openai.OpenAI(base_url=locked_gateway.url + "/v1", api_key=KEY, max_retries=0)
    completion = client.chat.completions.create(
        model="coding-elite", messages=[{"role": "user", "content": "echo: authorised"}]
    )
    assert completion.choices[0].message.content == "authorised"
    assert next(m.id for m in client.models.list()) == "coding-elite"


def test_openai_sdk_with_wrong_key_gets_authentication_error(locked_gateway):
    client = openai.OpenAI(base_url=locked_gateway.url + "/v1", api_key="nope", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        client.chat.completions.create(
            model="coding-elite", messages=[{"role": "user", "content": "hi"}]
        )


def test_liveness_needs_no_key(locked_gateway):
    assert httpx.get(locked_gateway.url + "/health/liveliness").status_code == 200


def test_open_gateway_warns_at_startup(gateway):
    assert "PROXY_API_KEY is not set" in gateway.log()


def test_key_never_logged(locked_gateway):
    httpx.get(locked_gateway.url + "/v1/models", headers={"authorization": f"Bearer {KEY}"})
    assert KEY not in locked_gateway.log()
