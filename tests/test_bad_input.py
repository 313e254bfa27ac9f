"""Bad input gets a clear OpenAI-style 4xx and never hurts the process."""

from __future__ import annotations

import httpx
import pytest

CASES = [
    (b"{not json", 400, "invalid_json"),
    (b"[1, 2]", 400, "invalid_json"),
    (b"", 400, "invalid_json"),
    (b'{"messages": [{"role": "user", "content": "hi"}]}', 400, "missing_model"),
    (
        b'{"model": "no-such-model", "messages": [{"role": "user", "content": "x"}]}',
        404,
        "model_not_found",
    ),
    (b'{"model": "coding-elite"}', 400, "missing_messages"),
    (b'{"model": "coding-elite", "messages": []}', 400, "invalid_messages"),
    (b'{"model": "coding-elite", "messages": ["hi"]}', 400, "invalid_messages"),
]


@pytest.mark.parametrize(("body", "status", "code"), CASES)
def test_bad_chat_request(gateway, body, status, code):
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        content=body,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    assert response.status_code == status
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]


def test_bad_responses_request(gateway):
    response = httpx.post(gateway.url + "/v1/responses", json={"model": "coding-elite"}, timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "missing_input"


def test_request_cannot_redirect_upstream_credentials(gateway, emulator):
    """`api_base` / `api_key` in a body must not reach LiteLLM (that would leak our keys)."""
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={
            "model": "groq/llama-3.3-70b-versatile",
            "messages": [{"role": "user", "content": "echo: safe"}],
            "api_base": "http://127.0.0.1:9/evil",
            "api_key": "attacker",
        },
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "safe"
    served = [r for r in emulator.requests if r.model == "llama-3.3-70b-versatile"]
    assert served and all(r.headers.get("authorization") != "Bearer attacker" for r in served)


def test_still_serving_after_bad_input(gateway):
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "coding-elite", "messages": [{"role": "user", "content": "hi"}]},
        timeout=10,
    )
    assert response.status_code == 200
