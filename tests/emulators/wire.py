"""The contract between wire formats and the server, as plain data.

A format parses a request into a `ChatCall` and renders responses as `JsonResponse` or
`StreamResponse`; the server alone delivers them. Keeping rendering apart from delivery is what
lets one set of fault rules (cut, stall, malformed, ...) apply unchanged to every provider.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Protocol

from .replies import Conversation, Reply

JSON_TYPE = "application/json"
SSE_TYPE = "text/event-stream"

Headers = list[tuple[str, str]]


def dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True, slots=True)
class Event:
    """One complete server-sent event frame, e.g. b'data: {...}\\n\\n'."""

    frame: bytes
    content: bool = True  # counts toward fault-cut<N> / fault-stall<N>
    terminator: bool = False  # the `data: [DONE]` sentinel, dropped by fault-nodone


def sse(obj: Any, separator: bytes = b"\n\n", *, content: bool = True) -> Event:
    return Event(b"data: " + dumps(obj) + separator, content=content)


@dataclass(slots=True)
class JsonResponse:
    status: int
    body: Any
    headers: Headers = field(default_factory=list)
    content_type: str = JSON_TYPE


@dataclass(slots=True)
class StreamResponse:
    events: list[Event]
    separator: bytes = b"\n\n"  # what the provider ends its frames with
    status: int = 200
    headers: Headers = field(default_factory=list)


@dataclass(slots=True)
class ChatCall:
    """A chat request, parsed: which model, what was said, and how to answer."""

    model: str
    conversation: Conversation
    stream: bool = False
    include_usage: bool = False  # the client asked for a usage chunk at the end of a stream
    # Why a strict upstream refuses this request's shape (answered with a 400), if it does.
    rejection: str | None = None


class WireFormat(Protocol):
    """What the server needs from a provider's format."""

    provider: str

    def parse(self, body: dict[str, Any], path_model: str | None, stream: bool) -> ChatCall: ...

    def answer(self, call: ChatCall, reply: Reply, *, usage: bool) -> JsonResponse | StreamResponse:
        """The successful response, streamed or not as the call asked."""
        ...

    def error(self, status: int, model: str, *, retry_after: int | None = None) -> JsonResponse:
        """The provider's error for an HTTP status."""
        ...

    def context_exceeded(self, call: ChatCall) -> JsonResponse: ...

    def content_blocked(self, call: ChatCall) -> JsonResponse | StreamResponse: ...

    def model_list(self, model_ids: list[str]) -> JsonResponse: ...
