"""Map LiteLLM's exceptions onto the gateway's `UpstreamFailure`, with secrets masked."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

import litellm
from litellm.exceptions import MidStreamFallbackError

from gateway.redact import redact
from gateway.routing.failures import FailureKind, UpstreamFailure

# Checked before the HTTP status: these subclass BadRequestError (400) but mean something else.
_BY_CLASS_FIRST: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (litellm.ContextWindowExceededError, FailureKind.CONTEXT_WINDOW),
    (litellm.ContentPolicyViolationError, FailureKind.CONTENT_POLICY),
    (litellm.Timeout, FailureKind.TIMEOUT),
)
# The upstream's status decides next: LiteLLM's class for it varies by provider (Groq's 401
# arrives as a BadRequestError carrying status 401).
_BY_STATUS = {
    401: FailureKind.AUTH,
    403: FailureKind.AUTH,
    404: FailureKind.NOT_FOUND,
    408: FailureKind.TIMEOUT,
    # GitHub Models answers a too-long prompt with 413 tokens_limit_reached, which LiteLLM
    # passes on as a plain APIError.
    413: FailureKind.CONTEXT_WINDOW,
    429: FailureKind.RATE_LIMITED,
}
_BY_CLASS: tuple[tuple[type[BaseException], FailureKind], ...] = (
    (litellm.RateLimitError, FailureKind.RATE_LIMITED),
    (litellm.AuthenticationError, FailureKind.AUTH),
    (litellm.PermissionDeniedError, FailureKind.AUTH),
    (litellm.NotFoundError, FailureKind.NOT_FOUND),
    (litellm.APIConnectionError, FailureKind.CONNECTION),
    (litellm.BadRequestError, FailureKind.BAD_REQUEST),
    (litellm.UnprocessableEntityError, FailureKind.BAD_REQUEST),
)
# LiteLLM reports a refused or dropped connection as a 500 InternalServerError.
_CONNECTION_HINTS = (
    "cannot connect to host",
    "connection refused",
    "connection reset",
    "server disconnected",
    "connecterror",
    "remoteprotocolerror",
)
# LiteLLM's decorations around the provider's own message.
_LITELLM_PREFIX = re.compile(r"^(?:(?:litellm\.)?\w*Error:\s*)+")
_LITELLM_SUFFIX = re.compile(r"\s*LiteLLM: model group .*$|\s*Received Model Group=.*$")

# Gemini puts its retry hint in the body (google.rpc.RetryInfo), not in a Retry-After header.
_RETRY_DELAY = re.compile(r"retryDelay['\"]?\s*:\s*['\"](\d+(?:\.\d+)?)s")


def classify(exc: BaseException) -> UpstreamFailure:
    if isinstance(exc, UpstreamFailure):
        return exc
    inner = getattr(exc, "original_exception", None)
    if isinstance(exc, MidStreamFallbackError) and isinstance(inner, BaseException):
        return classify(inner)
    status = _status(exc)
    kind = _kind(exc, status)
    message = redact(_message(exc))
    retry_after = retry_after_seconds(exc) if kind is FailureKind.RATE_LIMITED else None
    return UpstreamFailure(kind=kind, message=message, status=status, retry_after=retry_after)


def _kind(exc: BaseException, status: int | None) -> FailureKind:
    for cls, kind in _BY_CLASS_FIRST:
        if isinstance(exc, cls):
            return kind
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    text = str(exc).lower()
    if any(hint in text for hint in _CONNECTION_HINTS):
        return FailureKind.CONNECTION
    if status is not None and status >= 500:
        return FailureKind.SERVER_ERROR
    for cls, kind in _BY_CLASS:
        if isinstance(exc, cls):
            return kind
    if status is not None and 400 <= status < 500:
        return FailureKind.BAD_REQUEST
    if isinstance(exc, TimeoutError):
        return FailureKind.TIMEOUT
    if isinstance(exc, OSError | ConnectionError):
        return FailureKind.CONNECTION
    return FailureKind.SERVER_ERROR


def _status(exc: BaseException) -> int | None:
    status = getattr(exc, "status_code", None)
    try:
        return int(status) if status is not None else None
    except (TypeError, ValueError):
        return None


def _message(exc: BaseException) -> str:
    message = " ".join(str(getattr(exc, "message", None) or exc or type(exc).__name__).split())
    message = _LITELLM_SUFFIX.sub("", _LITELLM_PREFIX.sub("", message))
    return message[:500] or type(exc).__name__


def retry_after_seconds(exc: BaseException) -> float | None:
    """Retry-After from the upstream's headers, or Gemini's RetryInfo in the body."""
    headers = _headers(exc)
    if headers:
        value = parse_retry_after(headers)
        if value is not None:
            return value
    return retry_delay_in(str(getattr(exc, "message", "") or exc))


def retry_delay_in(text: str) -> float | None:
    """Gemini's retry hint: google.rpc.RetryInfo's `retryDelay` in an error body."""
    match = _RETRY_DELAY.search(text)
    return float(match.group(1)) if match else None


def _headers(exc: BaseException) -> Mapping[str, str] | None:
    headers = getattr(exc, "litellm_response_headers", None)
    if headers is None:
        response = getattr(exc, "response", None)
        headers = getattr(response, "headers", None)
    if headers is None:
        return None
    return {str(k).lower(): str(v) for k, v in dict(headers).items()}


def parse_retry_after(headers: Mapping[str, str]) -> float | None:
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None
