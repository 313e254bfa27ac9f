"""`GET /metrics`: scraped from a real gateway after real requests, parsed with
prometheus_client's own parser; and the Grafana dashboard only asks for what is exposed."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import GEMINI_KEY, GROQ_KEY, provider_env
from tests.gateway_process import REPO, GatewayProcess, write_config

KEY = "sk-metrics-test-key-0123456789"
AUTH = {"Authorization": f"Bearer {KEY}"}
PROMPT = [{"role": "user", "content": "echo: one two three"}]
DASHBOARD = REPO / "deploy" / "grafana" / "llm-gateway.json"

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

PROVIDERS = {
    "groq": {
        "type": "groq",
        "api_key_env": "GROQ_API_KEY",
        "limits": {"rpm": 100, "rpd": 1000},
        "models": {
            "m1": {},
            "fault-429-ra7": {},
            "fault-cut3": {},
            "fault-cut2": {},
            "fault-400": {},
            "limited": {"rpd": 2},
        },
    },
    "gemini": {
        "type": "gemini",
        "api_key_env": "GEMINI_API_KEY",
        "models": ["gemini-3-pro", "fault-429"],
    },
    # Nothing listens on port 1: the health probe finds it down.
    "deadbox": {"type": "openai_compatible", "api_base": "http://127.0.0.1:1/v1", "models": ["x"]},
    "nokey": {"type": "groq", "api_key_env": "NOT_SET_ANYWHERE", "models": ["m1"]},
}
VIRTUAL_MODELS = {
    "plain": {"candidates": ["groq/m1", "gemini/gemini-3-pro"]},
    "fallback": {"candidates": ["groq/fault-429-ra7", "gemini/gemini-3-pro"]},
    "cut": {"candidates": ["groq/fault-cut3", "gemini/gemini-3-pro"]},
    "lonely": {"candidates": ["groq/fault-cut2"]},
    "quota": {"candidates": ["groq/limited", "gemini/gemini-3-pro"]},
    "dead": {"candidates": ["gemini/fault-429"]},
    "bad": {"candidates": ["groq/fault-400", "gemini/gemini-3-pro"]},
    "nothing": {"candidates": ["nokey/m1"]},
    "nowhere": {"candidates": ["deadbox/x"]},
}


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("metrics")
    config = write_config(
        root / "config", PROVIDERS, VIRTUAL_MODELS, routing={"health_check_interval": 1}
    )
    env = {**provider_env(emulator), "PROXY_API_KEY": KEY}
    with GatewayProcess(config, root / "data", env=env) as process:
        yield process


def chat(gw: GatewayProcess, model: str, stream: bool = False) -> tuple[httpx.Response, dict]:
    """One chat request; the answer's usage (streams: from the usage chunk)."""
    body = {"model": model, "messages": PROMPT}
    if not stream:
        response = httpx.post(gw.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30)
        return response, (response.json().get("usage") or {})
    body |= {"stream": True, "stream_options": {"include_usage": True}}
    usage: dict = {}
    with httpx.stream(
        "POST", gw.url + "/v1/chat/completions", json=body, headers=AUTH, timeout=30
    ) as response:
        for line in response.iter_lines():
            if line.startswith("data: {"):
                usage = json.loads(line[6:]).get("usage") or usage
    return response, usage


