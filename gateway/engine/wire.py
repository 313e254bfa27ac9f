"""What the engine needs from a provider's wire format: how to ask, and how to read the
answer as OpenAI chat dicts. One small object per deployment (its URL and key resolved once)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from gateway.engine.http import UpstreamRequest
from gateway.routing.failures import UpstreamFailure

Chunk = dict[str, Any]
# One upstream event (already JSON) to the OpenAI chunk it stands for, or None to skip it.
ChunkDecoder = Callable[[dict[str, Any]], Chunk | None]


@dataclass(frozen=True)
class WireRequest:
    request: UpstreamRequest
    streamed: bool  # False: the provider cannot stream this request; read it whole


class Wire(Protocol):
    provider: str  # LiteLLM's name for the wire, for its token counter and error mapping
    model: str

    def chat_request(self, params: dict[str, Any], stream: bool) -> WireRequest: ...

    def stream_decoder(self, params: dict[str, Any]) -> ChunkDecoder: ...

    def completion(self, body: dict[str, Any]) -> dict[str, Any]: ...

    def failure(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamFailure: ...
