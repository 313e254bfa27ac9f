"""Calls into LiteLLM's Router for one concrete deployment, failures classified.

Each call names exactly one deployment (model group == deployment id), with LiteLLM's retries
off: the chain (gateway/routing/chain.py) decides what happens next.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from litellm import Router

from gateway.catalog import Deployment
from gateway.litellm_glue.errors import classify
from gateway.litellm_glue.sse_guard import guarded_litellm_handler
from gateway.routing.failures import FailureKind, UpstreamFailure


@dataclass
class ResponseEvents:
    """A Responses API event stream whose first event already arrived: the upstream has
    committed to answer, so the chain no longer needs to fail over."""

    first: Any
    rest: AsyncIterator[Any]

    async def __aiter__(self) -> AsyncIterator[Any]:
        yield self.first
        async for item in self.rest:
            yield item

    async def aclose(self) -> None:
        close = getattr(self.rest, "aclose", None)
        if close is not None:
            # Closing a broken upstream must not mask the real outcome.
            with contextlib.suppress(Exception):
                await close()


# Provider types LiteLLM serves through its own HTTP handler (the others go through the
# OpenAI SDK, whose client is `litellm.aclient_session`).
_HANDLER_PROVIDER_TYPES = frozenset({"groq", "gemini"})


class LiteLLMEngine:
    def __init__(self, router: Callable[[], Router]) -> None:
        self._router = router
        self._handler = guarded_litellm_handler()

    def _client(self, deployment: Deployment) -> dict[str, Any]:
        if deployment.provider_type.name in _HANDLER_PROVIDER_TYPES:
            return {"client": self._handler}
        return {}

    async def chat(self, deployment: Deployment, params: dict[str, Any]) -> dict[str, Any]:
        """A non-streaming chat completion as an OpenAI `chat.completion` dict."""
        response = await self._acompletion(deployment, params, stream=False)
        return response.model_dump()

    async def open_chat_stream(self, deployment: Deployment, params: dict[str, Any]) -> ChunkStream:
        """A streaming chat completion whose chunks come out as OpenAI chunk dicts."""
        return ChunkStream(await self._acompletion(deployment, params, stream=True))

    async def _acompletion(self, deployment: Deployment, params: dict[str, Any], stream: bool):
        router = self._router()
        try:
            return await router.acompletion(
                model=deployment.id,
                stream=stream,
                num_retries=0,
                **self._client(deployment),
                **params,
            )
        except Exception as exc:
            raise classify(exc) from exc

    async def responses(self, deployment: Deployment, params: dict[str, Any], stream: bool) -> Any:
        """A Responses API call, bridged by LiteLLM to chat completions where needed."""
        router = self._router()
        try:
            response = await router.aresponses(
                model=deployment.id, stream=stream, num_retries=0, **params
            )
            if stream:
                return await _first_event(response)
            return response
        except UpstreamFailure:
            raise
        except Exception as exc:
            raise classify(exc) from exc


class ChunkStream:
    """LiteLLM's `CustomStreamWrapper` as dict chunks, its exceptions as `UpstreamFailure`."""

    def __init__(self, wrapper: Any) -> None:
        self._wrapper = wrapper
        self._chunks = wrapper.__aiter__()

    def __aiter__(self) -> ChunkStream:
        return self

    async def __anext__(self) -> dict[str, Any]:
        try:
            chunk = await self._chunks.__anext__()
        except StopAsyncIteration:
            raise
        except Exception as exc:
            raise classify(exc) from exc
        return chunk.model_dump(exclude_none=True)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self._wrapper.aclose()


async def _first_event(stream: Any) -> ResponseEvents:
    iterator = stream.__aiter__()
    try:
        first = await iterator.__anext__()
    except StopAsyncIteration:
        raise UpstreamFailure(
            FailureKind.SERVER_ERROR, "the upstream closed the stream without any data"
        ) from None
    return ResponseEvents(first=first, rest=iterator)
