"""Chain fallback through the running gateway: each failure class moves to the next candidate."""

from __future__ import annotations

import time

import httpx
import openai
import pytest


def _chat(client, model, content="hi", **kwargs):
    return client.chat.completions.with_raw_response.create(
        model=model, messages=[{"role": "user", "content": content}], **kwargs
    )


@pytest.mark.parametrize(
    ("model", "served_by"),
    [
        ("chain-429", "gemini/gemini-3-pro"),
        ("chain-429-plain", "github/openai/gpt-4.1"),
        ("chain-500", "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast"),
        ("chain-reset", "mybox/some-model"),
        ("chain-gemini-fails", "groq/llama-3.3-70b-versatile"),
        ("chain-auth", "g4f/gpt-4"),
    ],
)
def test_failure_falls_back_to_next_candidate(client, model, served_by):
    raw = _chat(client, model)
    completion = raw.parse()
    assert completion.model == served_by
    assert raw.headers["x-gateway-served-by"] == served_by
    assert int(raw.headers["x-gateway-candidate"]) > 1


def test_auth_error_rests_the_whole_account(client, emulator):
    _chat(client, "chain-auth")
    before = emulator.count(model="other")
    raw = _chat(client, "badkey-other")
    assert raw.parse().model == "g4f/gpt-4"
    assert emulator.count(model="other") == before  # skipped without a call


def test_stream_falls_back_before_first_token(client):
    stream = client.chat.completions.create(
        model="chain-503-stream",
        messages=[{"role": "user", "content": "echo: after a 503"}],
        stream=True,
    )
    chunks = list(stream)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "after a 503"
    assert {c.model for c in chunks} == {"mybox/some-model"}


def test_reset_route_is_not_hammered(client, emulator):
    before = emulator.count(model="fault-reset")
    _chat(client, "chain-reset")
    # LiteLLM's HTTP handler retries a reset once on a fresh connection; the chain adds none.
    assert emulator.count(model="fault-reset") - before <= 2


def test_timeout_falls_back_quickly(client):
    started = time.monotonic()
    raw = _chat(client, "chain-timeout")
    elapsed = time.monotonic() - started
    assert raw.parse().model == "github/openai/gpt-4.1"
    assert elapsed < 10, f"timeout fallback took {elapsed:.1f}s"


def test_one_quick_retry_then_fail_over(client, emulator):
    started = time.monotonic()
    assert _chat(client, "chain-500-retry").parse().model == "mybox/some-model"
    # One quick retry of the 500ing route, not LiteLLM's default 2 retries with backoff.
    assert emulator.count(model="fault-500-retry") == 2
    assert time.monotonic() - started < 2


def test_rate_limited_route_cools_down_for_retry_after(client, emulator):
    before = emulator.count(model="fault-429-ra7")
    _chat(client, "chain-429")  # may be cooling already from another test: fine
    _chat(client, "chain-429")
    raw = _chat(client, "chain-429")
    assert raw.parse().model == "gemini/gemini-3-pro"
    assert emulator.count(model="fault-429-ra7") - before <= 1


def test_exhausted_chain_answers_429_with_retry_after(gateway):
    body = {"model": "exhausted", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 429
    retry_after = int(response.headers["retry-after"])
    # groq's Retry-After is 20 s, gemini's 429 has no hint (30 s default): the soonest wins.
    assert 15 <= retry_after <= 20
    error = response.json()["error"]
    assert error["code"] == "all_candidates_exhausted"
    assert error["type"] == "rate_limit_error"
    outcomes = {c["model"]: c for c in error["candidates"]}
    assert outcomes["groq/fault-429-ra20"]["outcome"] == "rate_limited"
    assert outcomes["gemini/fault-429"]["outcome"] == "rate_limited"
    assert outcomes["nokey/m1"]["outcome"] == "unusable"
    assert "NOT_SET_ANYWHERE is not set" in outcomes["nokey/m1"]["reason"]

    again = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert again.status_code == 429
    cooling = {c["model"]: c["outcome"] for c in again.json()["error"]["candidates"]}
    assert cooling["groq/fault-429-ra20"] == "cooling_down"


def test_gemini_retry_info_in_the_body_sets_the_cooldown(gateway):
    """Gemini sends its retry delay as google.rpc.RetryInfo in the body, not as a header."""
    body = {"model": "gemini-retryinfo", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 429
    assert response.headers["retry-after"] == "5"


def test_exhausted_stream_request_gets_429_not_a_broken_stream(client):
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(
            model="exhausted", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    assert caught.value.response.headers["retry-after"]


def test_context_window_error_moves_to_a_larger_window(client):
    raw = _chat(client, "context")
    assert raw.parse().model == "gemini/gemini-3-pro"
    # gemini-small (4096) is not larger than the 8192 the request already overflowed.
    assert raw.headers["x-gateway-attempt"] == "2"
    assert raw.headers["x-gateway-candidate"] == "3"


def test_content_policy_rejection_is_returned_not_routed_around(gateway):
    body = {"model": "policy", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "content_policy_violation"


def test_plain_bad_request_is_returned_to_the_client(gateway):
    body = {"model": "bad-request", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 400
    assert "groq/fault-400" in response.json()["error"]["message"]


def test_chain_of_unusable_candidates_explains_each(gateway):
    body = {"model": "unusable", "messages": [{"role": "user", "content": "hi"}]}
    response = httpx.post(gateway.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 503
    reasons = {c["model"]: c["reason"] for c in response.json()["error"]["candidates"]}
    assert reasons == {
        "nokey/m1": "NOT_SET_ANYWHERE is not set",
        "off/m2": "disabled in providers.yaml",
        "ghost/model": "unknown provider 'ghost'",
    }


def test_gateway_healthy_after_faults(client):
    assert _chat(client, "coding-elite").parse().model == "groq/llama-3.3-70b-versatile"


def test_non_stream_truncated_upstream_fails_over(client):
    """A non-stream request whose upstream stream is cut: the next candidate answers it,
    never a truncated 200."""
    raw = _chat(client, "cut", content="echo: one two three four five six")
    assert raw.parse().model == "gemini/gemini-3-pro"
    assert raw.parse().choices[0].message.content == "one two three four five six"
