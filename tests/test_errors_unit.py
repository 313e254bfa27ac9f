"""LiteLLM exceptions -> the gateway's failure kinds, Retry-After included."""

from __future__ import annotations

import httpx
import litellm
import pytest

from gateway.litellm_glue.errors import classify
from gateway.redact import hide_password
from gateway.routing.failures import FailureKind


def _response(status: int, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(status, headers=headers, request=httpx.Request("POST", "http://x"))


COMMON = {"model": "m", "llm_provider": "groq"}


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (
            litellm.RateLimitError("slow", response=_response(429), **COMMON),
            FailureKind.RATE_LIMITED,
        ),
        (litellm.InternalServerError("boom", **COMMON), FailureKind.SERVER_ERROR),
        (litellm.ServiceUnavailableError("down", **COMMON), FailureKind.SERVER_ERROR),
        (litellm.Timeout("slow", **COMMON), FailureKind.TIMEOUT),
        (litellm.AuthenticationError("bad key", **COMMON), FailureKind.AUTH),
        (litellm.PermissionDeniedError("no", response=_response(403), **COMMON), FailureKind.AUTH),
        (litellm.NotFoundError("no model", **COMMON), FailureKind.NOT_FOUND),
        (litellm.ContextWindowExceededError("too long", **COMMON), FailureKind.CONTEXT_WINDOW),
        (litellm.ContentPolicyViolationError("unsafe", **COMMON), FailureKind.CONTENT_POLICY),
        (litellm.BadRequestError("bad", **COMMON), FailureKind.BAD_REQUEST),
        (litellm.APIConnectionError("Connection refused", **COMMON), FailureKind.CONNECTION),
        (
            litellm.InternalServerError("Cannot connect to host 127.0.0.1:9", **COMMON),
            FailureKind.CONNECTION,
        ),
    ],
)
def test_classify(exc, kind):
    assert classify(exc).kind is kind


def test_bad_request_carrying_401_is_an_auth_failure():
    """LiteLLM raises Groq's 401 as a BadRequestError with status 401."""
    exc = litellm.BadRequestError("Invalid API Key", **COMMON)
    exc.status_code = 401
    assert classify(exc).kind is FailureKind.AUTH


@pytest.mark.parametrize(
    ("headers", "expected"),
    [({"retry-after": "7"}, 7.0), ({"retry-after-ms": "1500"}, 1.5), ({}, None)],
)
def test_retry_after_from_headers(headers, expected):
    exc = litellm.RateLimitError("slow", response=_response(429, headers), **COMMON)
    exc.litellm_response_headers = httpx.Headers(headers)
    assert classify(exc).retry_after == expected


def test_retry_after_from_gemini_retry_info():
    body = '{"error":{"code":429,"details":[{"@type":"...RetryInfo","retryDelay":"37s"}]}}'
    exc = litellm.RateLimitError(body, response=_response(429), **COMMON)
    assert classify(exc).retry_after == 37.0


def test_messages_lose_litellm_decoration_and_secrets(monkeypatch):
    monkeypatch.setenv("GROQ_API_KEY", "gsk_0123456789abcdef")
    exc = litellm.InternalServerError("GroqException - key gsk_0123456789abcdef failed", **COMMON)
    message = classify(exc).message
    assert message.startswith("GroqException - key")
    assert "0123456789abcdef" not in message
    assert "LiteLLM: model group" not in message


def test_github_413_tokens_limit_is_a_context_window_error():
    exc = litellm.APIError(413, "tokens_limit_reached", **COMMON)
    assert classify(exc).kind is FailureKind.CONTEXT_WINDOW


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql+psycopg://x:pw@127.0.0.1:1/db", "postgresql+psycopg://x:***@127.0.0.1:1/db"),
        ("redis://:secret@[::1]:6379/0", "redis://:***@[::1]:6379/0"),
        ("rediss://user:p%40ss@cache:6380/1?ssl=1", "rediss://user:***@cache:6380/1?ssl=1"),
        ("sqlite:////data/telemetry.db", "sqlite:////data/telemetry.db"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
    ],
)
def test_connection_urls_lose_their_password(url, shown):
    assert hide_password(url) == shown
