"""Calls into LiteLLM's Router for one concrete deployment, failures classified.

Each call names exactly one deployment (model group == deployment id), with LiteLLM's retries
off: the chain (gateway/routing/chain.py) decides what happens next.
"""

from __future__ import annotations

import contextlib
from typing import Any

from litellm import Router

from gateway.catalog import Deployment
from gateway.litellm_glue.errors import classify
from gateway.litellm_glue.sse_guard import guarded_litellm_handler

# Provider types LiteLLM serves through its own HTTP handler (the others go through the
# OpenAI SDK, whose client is `litellm.aclient_session`).
_HANDLER_PROVIDER_TYPES = frozenset({"groq", "gemini"})


class LiteLLMEngine:
    def __init__(self, router: Router) -> None:
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

    async def embed(self, deployment: Deployment, params: dict[str, Any]) -> dict[str, Any]:
        """Embeddings as an OpenAI `list` of `embedding` dicts (floats, whatever the caller's
        encoding: the edge encodes)."""
        try:
            response = await self._router.aembedding(
                model=deployment.id,
                num_retries=0,
                encoding_format="float",
                **self._client(deployment),
                **params,
            )
        except Exception as exc:
            raise classify(exc) from exc
        return response.model_dump()

    async def _acompletion(self, deployment: Deployment, params: dict[str, Any], stream: bool):
        try:
            return await self._router.acompletion(
                model=deployment.id,
                stream=stream,
                num_retries=0,
                **self._client(deployment),
                **params,
            )
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
