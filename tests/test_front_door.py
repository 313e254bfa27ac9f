"""One front door: every model API goes through the gateway's chains, LiteLLM's other routes
are closed unless GATEWAY_LITELLM_ROUTES opens a group, every error is JSON in the caller's
shape, and a provider key an upstream quotes never reaches a client."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import GEMINI_KEY, GROQ_KEY, provider_env
from tests.gateway_process import GatewayProcess, run_cli, write_config

# LiteLLM proxy routes that used to answer behind the gateway's own.
CLOSED = [
    ("POST", "/engines/coding-elite/chat/completions"),
    ("POST", "/openai/deployments/coding-elite/chat/completions"),
    ("POST", "/v1/audio/speech"),
    ("POST", "/v1/images/generations"),
    ("POST", "/key/generate"),
    ("GET", "/key/list"),
    ("GET", "/model/info"),
    ("POST", "/config/update"),
    ("GET", "/health"),
    ("GET", "/ui/"),
    ("POST", "/mcp"),
    ("GET", "/v1/threads/x"),
    ("POST", "/anthropic/v1/messages"),
]


@pytest.mark.parametrize(("method", "path"), CLOSED)
def test_closed_routes_answer_a_json_404(gateway, method, path):
    response = httpx.request(method, gateway.url + path, json={"model": "coding-elite"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    if path.startswith("/anthropic/"):
        assert body["type"] == "error" and body["error"]["type"] == "not_found_error"
    else:
        assert body["error"]["code"] == "not_found"
        assert "GATEWAY_LITELLM_ROUTES" in body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "anthropic_shape"),
    [
        ("GET", "/v1/chat/completions", False),
        ("DELETE", "/v1/models", False),
        ("GET", "/v1/messages", True),
        ("PUT", "/v1/embeddings", False),
    ],
)
def test_wrong_method_is_a_json_405(gateway, method, path, anthropic_shape):
    response = httpx.request(method, gateway.url + path)
    assert response.status_code == 405
    body = response.json()
    if anthropic_shape:
        assert body["type"] == "error"
    else:
        assert body["error"]["code"] == "method_not_allowed"


def test_root_and_probes(gateway):
    assert httpx.get(gateway.url + "/").json()["name"] == "free-llm-gateway"
    assert httpx.head(gateway.url + "/").status_code == 200
    assert httpx.get(gateway.url + "/health/liveliness").json() == {"status": "alive"}
    assert httpx.get(gateway.url + "/health/readiness").json()["status"] == "ready"


@pytest.fixture(scope="module")
def leaky_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    """Upstreams whose 401 quotes the key they were sent, with no cooldown after a 401, so
    every request reaches them."""
    root = tmp_path_factory.mktemp("leaky")
    providers = {
        "leaky": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["fault-401echo"]},
        "leakgem": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["fault-401echo"]},
        "leakybox": {
            "type": "openai_compatible",
            "api_base": emulator.base_url + "/v1",
            "api_key_env": "GROQ_API_KEY",
            "models": {"fault-401echo-embed": {"mode": "embedding"}},
        },
    }
    virtual = {"leaky": {"candidates": ["leaky/fault-401echo", "leakgem/fault-401echo"]}}
    config = write_config(
        root / "config", providers, virtual, routing={"auth_error_cooldown_seconds": 0}
    )
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def leaky_requests() -> list[tuple[str, dict]]:
    prompt = [{"role": "user", "content": "hi"}]
    return [
        ("/v1/chat/completions", {"model": "leaky", "messages": prompt}),
        ("/v1/chat/completions", {"model": "leaky", "messages": prompt, "stream": True}),
        ("/v1/chat/completions", {"model": "leaky/fault-401echo", "messages": prompt}),
        ("/v1/responses", {"model": "leaky", "input": "hi"}),
        ("/v1/responses", {"model": "leaky", "input": "hi", "stream": True}),
        ("/v1/messages", {"model": "leaky", "max_tokens": 10, "messages": prompt}),
        ("/v1/messages", {"model": "leaky", "max_tokens": 10, "messages": prompt, "stream": True}),
        ("/v1/completions", {"model": "leaky", "prompt": "hi"}),
        ("/v1/completions", {"model": "leaky", "prompt": "hi", "stream": True}),
        ("/v1/embeddings", {"model": "leakybox/fault-401echo-embed", "input": "hi"}),
    ]


@pytest.mark.parametrize(("path", "body"), leaky_requests())
def test_a_key_quoted_by_an_upstream_never_reaches_the_client(leaky_gateway, emulator, path, body):
    before = sum(r.api_key in (GROQ_KEY, GEMINI_KEY) for r in emulator.requests)
    response = httpx.post(leaky_gateway.url + path, json=body, timeout=30)
    # The upstream was called with the key (so it did quote it) ...
    assert sum(r.api_key in (GROQ_KEY, GEMINI_KEY) for r in emulator.requests) > before
    # ... and the client never sees it, and gets a JSON error in its API's shape.
    for secret in (GROQ_KEY, GEMINI_KEY, "gsk_", "AIza"):
        assert secret not in response.text
    assert response.status_code != 200
    assert response.headers["content-type"] == "application/json"
    error = response.json()
    if path.startswith("/v1/messages"):
        assert error["type"] == "error"
    else:
        assert error["error"]["message"]
    assert GROQ_KEY not in leaky_gateway.log() and GEMINI_KEY not in leaky_gateway.log()


@pytest.fixture(scope="module")
def admin_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("admin-routes")
    config = write_config(
        root / "config",
        {"groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m"]}},
        {"coding-elite": {"candidates": ["groq/m"]}},
    )
    env = {**provider_env(emulator), "GATEWAY_LITELLM_ROUTES": "admin"}
    with GatewayProcess(config, root / "data", env=env, startup_timeout=120) as process:
        yield process


def test_an_opened_group_reaches_litellm_and_nothing_else(admin_gateway):
    # The admin group's routes are LiteLLM's: its model info lists the deployment.
    info = httpx.get(admin_gateway.url + "/model/info", timeout=30)
    assert info.status_code == 200
    assert "groq/m" in info.text
    # LiteLLM's answers without a database are JSON errors, never plain text or a key.
    keys = httpx.get(admin_gateway.url + "/key/list", timeout=30)
    assert keys.headers["content-type"] == "application/json"
    assert GROQ_KEY not in keys.text
    # Its model routes stay closed, and the model APIs stay the gateway's.
    closed = httpx.post(admin_gateway.url + "/engines/m/chat/completions", json={})
    assert closed.status_code == 404
    served = httpx.post(
        admin_gateway.url + "/v1/chat/completions",
        json={"model": "coding-elite", "messages": [{"role": "user", "content": "echo: ours"}]},
        timeout=30,
    )
    assert served.headers["x-gateway-served-by"] == "groq/m"
    assert "LiteLLM proxy routes open for admin" in admin_gateway.log()


def test_an_unknown_route_group_is_a_configuration_error(tmp_path):
    result = run_cli("run", "--port", "1", env={"GATEWAY_LITELLM_ROUTES": "admin,everything"})
    assert result.returncode == 2
    assert "GATEWAY_LITELLM_ROUTES" in result.stderr and "everything" in result.stderr
