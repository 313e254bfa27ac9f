"""OpenAI's chat wire (Groq, GitHub Models, Cloudflare's OpenAI endpoint, any
OpenAI-compatible server): the request is the caller's, minus what the provider refuses, and
each answer event is already an OpenAI chunk, read once and relayed.

The few differences between these providers that matter to a client are evened out here:
reasoning arrives as `reasoning` from some (Groq, vLLM) and as `reasoning_content` from
others; Groq reports stream usage under `x_groq`; an `error` object inside a stream is a
failure, not a chunk.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from gateway.catalog import Deployment
from gateway.engine.http import UpstreamRequest, proxy_for
from gateway.engine.wire import Chunk, ChunkDecoder, WireRequest
from gateway.litellm_glue.http_errors import http_failure
from gateway.litellm_glue.params import openai_wire_params, provider_messages
from gateway.redact import redact
from gateway.routing.failures import FailureKind, UpstreamFailure


class OpenAIWire:
    def __init__(self, deployment: Deployment, api_key: str | None) -> None:
        self.provider = deployment.provider_type.litellm_prefix
        self.model = deployment.model_id
        base = (deployment.api_base or "").rstrip("/")
        self._url = f"{base}/chat/completions"
        self._proxy = proxy_for(self._url)
        self._headers = {"content-type": "application/json", "accept": "application/json"}
        if api_key:
            self._headers["authorization"] = f"Bearer {api_key}"
        # Groq refuses `"function_call": null` in assistant messages (LiteLLM's Groq config
        # strips nulls for that reason); other servers take them as OpenAI does.
        self._strip_nulls = self.provider == "groq"

    def chat_request(self, params: dict[str, Any], stream: bool) -> WireRequest:
        rest = {key: value for key, value in params.items() if key != "messages"}
        rest["stream"] = stream
        if not stream:
            rest.pop("stream_options", None)
        sent = openai_wire_params(self.provider, self.model, rest)
        streamed = stream and not sent.pop("fake_stream", False)
        if not streamed:
            sent.pop("stream_options", None)
            sent["stream"] = False
        messages = provider_messages(self.provider, self.model, params["messages"])
        if self._strip_nulls:
            messages = _without_nulls(messages)
        body = {"model": self.model, "messages": messages, **sent}
        request = UpstreamRequest(self._url, self._headers, orjson.dumps(body), self._proxy)
        return WireRequest(request, streamed)

    def stream_decoder(self, params: dict[str, Any]) -> ChunkDecoder:
        return decode_chunk

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        if "error" in body and not body.get("choices"):
            raise _in_band_failure(body["error"])
        for choice in body.get("choices") or ():
            _reasoning_as_content(choice.get("message") or {})
        return body

    def failure(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamFailure:
        return http_failure(self.provider, self.model, status, headers, body)


def decode_chunk(event: dict[str, Any]) -> Chunk | None:
    if "error" in event and not event.get("choices"):
        raise _in_band_failure(event["error"])
    groq = event.get("x_groq")
    if "usage" not in event and isinstance(groq, dict) and groq.get("usage"):
        event["usage"] = groq["usage"]
    for choice in event.get("choices") or ():
        _reasoning_as_content(choice.get("delta") or {})
    return event


def _reasoning_as_content(message: dict[str, Any]) -> None:
    reasoning = message.pop("reasoning", None)
    if isinstance(reasoning, str) and reasoning and not message.get("reasoning_content"):
        message["reasoning_content"] = reasoning


def _in_band_failure(error: object) -> UpstreamFailure:
    """An `error` object sent in place of an answer (inside a stream, or with HTTP 200)."""
    message = redact(str(error.get("message") if isinstance(error, dict) else error))[:500]
    code = error.get("code") if isinstance(error, dict) else None
    status = (
        int(code) if isinstance(code, int) or (isinstance(code, str) and code.isdigit()) else None
    )
    if status == 429:
        return UpstreamFailure(FailureKind.RATE_LIMITED, message, status=429)
    return UpstreamFailure(
        FailureKind.SERVER_ERROR, f"error in the answer: {message}", status=status
    )


def _without_nulls(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Assistant messages without null fields."""
    if not any(m.get("role") == "assistant" and None in m.values() for m in messages):
        return messages
    return [
        {k: v for k, v in m.items() if v is not None} if m.get("role") == "assistant" else m
        for m in messages
    ]