def scrape(gw: GatewayProcess, headers: dict[str, str] | None = AUTH) -> Samples:
    response = httpx.get(gw.url + "/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    samples: Samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def matching(samples: Samples, name: str, **labels: str) -> dict[frozenset, float]:
    """Every sample of `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return {key: v for (n, key), v in samples.items() if n == name and wanted <= key}


def test_requests_attempts_tokens_and_latency(gw):
    before = scrape(gw)
    usages = [chat(gw, "plain")[1], chat(gw, "plain")[1], chat(gw, "plain", stream=True)[1]]
    response, direct_usage = chat(gw, "groq/m1")  # a direct name: virtual_model=""
    assert response.status_code == 200
    usages.append(direct_usage)
    after = scrape(gw)

    def delta(name: str, **labels: str) -> float:
        return (value(after, name, **labels) or 0) - (value(before, name, **labels) or 0)

    requests = "llm_gateway_requests_total"
    assert value(after, requests, virtual_model="plain", outcome="success") == 3
    assert delta(requests, virtual_model="", outcome="success") == 1
    attempts = "llm_gateway_upstream_attempts_total"
    route = {"route": "groq/m1", "provider": "groq"}
    assert value(after, attempts, virtual_model="plain", outcome="success", **route) == 3
    assert delta(attempts, virtual_model="", outcome="success", **route) == 1
    assert matching(after, attempts, virtual_model="plain").keys() == {
        frozenset({("virtual_model", "plain"), ("outcome", "success"), *route.items()})
    }
    tokens = "llm_gateway_tokens_total"
    assert delta(tokens, type="input", **route) == sum(u["prompt_tokens"] for u in usages) > 0
    assert delta(tokens, type="output", **route) == sum(u["completion_tokens"] for u in usages)

    labels = {"virtual_model": "plain", "route": "groq/m1"}
    for histogram in (
        "llm_gateway_request_duration_seconds",
        "llm_gateway_time_to_first_token_seconds",
    ):
        assert value(after, histogram + "_count", **labels) == 3
        assert value(after, histogram + "_bucket", le="+Inf", **labels) == 3
        assert value(after, histogram + "_bucket", le="120.0", **labels) == 3
        assert 0 < value(after, histogram + "_sum", **labels) < 30
        buckets = matching(after, histogram + "_bucket", **labels)
        assert {dict(k)["le"] for k in buckets} >= {"0.05", "1.0", "60.0", "120.0", "+Inf"}
    assert not matching(after, "llm_gateway_fallbacks_total", virtual_model="plain")
    assert not matching(after, "llm_gateway_stream_continuations_total", virtual_model="plain")


def test_fallback_from_a_rate_limited_candidate(gw):
    response, _ = chat(gw, "fallback")
    assert response.json()["model"] == "gemini/gemini-3-pro"
    samples = scrape(gw)
    attempts = "llm_gateway_upstream_attempts_total"
    assert matching(samples, attempts, virtual_model="fallback") == {
        frozenset(
            {
                ("virtual_model", "fallback"),
                ("route", "groq/fault-429-ra7"),
                ("provider", "groq"),
                ("outcome", "rate_limited"),
            }
        ): 1,
        frozenset(
            {
                ("virtual_model", "fallback"),
                ("route", "gemini/gemini-3-pro"),
                ("provider", "gemini"),
                ("outcome", "success"),
            }
        ): 1,
    }
    fallbacks = "llm_gateway_fallbacks_total"
    answered = {"virtual_model": "fallback", "route": "gemini/gemini-3-pro"}
    assert value(samples, fallbacks, reason="rate_limited", **answered) == 1
    requests = "llm_gateway_requests_total"
    assert value(samples, requests, virtual_model="fallback", outcome="success") == 1
    # Retry-After: 7 rests the route for 7 s.
    cooling = {"route": "groq/fault-429-ra7", "provider": "groq"}
    assert value(samples, "llm_gateway_cooldown_active", **cooling) == 1
    assert 0 < value(samples, "llm_gateway_cooldown_remaining_seconds", **cooling) <= 7
    assert value(samples, "llm_gateway_cooldown_active", route="groq/m1", provider="groq") == 0
    assert (
        value(samples, "llm_gateway_cooldown_remaining_seconds", route="groq/m1", provider="groq")
        == 0
    )

    # While it rests it is skipped without a call: a fallback of another kind.
    assert chat(gw, "fallback")[0].json()["model"] == "gemini/gemini-3-pro"
    samples = scrape(gw)
    assert value(samples, fallbacks, reason="cooling_down", **answered) == 1
    assert value(samples, fallbacks, reason="rate_limited", **answered) == 1
    limited = {"virtual_model": "fallback", "outcome": "rate_limited", **cooling}
    assert value(samples, attempts, **limited) == 1
    assert value(samples, requests, virtual_model="fallback", outcome="success") == 2


def test_stream_continued_after_a_cut(gw):
    response, _ = chat(gw, "cut", stream=True)
    assert response.status_code == 200
    samples = scrape(gw)
    attempts = "llm_gateway_upstream_attempts_total"
    assert (
        value(
            samples,
            attempts,
            virtual_model="cut",
            route="groq/fault-cut3",
            provider="groq",
            outcome="server_error",
        )
        == 1
    )
    assert (
        value(
            samples,
            attempts,
            virtual_model="cut",
            route="gemini/gemini-3-pro",
            provider="gemini",
            outcome="continuation",
        )
        == 1
    )
    continuations = "llm_gateway_stream_continuations_total"
    assert matching(samples, continuations, virtual_model="cut") == {
        frozenset({("virtual_model", "cut"), ("route", "gemini/gemini-3-pro")}): 1
    }
    assert value(samples, "llm_gateway_requests_total", virtual_model="cut", outcome="success") == 1
    # The answer started on its first candidate: a continuation, not a fallback.
    assert not matching(samples, "llm_gateway_fallbacks_total", virtual_model="cut")
    # Its time to first token is the continuation's own (the cut attempt's is not recorded).
    ttft = "llm_gateway_time_to_first_token_seconds_count"
    assert value(samples, ttft, virtual_model="cut", route="gemini/gemini-3-pro") == 1
    duration = "llm_gateway_request_duration_seconds_count"
    assert value(samples, duration, virtual_model="cut", route="gemini/gemini-3-pro") == 1


def test_quota_used_and_limit(gw):
    served = [chat(gw, "quota")[0].json()["model"] for _ in range(3)]
    assert served == ["groq/limited", "groq/limited", "gemini/gemini-3-pro"]
    samples = scrape(gw)
    model_scope = {"provider": "groq", "scope": "groq/limited"}
    assert value(samples, "llm_gateway_quota_used", window="rpd", **model_scope) == 2
    assert value(samples, "llm_gateway_quota_limit", window="rpd", **model_scope) == 2
    # Only the windows that have a limit.
    assert set(
        dict(k)["window"] for k in matching(samples, "llm_gateway_quota_limit", **model_scope)
    ) == {"rpd"}
    account = {"provider": "groq", "scope": "groq"}
    assert value(samples, "llm_gateway_quota_limit", window="rpm", **account) == 100
    assert value(samples, "llm_gateway_quota_limit", window="rpd", **account) == 1000
    assert value(samples, "llm_gateway_quota_used", window="rpd", **account) >= 2
    # The scope is listed once, not once per model of the provider.
    assert len(matching(samples, "llm_gateway_quota_used", window="rpd", **account)) == 1
    assert not matching(samples, "llm_gateway_quota_limit", provider="gemini")
    fallbacks = "llm_gateway_fallbacks_total"
    assert matching(samples, fallbacks, virtual_model="quota") == {
        frozenset(
            {
                ("virtual_model", "quota"),
                ("route", "gemini/gemini-3-pro"),
                ("reason", "quota_exhausted"),
            }
        ): 1
    }
    # A request skipped for its quota made no call.
    attempts = matching(samples, "llm_gateway_upstream_attempts_total", route="groq/limited")
    assert sum(attempts.values()) == 2


def test_requests_that_got_no_answer(gw):
    assert chat(gw, "dead")[0].status_code == 429
    assert chat(gw, "nothing")[0].status_code == 503
    assert chat(gw, "nowhere")[0].status_code == 503
    assert chat(gw, "bad")[0].status_code == 400
    response, _ = chat(gw, "lonely", stream=True)
    assert response.status_code == 200  # the error is in-band: the answer had started
    samples = scrape(gw)
    requests = "llm_gateway_requests_total"
    assert matching(samples, requests, virtual_model="dead") == {
        frozenset({("virtual_model", "dead"), ("outcome", "exhausted")}): 1
    }
    assert value(samples, requests, virtual_model="nothing", outcome="unusable") == 1
    assert value(samples, requests, virtual_model="nowhere", outcome="unreachable") == 1
    assert value(samples, requests, virtual_model="bad", outcome="rejected") == 1
    assert value(samples, requests, virtual_model="lonely", outcome="interrupted") == 1
    attempts = "llm_gateway_upstream_attempts_total"
    assert (
        value(
            samples,
            attempts,
            virtual_model="dead",
            route="gemini/fault-429",
            provider="gemini",
            outcome="rate_limited",
        )
        == 1
    )
    assert (
        value(
            samples,
            attempts,
            virtual_model="bad",
            route="groq/fault-400",
            provider="groq",
            outcome="bad_request",
        )
        == 1
    )
    assert not matching(samples, attempts, virtual_model="nothing")
    # Only answered requests have a duration.
    for model in ("dead", "nothing", "nowhere", "bad", "lonely"):
        assert not matching(
            samples, "llm_gateway_request_duration_seconds_count", virtual_model=model
        )


def test_health_telemetry_and_in_flight_gauges(gw):
    deadline = time.monotonic() + 15
    while (
        value(samples := scrape(gw), "llm_gateway_route_up", route="deadbox/x", provider="deadbox")
        != 0
    ):
        assert time.monotonic() < deadline, "the health probe never marked deadbox down"
        time.sleep(0.3)
    assert value(samples, "llm_gateway_route_up", route="groq/m1", provider="groq") == 1
    assert (
        value(samples, "llm_gateway_route_up", route="gemini/gemini-3-pro", provider="gemini") == 1
    )
    # Unusable routes (no key) are not described.
    assert not matching(samples, "llm_gateway_route_up", provider="nokey")
    assert not matching(samples, "llm_gateway_cooldown_active", provider="nokey")
    assert value(samples, "llm_gateway_telemetry_queue_rows") >= 0
    assert value(samples, "llm_gateway_telemetry_dropped_rows_total") == 0
    assert value(samples, "llm_gateway_requests_in_flight") >= 1  # the scrape itself
    chat(gw, "groq/m1")
    deadline = time.monotonic() + 10
    while value(samples := scrape(gw), "llm_gateway_telemetry_queue_rows") != 0:
        assert time.monotonic() < deadline, "the telemetry queue never drained"
        time.sleep(0.2)
    assert value(samples, "llm_gateway_telemetry_written_rows_total") >= 1
    assert value(samples, "process_resident_memory_bytes") > 0


def test_metrics_need_the_key_and_never_show_secrets(gw, emulator):
    chat(gw, "groq/m1")
    missing = httpx.get(gw.url + "/metrics", timeout=30)
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "invalid_api_key"
    wrong = httpx.get(gw.url + "/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401
    response = httpx.get(gw.url + "/metrics", headers=AUTH, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    also = httpx.get(gw.url + "/metrics", headers={"x-api-key": KEY}, timeout=30)
    assert also.status_code == 200
    text = response.text
    for secret in (KEY, GROQ_KEY, GEMINI_KEY, emulator.base_url, "127.0.0.1:1"):
        assert secret not in text
    assert "llm_gateway_requests_total" in text


def test_openmetrics_when_the_scraper_asks_for_it(gw):
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as openmetrics_families,
    )

    accept = "application/openmetrics-text;version=1.0.0,text/plain;version=0.0.4;q=0.5"
    response = httpx.get(gw.url + "/metrics", headers={**AUTH, "Accept": accept}, timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/openmetrics-text")
    families = {f.name: f for f in openmetrics_families(response.text)}
    assert families["llm_gateway_requests"].type == "counter"
    assert families["llm_gateway_request_duration_seconds"].type == "histogram"
    assert families["llm_gateway_quota_limit"].type == "gauge"


def test_metrics_public_opens_only_metrics(emulator, tmp_path):
    config = write_config(
        tmp_path / "config",
        {"groq": PROVIDERS["groq"]},
        {"plain": {"candidates": ["groq/m1"]}},
    )
    env = {**provider_env(emulator), "PROXY_API_KEY": KEY, "GATEWAY_METRICS_PUBLIC": "1"}
    with GatewayProcess(config, tmp_path / "data", env=env) as gw:
        assert chat(gw, "plain")[0].status_code == 200
        samples = scrape(gw, headers=None)
        assert (
            value(samples, "llm_gateway_requests_total", virtual_model="plain", outcome="success")
            == 1
        )
        assert scrape(gw, headers=AUTH)  # a scraper that sends the key is fine too
        assert httpx.get(gw.url + "/stats", timeout=30).status_code == 401
        no_key = httpx.post(
            gw.url + "/v1/chat/completions", json={"model": "plain", "messages": PROMPT}, timeout=30
        )
        assert no_key.status_code == 401
        assert KEY not in httpx.get(gw.url + "/metrics", timeout=30).text


# -- the Grafana dashboard -------------------------------------------------------------------


def exposed_sample_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """The sample names an app built in this process exposes (no server, no provider call)."""
    from gateway.settings import OFFLINE_DEFAULTS, Settings

    for name in (*OFFLINE_DEFAULTS, "CONFIG_FILE_PATH"):  # restored after the test
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("GATEWAY_DOTENV", str(tmp_path / "no.env"))
    monkeypatch.setenv("GROQ_API_KEY", GROQ_KEY)
    config = write_config(
        tmp_path / "config", {"groq": PROVIDERS["groq"]}, {"plain": VIRTUAL_MODELS["plain"]}
    )
    from gateway.app import create_app

    settings = Settings(
        config_dir=config, data_dir=tmp_path / "data", proxy_api_key=None, log_level="INFO"
    )
    state = create_app(settings).state.gateway
    text = asyncio.run(state.metrics.exposition(state))[0].decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        suffixes = {
            "counter": ("_total",),
            "histogram": ("_bucket", "_sum", "_count"),
        }.get(family.type, ("",))
        names.update(family.name + suffix for suffix in suffixes)
    return names


def dashboard_queries(dashboard: dict) -> list[str]:
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key in ("expr", "query", "definition") and isinstance(item, str):
                    found.append(item)
                elif (
                    isinstance(item, dict) and key == "query" and isinstance(item.get("query"), str)
                ):
                    found.append(item["query"])
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(dashboard)
    return found


def test_dashboard_uses_only_exposed_metrics(tmp_path, monkeypatch):
    dashboard = json.loads(DASHBOARD.read_text())
    queries = dashboard_queries(dashboard)
    used = {
        name
        for query in queries
        for name in re.findall(r"\b((?:llm_gateway|process)_[a-z0-9_]+)", query)
    }
    assert len(used) >= 10, used
    exposed = exposed_sample_names(tmp_path, monkeypatch)
    assert used <= exposed, f"not exposed: {sorted(used - exposed)}"
    # Every counter and histogram the gateway exposes has a panel.
    families = {n.removesuffix("_total") for n in exposed if n.startswith("llm_gateway_")}
    bases = {re.sub(r"_(bucket|sum|count|total)$", "", n) for n in used}
    assert {re.sub(r"_(bucket|sum|count)$", "", f) for f in families} <= bases


def test_dashboard_is_importable(tmp_path):
    dashboard = json.loads(DASHBOARD.read_text())
    [source] = [i for i in dashboard["__inputs"] if i["type"] == "datasource"]
    assert source["pluginId"] == "prometheus"
    variable = "${" + source["name"] + "}"
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    assert len(panels) >= 10
    assert len({p["id"] for p in dashboard["panels"]}) == len(dashboard["panels"])
    for panel in panels:
        assert panel["datasource"]["uid"] == variable, panel["title"]
        assert panel["targets"] and all(t["expr"] for t in panel["targets"]), panel["title"]
        assert {"x", "y", "w", "h"} <= panel["gridPos"].keys()
    titles = " ".join(p["title"].lower() for p in panels)
    for topic in (
        "request rate",
        "success rate",
        "latency",
        "first token",
        "fallbacks",
        "quota",
        "cooldown",
        "queue",
    ):
        assert topic in titles, topic
    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    assert os.path.basename(DASHBOARD) == "llm-gateway.json"
