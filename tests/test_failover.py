"""Failover conduct (issue 3): silent and slow upstreams, streams that die or stall mid-answer,
continuation refused, short Retry-After, one quick retry, circuit breaking.

A gateway of its own with small timeouts keeps the slow faults short: first byte and first
token 2 s, stream idle 1.5 s, cooldown 3 s; `stream_upstream` (the default) gives non-stream
requests the same limits.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

FULL = "one two three four five six seven eight"
PROMPT = [{"role": "user", "content": "echo: " + FULL}]

CHAINS = {
    "silent": ["groq/fault-silent", "gemini/ok-silent"],
    "silent-ns": ["groq/fault-silent-ns", "gemini/ok-silent-ns"],
    "slowfirst": ["groq/fault-slowfirst20", "mybox/ok-slowfirst"],
    "slowfirst-ns": ["groq/fault-slowfirst20-ns", "mybox/ok-slowfirst-ns"],
    "cut": ["groq/fault-cut3", "gemini/ok-cut"],
    "cut-ns": ["groq/fault-cut3-ns", "mybox/ok-cut-ns"],
    "cut-ns-responses": ["groq/fault-cut3-nsr", "mybox/ok-cut-ns-responses"],
    "stall": ["groq/fault-stall3", "mybox/ok-stall"],
    "cut-responses": ["groq/fault-cut3-responses", "gemini/ok-cut-responses"],
    "stall-responses": ["groq/fault-stall3-responses", "mybox/ok-stall-responses"],
    "cut-nobody-responses": [
        "groq/fault-cut3-nr",
        "mybox/fault-noprefill-nr",
        "cloudflare/fault-noprefill-r",
    ],
    "cut-then-refuse": ["groq/fault-cut3-r", "mybox/fault-noprefill-r", "gemini/ok-refuse"],
    "cut-nobody": ["groq/fault-cut3-n", "mybox/fault-noprefill-n", "cloudflare/fault-noprefill"],
    "cut-alone": ["groq/fault-cut3-alone"],
    "nodone": ["groq/fault-nodone"],
    "malformed-groq": ["groq/fault-malformed", "mybox/ok-malformed-groq"],
    "malformed-gemini": ["gemini/fault-malformed", "mybox/ok-malformed-gemini"],
    "malformed-openai": ["mybox/fault-malformed", "gemini/ok-malformed-openai"],
    "policy-gemini": ["gemini/fault-policy", "mybox/ok-policy"],
    "ra-short-once": ["groq/fault-429-ra1-once", "mybox/ok-ra-once"],
    "ra-short": ["groq/fault-429-ra1", "mybox/ok-ra"],
    "ra-short-second": ["groq/fault-500-first", "groq/fault-429-ra1-second", "gemini/ok-ra2"],
    "no-ra": ["groq/fault-429-nora", "mybox/ok-nora"],
    "503": ["groq/fault-503-p", "mybox/ok-503"],
    "500-once": ["groq/fault-500-once", "mybox/ok-500-once"],
    "reset-once": ["groq/fault-reset-once", "mybox/ok-reset-once"],
    "breaker": ["groq/fault-500-times4", "mybox/ok-breaker"],
    "silent-messages": ["groq/fault-silent-m", "gemini/ok-silent-m"],
    "silent-ns-messages": ["groq/fault-silent-nm", "mybox/ok-silent-nm"],
    "cut-messages": ["groq/fault-cut3-m", "gemini/ok-cut-m"],
    "stall-messages": ["groq/fault-stall3-m", "mybox/ok-stall-m"],
    "cut-nobody-messages": [
        "groq/fault-cut3-nm",
        "mybox/fault-noprefill-nm",
        "cloudflare/fault-noprefill-nm",
    ],
}


def _models(prefix: str) -> list[str]:
    return sorted(
        {
            ref.split("/", 1)[1]
            for chain in CHAINS.values()
            for ref in chain
            if ref.startswith(prefix)
        }
    )


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("failover")
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": _models("groq/")},
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": _models("gemini/")},
        "cloudflare": {"type": "cloudflare", "models": _models("cloudflare/")},
        "mybox": {
            "type": "openai_compatible",
            "api_base": emulator.base_url + "/v1",
            "models": _models("mybox/"),
        },
    }
    virtual = {name: {"candidates": refs} for name, refs in CHAINS.items()}
    routing = {
        "first_byte_timeout": 2,
        "first_token_timeout": 2,
        "stream_idle_timeout": 1.5,
        "cooldown_seconds": 3,
        "stream_upstream": True,  # the same limits for non-stream requests
    }
    config = write_config(root / "config", providers, virtual, routing=routing)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def stream(gw: GatewayProcess, model: str, **extra) -> tuple[list[dict | str], float, dict]:
    """(events, seconds, headers): each `data:` payload parsed, `[DONE]` kept as a string."""
    body = {"model": model, "messages": PROMPT, "stream": True, **extra}
    started = time.monotonic()
    with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=60) as r:
        assert r.status_code == 200, r.read()
        events: list[dict | str] = [
            line[6:] if line == "data: [DONE]" else json.loads(line[6:])
            for line in r.iter_lines()
            if line.startswith("data: ")
        ]
        headers = dict(r.headers)
    return events, time.monotonic() - started, headers


def text_of(events) -> str:
    return "".join(
        e["choices"][0]["delta"].get("content") or ""
        for e in events
        if isinstance(e, dict) and e.get("choices")
    )


def finishes(events) -> list[str]:
    return [
        e["choices"][0]["finish_reason"]
        for e in events
        if isinstance(e, dict) and e.get("choices") and e["choices"][0].get("finish_reason")
    ]


def complete(gw: GatewayProcess, model: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(
        gw.url + "/v1/chat/completions", json={"model": model, "messages": PROMPT}, timeout=60
    )
    return response, time.monotonic() - started


def assert_whole_answer(events) -> None:
    assert text_of(events) == FULL
    assert finishes(events) == ["stop"]
    assert events[-1] == "[DONE]"


# 1. Silent provider -------------------------------------------------------------------------
def test_silent_provider_stream_fails_over_after_first_byte_timeout(gw, emulator):
    events, seconds, headers = stream(gw, "silent")
    assert_whole_answer(events)
    assert headers["x-gateway-served-by"] == "gemini/ok-silent"
    assert seconds < 5
    assert emulator.count(model="fault-silent") == 1  # a route that timed out is not retried


def test_silent_provider_non_stream(gw):
    response, seconds = complete(gw, "silent-ns")
    assert response.json()["model"] == "gemini/ok-silent-ns"
    assert response.json()["choices"][0]["message"]["content"] == FULL
    assert seconds < 5


# 2. Slow first token -------------------------------------------------------------------------
def test_slow_first_token_fails_over(gw):
    events, seconds, headers = stream(gw, "slowfirst")
    assert_whole_answer(events)
    assert headers["x-gateway-served-by"] == "mybox/ok-slowfirst"
    assert seconds < 5


def test_slow_first_token_non_stream(gw):
    response, seconds = complete(gw, "slowfirst-ns")
    assert response.json()["model"] == "mybox/ok-slowfirst-ns"
    assert seconds < 5


# 3. Stream dies or stalls mid-answer -----------------------------------------------------------
def test_stream_cut_mid_answer_is_continued_seamlessly(gw, emulator):
    events, _, headers = stream(gw, "cut", stream_options={"include_usage": True})
    assert_whole_answer(events)
    assert headers["x-gateway-served-by"] == "groq/fault-cut3"
    models = [e["model"] for e in events if isinstance(e, dict) and e.get("choices")]
    assert models[0] == "groq/fault-cut3" and models[-1] == "gemini/ok-cut"
    roles = [
        e["choices"][0]["delta"].get("role")
        for e in events
        if isinstance(e, dict) and e.get("choices")
    ]
    assert roles.count("assistant") == 1  # the continuation does not announce itself again
    usage = events[-2]["usage"]
    assert events[-2]["model"] == "gemini/ok-cut" and usage["completion_tokens"] > 0
    # The continuing candidate got the conversation plus the partial answer as a prefill.
    continuation = [r for r in emulator.requests if r.model == "ok-cut"][-1]
    contents = continuation.body["contents"]
    assert contents[-1]["role"] == "model"
    assert contents[-1]["parts"][0]["text"] == "one two three "


def test_stream_stall_is_continued_after_idle_timeout(gw):
    events, seconds, _ = stream(gw, "stall")
    assert_whole_answer(events)
    assert 1.4 < seconds < 6


def test_non_stream_cut_restarts_on_next_candidate(gw):
    response, _ = complete(gw, "cut-ns")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == FULL
    assert response.json()["model"] == "mybox/ok-cut-ns"


# 4. Continuation refused -------------------------------------------------------------------------
def test_continuation_refused_tries_the_remaining_candidates(gw):
    events, _, _ = stream(gw, "cut-then-refuse")
    assert_whole_answer(events)
    assert events[-2]["model"] == "gemini/ok-refuse"


def test_nobody_can_continue_ends_with_an_error_not_a_stop(gw):
    events, _, _ = stream(gw, "cut-nobody")
    assert "[DONE]" not in events
    assert "stop" not in finishes(events)
    error = events[-1]["error"]
    assert error["code"] == "stream_interrupted"
    assert "groq/fault-cut3-n failed mid-answer" in error["message"]
    # The original failure (the connection broke mid-body), not the prefill refusals after.
    assert "connection_error" in error["message"]
    assert "could not parse" not in error["message"] and "Bad input" not in error["message"]
    assert text_of(events) == "one two three "


def test_truncated_non_stream_answer_is_never_a_success(gw):
    response, _ = complete(gw, "cut-alone")
    assert response.status_code != 200
    assert "error" in response.json()


# 5. Malformed chunk --------------------------------------------------------------------------
@pytest.mark.parametrize("chain", ["malformed-groq", "malformed-gemini", "malformed-openai"])
def test_malformed_chunk_is_skipped_and_the_stream_goes_on(gw, chain):
    events, _, headers = stream(gw, chain)
    assert_whole_answer(events)
    served = headers["x-gateway-served-by"]
    assert "fault-malformed" in served
    assert {e["model"] for e in events if isinstance(e, dict)} == {served}  # no continuation
    assert "skipped a malformed stream event" in gw.log()


# 6. Stream without [DONE] ------------------------------------------------------------------------
def test_stream_without_done_finishes_promptly_with_usage(gw):
    events, seconds, _ = stream(gw, "nodone", stream_options={"include_usage": True})
    assert_whole_answer(events)
    assert events[-2]["usage"]["total_tokens"] > 0
    assert seconds < 1.5


# 7. 429 ----------------------------------------------------------------------------------------
def test_short_retry_after_on_best_candidate_is_waited_out(gw, emulator):
    response, seconds = complete(gw, "ra-short-once")
    assert response.json()["model"] == "groq/fault-429-ra1-once"
    assert 0.9 < seconds < 3
    assert emulator.count(model="fault-429-ra1-once") == 2


def test_short_retry_after_never_hammers(gw, emulator):
    response, _ = complete(gw, "ra-short")
    assert response.json()["model"] == "mybox/ok-ra"
    assert emulator.count(model="fault-429-ra1") == 2  # waited once, then failed over
    complete(gw, "ra-short")
    assert emulator.count(model="fault-429-ra1") == 2  # cooling down for its Retry-After


def test_short_retry_after_on_a_later_candidate_fails_over(gw, emulator):
    response, _ = complete(gw, "ra-short-second")
    assert response.json()["model"] == "gemini/ok-ra2"
    assert emulator.count(model="fault-429-ra1-second") == 1


def test_429_without_retry_after_fails_over_at_once(gw, emulator):
    response, seconds = complete(gw, "no-ra")
    assert response.json()["model"] == "mybox/ok-nora"
    assert emulator.count(model="fault-429-nora") == 1
    assert seconds < 1


def test_persistent_503_is_bounded(gw, emulator):
    response, _ = complete(gw, "503")
    assert response.json()["model"] == "mybox/ok-503"
    assert emulator.count(model="fault-503-p") <= 3


# 9. Content policy -----------------------------------------------------------------------------
def test_gemini_prompt_block_is_a_400_with_the_reason(gw, emulator):
    response, _ = complete(gw, "policy-gemini")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_policy_violation"
    assert emulator.count(model="ok-policy") == 0  # not routed around by default


# 8. 500 once / reset before headers --------------------------------------------------------------
@pytest.mark.parametrize(
    ("chain", "model"), [("500-once", "fault-500-once"), ("reset-once", "fault-reset-once")]
)
def test_one_quick_retry_of_the_same_route(gw, emulator, chain, model):
    response, seconds = complete(gw, chain)
    assert response.json()["model"] == "groq/" + model
    # A 500 gets the chain's quick retry; a reset gets LiteLLM's fresh-connection retry.
    assert 2 <= emulator.count(model=model) <= 3
    assert seconds < 1.5


# 10. Circuit breaker ---------------------------------------------------------------------------
def test_circuit_skips_a_failing_route_and_returns_after_cooldown(gw, emulator):
    def served() -> str:
        return complete(gw, "breaker")[0].json()["model"]

    assert served() == "mybox/ok-breaker"  # 2 failures: tried and retried once
    assert emulator.count(model="fault-500-times4") == 2
    assert served() == "mybox/ok-breaker"  # cooling down: not called
    assert emulator.count(model="fault-500-times4") == 2
    time.sleep(3.2)
    assert served() == "mybox/ok-breaker"  # probed by a real request: fails twice more
    assert emulator.count(model="fault-500-times4") == 4
    time.sleep(3.2)
    assert served() == "groq/fault-500-times4"  # recovered: traffic is back


# 12. Healthy after all of it -------------------------------------------------------------------
def test_process_healthy_afterwards(gw):
    response, seconds = complete(gw, "500-once")
    assert response.status_code == 200
    assert seconds < 1


# Responses API (`/v1/responses`): the same limits, the same continuation ------------------
def responses_stream(gw: GatewayProcess, model: str) -> tuple[list[tuple[str, dict]], float, dict]:
    """(events as (event line, data), seconds, headers) of a streamed `/v1/responses` call."""
    body = {"model": model, "input": "echo: " + FULL, "stream": True}
    started = time.monotonic()
    with httpx.stream("POST", gw.url + "/v1/responses", json=body, timeout=60) as r:
        assert r.status_code == 200, r.read()
        lines = list(r.iter_lines())
        headers = dict(r.headers)
    names = [line[7:] for line in lines if line.startswith("event: ")]
    data = [json.loads(line[6:]) for line in lines if line.startswith("data: ")]
    assert names == [d["type"] for d in data]
    return list(zip(names, data, strict=True)), time.monotonic() - started, headers


def responses_text(events: list[tuple[str, dict]]) -> str:
    return "".join(d["delta"] for name, d in events if name == "response.output_text.delta")


@pytest.mark.parametrize(
    ("chain", "served_by"), [("silent", "gemini/ok-silent"), ("slowfirst", "mybox/ok-slowfirst")]
)
def test_responses_stream_fails_over_on_silence_and_slow_first_token(gw, chain, served_by):
    events, seconds, headers = responses_stream(gw, chain)
    assert headers["x-gateway-served-by"] == served_by
    assert seconds < 5
    assert events[-1][0] == "response.completed"
    assert responses_text(events) == FULL


@pytest.mark.parametrize(
    ("chain", "finished_by"),
    [
        ("cut-responses", "gemini/ok-cut-responses"),
        ("stall-responses", "mybox/ok-stall-responses"),
    ],
)
def test_responses_stream_broken_mid_answer_is_continued_seamlessly(gw, chain, finished_by):
    events, _, headers = responses_stream(gw, chain)
    assert headers["x-gateway-served-by"].startswith("groq/fault-")
    names = [name for name, _ in events]
    assert names[:2] == ["response.created", "response.in_progress"]
    assert names.count("response.output_item.added") == 1  # one message, not two
    assert responses_text(events) == FULL
    completed = events[-1][1]["response"]
    assert events[-1][0] == "response.completed" and "response.failed" not in names
    assert completed["model"] == finished_by
    assert completed["output"][0]["content"][0]["text"] == FULL
    # The continuation's prompt included the prefill; usage counts it as this answer's output.
    assert completed["usage"]["output_tokens"] >= len(FULL) // 4


def test_responses_stream_nobody_can_continue_ends_failed_not_completed(gw):
    events, _, _ = responses_stream(gw, "cut-nobody-responses")
    names = [name for name, _ in events]
    assert "response.completed" not in names
    assert names[-2:] == ["error", "response.failed"]
    error = events[-2][1]
    assert error["code"] == error["error"]["code"] == "stream_interrupted"
    assert "groq/fault-cut3-nr failed mid-answer" in error["message"]
    assert events[-1][1]["response"]["status"] == "failed"
    assert FULL.startswith(responses_text(events)) and responses_text(events) != FULL


def test_responses_non_stream_cut_restarts_on_next_candidate(gw):
    body = {"model": "cut-ns-responses", "input": "echo: " + FULL}
    response = httpx.post(gw.url + "/v1/responses", json=body, timeout=60)
    assert response.status_code == 200, response.text
    assert response.headers["x-gateway-served-by"] == "mybox/ok-cut-ns-responses"
    data = response.json()
    assert data["status"] == "completed" and data["output_text"] == FULL


# Anthropic Messages: the same failover behind /v1/messages ------------------------------------
def messages_stream(gw: GatewayProcess, model: str) -> tuple[list[dict], float]:
    body = {"model": model, "max_tokens": 200, "messages": PROMPT, "stream": True}
    started = time.monotonic()
    with httpx.stream("POST", gw.url + "/v1/messages", json=body, timeout=60) as r:
        assert r.status_code == 200, r.read()
        events = [json.loads(line[6:]) for line in r.iter_lines() if line.startswith("data: ")]
    return events, time.monotonic() - started


def messages_text(events: list[dict]) -> str:
    return "".join(
        e["delta"].get("text", "")
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "text_delta"
    )


def test_messages_silent_provider_fails_over(gw):
    events, seconds = messages_stream(gw, "silent-messages")
    assert messages_text(events) == FULL
    assert events[-1]["type"] == "message_stop"
    assert events[0]["message"]["model"] == "gemini/ok-silent-m"
    assert seconds < 5
    started = time.monotonic()
    response = httpx.post(
        gw.url + "/v1/messages",
        json={"model": "silent-ns-messages", "max_tokens": 200, "messages": PROMPT},
        timeout=60,
    )
    assert response.json()["content"][0]["text"] == FULL
    assert response.json()["model"] == "mybox/ok-silent-nm"
    assert time.monotonic() - started < 5


@pytest.mark.parametrize("chain", ["cut-messages", "stall-messages"])
def test_messages_stream_cut_or_stalled_is_continued(gw, chain):
    events, seconds = messages_stream(gw, chain)
    assert messages_text(events) == FULL
    assert [e["type"] for e in events].count("message_start") == 1
    assert [e["type"] for e in events].count("content_block_start") == 1  # one seamless block
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-1]["type"] == "message_stop"
    assert seconds < 6


def test_messages_nobody_can_continue_ends_with_an_error_event(gw):
    events, _ = messages_stream(gw, "cut-nobody-messages")
    assert "message_stop" not in [e["type"] for e in events]
    assert "message_delta" not in [e["type"] for e in events]
    assert events[-1]["type"] == "error"
    assert events[-1]["error"]["type"] == "api_error"
    assert "groq/fault-cut3-nm failed mid-answer" in events[-1]["error"]["message"]
    assert messages_text(events) == "one two three "
