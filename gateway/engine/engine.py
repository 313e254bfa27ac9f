"""The gateway's engine: it sends each upstream call itself and reads the answer itself.

Every chat deployment has a source: a wire over the shared HTTP client (OpenAI's wire for
Groq, GitHub, Cloudflare and OpenAI-compatible servers; Gemini's through LiteLLM's Gemini
classes), g4f's own client, or, for a provider set to `engine: litellm` (and for
embeddings), LiteLLM's Router. Everything comes back as OpenAI chat dicts, failures as
`UpstreamFailure`; the chain above decides what happens next.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

import orjson

from gateway.catalog import Catalog, Deployment
from gateway.engine.g4f_source import G4FSource
from gateway.engine.http import UpstreamHTTP, UpstreamResponse
from gateway.engine.openai_wire import OpenAIWire
from gateway.engine.sse import json_events
from gateway.engine.wire import Chunk, ChunkDecoder, Wire, WireRequest
from gateway.redact import redact
from gateway.routing.failures import FailureKind, UpstreamFailure

log = logging.getLogger("gateway.engine")

# Provider types whose wire is OpenAI's.
OPENAI_WIRE_TYPES = frozenset({"groq", "github", "cloudflare", "openai_compatible"})


class Engine:
    def __init__(
        self,
        catalog: Catalog,
        router_engine: Callable[[], Any],
        *,
        count_tokens: Callable[..., int] | None = None,
        http: UpstreamHTTP | None = None,
        request_timeout: float = 60.0,
    ) -> None:
        """`router_engine` builds LiteLLM's Router engine on first use (for `engine:
        litellm` providers and embeddings); `count_tokens(model, messages, tools)` estimates
        usage an upstream did not report."""
        self.http = http or UpstreamHTTP()
        self.request_timeout = request_timeout
        self._router_engine_factory = router_engine
        self._router_engine: Any = None
        self._count_tokens = count_tokens
        self._wires: dict[str, Wire] = {}
        self._g4f: dict[str, G4FSource] = {}
        for deployment in catalog.usable_deployments:
            if deployment.mode != "chat" or deployment.engine != "native":
                continue
            if deployment.provider_type.name == "g4f":
                self._g4f[deployment.id] = G4FSource(deployment)
            elif (wire := _wire_for(deployment)) is not None:
                self._wires[deployment.id] = wire

    def router(self) -> Any:
        if self._router_engine is None:
            self._router_engine = self._router_engine_factory()
        return self._router_engine

    def serves_natively(self, deployment: Deployment) -> bool:
        return deployment.id in self._wires or deployment.id in self._g4f

    # -- chat ------------------------------------------------------------------------------

    async def chat(self, deployment: Deployment, params: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming chat completion as an OpenAI `chat.completion` dict, within the
        deployment's timeout (`request_timeout` unless the provider sets its own)."""
        if (source := self._g4f.get(deployment.id)) is None and deployment.id not in self._wires:
            return await self.router().chat(deployment, params)
        seconds = deployment.timeout or self.request_timeout
        try:
            async with asyncio.timeout(seconds):
                if source is not None:
                    return await source.chat(params)
                return await self._wire_chat(self._wires[deployment.id], params)
        except TimeoutError:
            raise UpstreamFailure(
                FailureKind.TIMEOUT, f"no complete answer within {seconds:g}s"
            ) from None

    async def _wire_chat(self, wire: Wire, params: dict[str, Any]) -> dict[str, Any]:
        wire_request = _translated(wire, params, stream=False)
        response = await self.http.send(wire_request.request)
        try:
            body = await response.read()
        finally:
            response.close()
        if response.status >= 400:
            raise wire.failure(response.status, response.headers, body)
        completion = wire.completion(_json_object(body, response.source))
        if not completion.get("usage"):
            completion["usage"] = self._estimated_usage(wire.model, params, _text_of(completion))
        return completion

    async def open_chat_stream(self, deployment: Deployment, params: dict[str, Any]):
        """A streaming chat completion (returns once the upstream's headers are in) whose
        chunks come out as OpenAI chunk dicts, a usage chunk last."""
        if (source := self._g4f.get(deployment.id)) is not None:
            return ChunkStream(self._with_usage(source.stream(params), source.model, params))
        wire = self._wires.get(deployment.id)
        if wire is None:
            return await self.router().open_chat_stream(deployment, params)
        wire_request = _translated(wire, params, stream=True)
        response = await self.http.send(wire_request.request)
        if response.status >= 400:
            try:
                body = await response.read()
            finally:
                response.close()
            raise wire.failure(response.status, response.headers, body)
        if not wire_request.streamed:
            chunks = self._whole_answer_as_chunks(wire, response, params)
        else:
            chunks = _decoded(response, wire.stream_decoder(params))
        return ChunkStream(self._with_usage(chunks, wire.model, params), response)

    async def _with_usage(
        self, chunks: AsyncIterator[Chunk], model: str, params: dict[str, Any]
    ) -> AsyncIterator[Chunk]:
        """The chunks, and a usage chunk after them when the upstream sent none."""
        saw_usage = False
        text: list[str] = []
        async for chunk in chunks:
            if chunk.get("usage"):
                saw_usage = True
            elif not saw_usage:
                for choice in chunk.get("choices") or ():
                    if content := (choice.get("delta") or {}).get("content"):
                        text.append(content)
            yield chunk
        if not saw_usage:
            yield {"choices": [], "usage": self._estimated_usage(model, params, "".join(text))}

    async def _whole_answer_as_chunks(
        self, wire: Wire, response: UpstreamResponse, params: dict[str, Any]
    ) -> AsyncIterator[Chunk]:
        """A provider that cannot stream this request (Groq with `response_format`) answers
        whole; the answer is relayed as one chunk."""
        completion = wire.completion(_json_object(await response.read(), response.source))
        choice = (completion.get("choices") or [{}])[0]
        message = dict(choice.get("message") or {})
        calls = [{**call, "index": i} for i, call in enumerate(message.pop("tool_calls", ()) or ())]
        delta = {k: v for k, v in message.items() if v is not None}
        if calls:
            delta["tool_calls"] = calls
        yield {
            "id": completion.get("id"),
            "object": "chat.completion.chunk",
            "created": completion.get("created"),
            "choices": [{"index": 0, "delta": delta, "finish_reason": choice.get("finish_reason")}],
        }
        if completion.get("usage"):
            yield {"choices": [], "usage": completion["usage"]}

    def _estimated_usage(self, model: str, params: dict[str, Any], text: str) -> dict[str, int]:
        """Usage for an upstream that reported none, from LiteLLM's token counter."""
        prompt = completion = 0
        if self._count_tokens is not None:
            try:
                prompt = self._count_tokens(model, params["messages"], params.get("tools"))
                if text:
                    completion = self._count_tokens(
                        model, [{"role": "assistant", "content": text}], None
                    )
            except Exception:
                log.debug("could not count tokens for %s", model, exc_info=True)
        prompt = prompt or max(1, len(orjson.dumps(params["messages"])) // 4)
        completion = completion or (len(text) + 3) // 4
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }

    # -- embeddings ------------------------------------------------------------------------

    async def embed(self, deployment: Deployment, params: dict[str, Any]) -> dict[str, Any]:
        """Embeddings go through LiteLLM's Router: its embedding adapters cover every
        provider, and embeddings are not on the latency-critical path of an agent."""
        return await self.router().embed(deployment, params)

    async def close(self) -> None:
        await self.http.close()


def _translated(wire: Wire, params: dict[str, Any], stream: bool) -> WireRequest:
    """The provider's request; one the translation cannot build is refused, not sent."""
    try:
        return wire.chat_request(params, stream)
    except UpstreamFailure:
        raise
    except Exception as exc:
        message = redact(f"{type(exc).__name__}: {exc}")[:300]
        raise UpstreamFailure(
            FailureKind.BAD_REQUEST,
            f"the request cannot be sent to {wire.provider} ({message})",
            status=400,
        ) from exc


async def _decoded(response: UpstreamResponse, decode: ChunkDecoder) -> AsyncIterator[Chunk]:
    async for event in json_events(response.chunks(), response.source):
        if (chunk := decode(event)) is not None:
            yield chunk


class ChunkStream:
    """Chunks of one upstream answer, with the connection closed when done or abandoned."""

    def __init__(self, chunks: AsyncIterator[Chunk], response: UpstreamResponse | None = None):
        self._chunks = chunks
        self._response = response

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> Chunk:
        return await self._chunks.__anext__()

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._chunks.aclose()  # type: ignore[attr-defined]
        if self._response is not None:
            self._response.close()


def _wire_for(deployment: Deployment) -> Wire | None:
    api_key = os.environ.get(deployment.api_key_env) if deployment.api_key_env else None
    kind = deployment.provider_type.name
    if kind in OPENAI_WIRE_TYPES:
        return OpenAIWire(deployment, api_key or _placeholder_key(kind))
    if kind == "gemini":
        from gateway.litellm_glue.gemini_wire import GeminiWire

        return GeminiWire(deployment, api_key)
    return None


def _placeholder_key(kind: str) -> str | None:
    # OpenAI-compatible servers without auth ignore a key; some clients insist on sending one.
    from gateway.providers import PLACEHOLDER_KEY

    return PLACEHOLDER_KEY if kind == "openai_compatible" else None


def _json_object(body: bytes, source: str) -> dict[str, Any]:
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise UpstreamFailure(
            FailureKind.SERVER_ERROR, f"{source} answered with a body that is not JSON"
        ) from None
    if not isinstance(value, dict):
        raise UpstreamFailure(FailureKind.SERVER_ERROR, f"{source} answered with a non-object")
    return value


def _text_of(completion: dict[str, Any]) -> str:
    choices = completion.get("choices") or [{}]
    return str((choices[0].get("message") or {}).get("content") or "")
