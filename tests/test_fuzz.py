"""Generated bad (and sometimes good) requests against every public endpoint: never a 5xx,
never a body that is not JSON (or a stream, for a request that asked for one)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

# A gateway of its own: generated requests that reach the emulator must not cool down the
# routes other tests rely on.


@pytest.fixture(scope="module")
def fuzz_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("fuzz")
    base = emulator.base_url
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["fuzzed"]},
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["fuzzed-g"]},
        "mybox": {
            "type": "openai_compatible",
            "api_base": f"{base}/v1",
            "models": {"fuzzed-m": {}, "vectors": {"mode": "embedding"}},
        },
    }
    virtual = {
        "coding-elite": {"candidates": ["groq/fuzzed", "gemini/fuzzed-g", "mybox/fuzzed-m"]},
        "embeddings": {"mode": "embedding", "candidates": ["mybox/vectors"]},
    }
    config = write_config(root / "config", providers, virtual)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
JSON = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)
MODELS = st.sampled_from(["coding-elite", "groq/fuzzed", "gemini/fuzzed-g", "embeddings", "x"])
ROLE_MESSAGE = st.fixed_dictionaries(
    {"role": st.sampled_from(["user", "assistant", "system", "tool", "x"]) | JSON},
    optional={"content": st.text(max_size=40) | JSON, "tool_calls": JSON, "name": JSON},
)
MESSAGES = st.lists(ROLE_MESSAGE, max_size=4) | JSON


def body(fields: dict[str, st.SearchStrategy]) -> st.SearchStrategy:
    """Requests with a plausible model, any subset of the endpoint's fields (each a
    plausible or a random value), and now and then a field nobody knows."""
    return st.fixed_dictionaries(
        {"model": MODELS | JSON},
        optional={
            **{name: strategy | JSON for name, strategy in fields.items()},
            "unknown_field": JSON,
        },
    )


ENDPOINTS = {
    "/v1/chat/completions": body(
        {
            "messages": MESSAGES,
            "stream": st.booleans(),
            "tools": st.lists(
                st.fixed_dictionaries({"type": st.just("function"), "function": JSON})
            ),
            "tool_choice": st.sampled_from(["auto", "none", "required"]),
            "temperature": st.floats(0, 2),
            "max_tokens": st.integers(-5, 100),
            "response_format": st.fixed_dictionaries({"type": st.text(max_size=12)}),
            "stop": st.lists(st.text(max_size=5), max_size=3),
            "n": st.integers(-1, 3),
        }
    ),
    "/v1/responses": body(
        {
            "input": st.text(max_size=30) | st.lists(JSON, max_size=3),
            "instructions": st.text(max_size=30),
            "tools": st.lists(JSON, max_size=2),
            "stream": st.booleans(),
            "store": st.booleans(),
            "previous_response_id": st.text(max_size=20),
            "max_output_tokens": st.integers(-5, 100),
        }
    ),
    "/v1/messages": body(
        {
            "messages": MESSAGES,
            "system": st.text(max_size=30) | st.lists(JSON, max_size=2),
            "max_tokens": st.integers(-5, 100),
            "tools": st.lists(JSON, max_size=2),
            "tool_choice": JSON,
            "stream": st.booleans(),
            "thinking": JSON,
        }
    ),
    "/v1/completions": body(
        {
            "prompt": st.text(max_size=30) | st.lists(st.text(max_size=10), max_size=3),
            "stream": st.booleans(),
            "echo": st.booleans(),
            "max_tokens": st.integers(-5, 100),
        }
    ),
    "/v1/embeddings": body(
        {
            "input": st.text(max_size=30) | st.lists(st.text(max_size=10), max_size=3),
            "encoding_format": st.sampled_from(["float", "base64", "hex"]),
            "dimensions": st.integers(-2, 16),
        }
    ),
    "/v1/messages/count_tokens": body({"messages": MESSAGES, "system": JSON}),
    "/v1/search": st.fixed_dictionaries(
        {}, optional={"query": st.text(max_size=30) | JSON, "max_results": st.integers(-2, 30)}
    ),
}


def check(gateway: GatewayProcess, path: str, payload: object) -> None:
    with httpx.stream("POST", gateway.url + path, json=payload, timeout=60) as response:
        content = response.read()
    kind = response.headers.get("content-type", "")
    assert response.status_code < 500, (path, payload, content[:500])
    if kind.startswith("text/event-stream"):
        assert response.status_code == 200
    else:
        assert kind.startswith("application/json"), (path, payload, kind, content[:200])
        httpx.Response(200, content=content).json()  # parses


FUZZ_SETTINGS = settings(
    max_examples=120,
    deadline=None,
    derandomize=True,  # the same cases in every run (and in CI)
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@pytest.mark.parametrize("path", sorted(ENDPOINTS))
def test_generated_requests_get_json_and_no_5xx(fuzz_gateway, path):
    @FUZZ_SETTINGS
    @given(ENDPOINTS[path])
    def run(payload: object) -> None:
        check(fuzz_gateway, path, payload)

    run()


@FUZZ_SETTINGS
@given(st.binary(max_size=200))
def test_raw_bytes_bodies_get_json_and_no_5xx(fuzz_gateway, raw):
    for path in ("/v1/chat/completions", "/v1/messages", "/v1/responses"):
        response = httpx.post(fuzz_gateway.url + path, content=raw, timeout=30)
        assert response.status_code < 500
        assert response.headers["content-type"].startswith("application/json")
