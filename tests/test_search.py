"""`POST /v1/search`: DuckDuckGo, then Brave, then Tavily, against the emulator's copies of
their APIs (DuckDuckGo's HTML page is read by the real `ddgs` parser)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import BRAVE_KEY, TAVILY_KEY, provider_env
from tests.gateway_process import GatewayProcess, write_config

SEARCH = {
    "duckduckgo": {"type": "duckduckgo", "timeout": 2},
    "brave": {"type": "brave", "api_key_env": "BRAVE_API_KEY"},
    "tavily": {"type": "tavily", "api_key_env": "TAVILY_API_KEY"},
}
# Short rests, so a provider failed in one test is back for the next.
ROUTING = {
    "cooldown_seconds": 1,
    "rate_limit_cooldown_seconds": 1,
    "auth_error_cooldown_seconds": 1,
    "max_retry_after_seconds": 1,
}


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("search")
    config = write_config(root / "config", {}, {}, search=SEARCH, routing=ROUTING)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def search(gw: GatewayProcess, query: str, path: str = "/v1/search", **extra) -> httpx.Response:
    return httpx.post(gw.url + path, json={"query": query, **extra}, timeout=30)


def rested(seconds: float = 1.2) -> None:
    time.sleep(seconds)  # let the cooldowns of the previous test's failures run out


def test_duckduckgo_answers_first(gw, emulator):
    response = search(gw, "rust async runtimes")
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "duckduckgo/search"
    data = response.json()
    assert data["object"] == "search"
    assert data["results"][0] == {
        "title": "duckduckgo result 1 for rust async runtimes",
        "url": "https://example.com/duckduckgo/1",
        "snippet": "Snippet 1 from duckduckgo.",
    }
    sent = [r for r in emulator.requests if r.provider == "duckduckgo"][-1]
    assert sent.body["q"] == "rust async runtimes"


@pytest.mark.parametrize("path", ["/search", "/v1/search/web-search"])
def test_other_paths_and_max_results(gw, path):
    response = search(gw, "python", path=path, max_results=2)
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 2


def test_rate_limited_duckduckgo_falls_over_to_brave(gw, emulator):
    rested()
    response = search(gw, "tokio duckduckgo-fault-429", max_results=2)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "brave/search"
    results = response.json()["results"]
    assert [r["url"] for r in results] == [
        "https://example.com/brave/1",
        "https://example.com/brave/2",
    ]
    sent = [r for r in emulator.requests if r.provider == "brave"][-1]
    assert sent.headers["x-subscription-token"] == BRAVE_KEY
    assert sent.query["q"] == "tokio duckduckgo-fault-429" and sent.query["count"] == "2"


def test_brave_failing_too_leaves_it_to_tavily(gw, emulator):
    rested()
    response = search(gw, "axum duckduckgo-fault-503 brave-fault-401")
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "tavily/search"
    assert response.json()["results"][0]["url"] == "https://example.com/tavily/1"
    sent = [r for r in emulator.requests if r.provider == "tavily"][-1]
    assert sent.api_key == TAVILY_KEY and sent.body["query"].startswith("axum")


def test_silent_duckduckgo_times_out_and_brave_answers(gw):
    rested()
    started = time.monotonic()
    response = search(gw, "serde duckduckgo-fault-silent")
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "brave/search"
    assert time.monotonic() - started < 5  # the provider's 2 s timeout, not the client's


def test_everyone_failing_is_a_429_naming_each_provider(gw):
    rested()
    response = search(gw, "q duckduckgo-fault-429 brave-fault-429 tavily-fault-500")
    assert response.status_code == 429, response.text
    assert response.headers["retry-after"]
    error = response.json()["error"]
    assert error["code"] == "all_candidates_exhausted"
    assert [c["model"] for c in error["candidates"]] == [
        "duckduckgo/search",
        "brave/search",
        "tavily/search",
    ]
    assert BRAVE_KEY not in response.text and TAVILY_KEY not in response.text


def test_searches_show_in_stats(gw):
    rested()
    assert search(gw, "stats please").status_code == 200
    providers = httpx.get(gw.url + "/stats", timeout=30).json()["providers"]
    assert set(providers) >= {"duckduckgo", "brave", "tavily"}
    hour = providers["duckduckgo"]["models"]["duckduckgo/search"]["hour"]
    assert hour["requests"] >= 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "query"),
        ({"query": "  "}, "query"),
        ({"query": ["a", "b"]}, "query"),
        ({"query": "x", "max_results": 0}, "max_results"),
        ({"query": "x", "max_results": 21}, "max_results"),
        ({"query": "x", "max_results": "3"}, "max_results"),
        ({"query": "x", "max_results": True}, "max_results"),
    ],
)
def test_bad_requests_are_400(gw, body, param):
    response = httpx.post(gw.url + "/v1/search", json=body, timeout=30)
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == param


def test_unknown_search_tool_is_404(gw):
    response = search(gw, "x", path="/v1/search/other")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "search_not_found"


def test_without_search_providers_search_is_404(gateway):
    response = search(gateway, "x")
    assert response.status_code == 404
    assert "search:" in response.json()["error"]["message"]
