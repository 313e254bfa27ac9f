"""An upstream's HTTP error, classified with LiteLLM's knowledge of each provider's errors.

The engine reads the status, headers and body itself; LiteLLM's exception mapping then tells
a context-length or content-policy 400 from a plain bad request, in each provider's wording,
and the gateway's `classify` turns that into an `UpstreamFailure`. Retry hints come from the
response itself (LiteLLM's exceptions lose Cloudflare's headers and Gemini's RetryInfo).
"""

from __future__ import annotations

from collections.abc import Mapping

from litellm.litellm_core_utils.exception_mapping_utils import exception_type
from litellm.llms.base_llm.chat.transformation import BaseLLMException

from gateway.litellm_glue.errors import classify, parse_retry_after, retry_delay_in
from gateway.litellm_glue.params import provider_config
from gateway.routing.failures import FailureKind, UpstreamFailure

MAX_BODY_CHARS = 4000


def http_failure(
    provider: str, model: str, status: int, headers: Mapping[str, str], body: bytes
) -> UpstreamFailure:
    """`provider` is LiteLLM's name for the wire (groq, gemini, openai, ...)."""
    text = body.decode("utf-8", errors="replace")[:MAX_BODY_CHARS] or f"HTTP {status}"
    config = provider_config(provider, model)
    try:
        original = config.get_error_class(text, status, dict(headers)) if config else None
    except Exception:
        original = None
    if original is None:
        original = BaseLLMException(status_code=status, message=text, headers=dict(headers))
    try:
        mapped: BaseException = exception_type(
            model=model, original_exception=original, custom_llm_provider=provider
        )
    except Exception as raised:  # exception_type raises the mapped exception
        mapped = raised
    failure = classify(mapped)
    if failure.status is None:
        failure.status = status
    if failure.kind is FailureKind.RATE_LIMITED and failure.retry_after is None:
        failure.retry_after = parse_retry_after(headers) or retry_delay_in(text)
    return failure
