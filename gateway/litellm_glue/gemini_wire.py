"""Gemini's generateContent wire, translated by LiteLLM's Gemini classes called directly.

LiteLLM maps the OpenAI parameters (tool schemas cleaned to what Gemini accepts, reasoning
effort to a thinking config), builds the request body, and parses each stream event and
whole answer into OpenAI shapes. The gateway sends and reads the HTTP itself, so none of
LiteLLM's Router, stream wrapper, logging or callbacks run; the parsers get a stand-in for
the logging object, of which they read only the call's parameters.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import httpx
import orjson
from litellm.llms.vertex_ai.gemini.transformation import (
    _with_default_output_budget,
    transform_request_body,
)
from litellm.llms.vertex_ai.gemini.vertex_and_google_ai_studio_gemini import (
    ModelResponseIterator,
    VertexGeminiConfig,
)
from litellm.types.utils import ModelResponse

from gateway.catalog import Deployment
from gateway.engine.http import UpstreamRequest, proxy_for
from gateway.engine.wire import Chunk, ChunkDecoder, WireRequest
from gateway.litellm_glue.errors import classify
from gateway.litellm_glue.http_errors import http_failure
from gateway.litellm_glue.params import mapped_params, provider_messages

PROVIDER = "gemini"
# An OpenAI chunk's fields (LiteLLM adds Vertex metadata lists no client reads).
_CHUNK_FIELDS = ("id", "object", "created", "model", "choices", "usage")
DEFAULT_API_BASE = "https://generativelanguage.googleapis.com/v1beta"
_CONFIG = VertexGeminiConfig()


def _finishes(event: dict[str, Any]) -> bool:
    """A Gemini event that ends the answer: a candidate's finishReason, or a blocked prompt."""
    if (event.get("promptFeedback") or {}).get("blockReason"):
        return True
    return any(c.get("finishReason") for c in event.get("candidates") or ())


class _CallDetails:
    """What LiteLLM's Gemini parsers read from their logging object: the call's parameters."""

    def __init__(self, optional_params: dict[str, Any]) -> None:
        self.optional_params = optional_params
        self.litellm_params: dict[str, Any] = {}
        self.model_call_details: dict[str, Any] = {}

    def post_call(self, *args: Any, **kwargs: Any) -> None:
        return None


class GeminiWire:
    provider = PROVIDER

    def __init__(self, deployment: Deployment, api_key: str | None) -> None:
        self.model = deployment.model_id
        base = (deployment.api_base or DEFAULT_API_BASE).rstrip("/")
        self._url = f"{base}/models/{self.model}"
        self._proxy = proxy_for(self._url)
        self._headers = {"content-type": "application/json"}
        if api_key:
            self._headers["x-goog-api-key"] = api_key

    def _optional(self, params: dict[str, Any]) -> dict[str, Any]:
        openai_params = {
            key: value
            for key, value in params.items()
            if key not in ("messages", "stream", "stream_options")
        }
        return mapped_params(PROVIDER, self.model, openai_params) if openai_params else {}

    def chat_request(self, params: dict[str, Any], stream: bool) -> WireRequest:
        optional = self._optional(params)
        optional.pop("stream", None)
        body = _with_default_output_budget(
            transform_request_body(
                messages=copy.deepcopy(provider_messages(PROVIDER, self.model, params["messages"])),
                model=self.model,
                optional_params=optional,
                custom_llm_provider=PROVIDER,
                litellm_params={},
                cached_content=None,
            ),
            self.model,
            PROVIDER,
            None,
        )
        url = (
            f"{self._url}:streamGenerateContent?alt=sse"
            if stream
            else f"{self._url}:generateContent"
        )
        request = UpstreamRequest(url, self._headers, orjson.dumps(body), self._proxy)
        return WireRequest(request, streamed=stream)

    def stream_decoder(self, params: dict[str, Any]) -> ChunkDecoder:
        parser = ModelResponseIterator(
            streaming_response=None,
            sync_stream=False,
            logging_obj=_CallDetails(self._optional(params)),  # type: ignore[arg-type]
        )

        def decode(event: dict[str, Any]) -> Chunk | None:
            try:
                parsed = parser.chunk_parser(event)
            except Exception as exc:  # an error event, or one LiteLLM cannot read
                raise classify(exc) from exc
            if parsed is None:
                return None
            chunk = parsed.model_dump(exclude_none=True)
            chunk = {key: chunk[key] for key in _CHUNK_FIELDS if key in chunk}
            if not _finishes(event):
                # LiteLLM's parser reports "stop" on every chunk; its stream wrapper keeps
                # only the last. The gateway reads chunks as they come.
                for choice in chunk.get("choices") or ():
                    choice.pop("finish_reason", None)
            return chunk

        return decode

    def completion(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            response = _CONFIG.transform_google_generate_content_to_openai_model_response(
                completion_response=body,
                model_response=ModelResponse(),
                model=self.model,
                logging_obj=_CallDetails({}),  # type: ignore[arg-type]
                raw_response=httpx.Response(200),
            )
        except Exception as exc:
            raise classify(exc) from exc
        return response.model_dump()

    def failure(self, status: int, headers: Mapping[str, str], body: bytes) -> Any:
        return http_failure(PROVIDER, self.model, status, headers, body)
