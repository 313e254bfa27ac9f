"""Drop malformed server-sent events before LiteLLM parses the stream.

One event whose `data:` is not JSON makes LiteLLM's OpenAI-SDK providers abort the stream and
its Gemini parser swallow the rest of the answer while reporting a normal finish (it takes
the bad line for the start of a JSON object split across frames). Filtering at the HTTP layer
skips just the bad event, logs it, and lets the stream go on.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator

import httpx
import orjson
from litellm.llms.custom_httpx.http_handler import AsyncHTTPHandler

log = logging.getLogger("gateway.sse")

_EVENT_END = re.compile(rb"\r?\n\r?\n")
_MAX_CONNECTIONS = httpx.Limits(max_connections=1000, max_keepalive_connections=200)


class SanitizedEventStream(httpx.AsyncByteStream):
    """An SSE body with every event whose data is not JSON (nor `[DONE]`) removed."""

    def __init__(self, inner: httpx.AsyncByteStream, url: str) -> None:
        self._inner = inner
        self._url = url

    async def __aiter__(self) -> AsyncIterator[bytes]:
        pending = b""
        async for piece in self._inner:
            pending += piece
            ready: list[bytes] = []
            while match := _EVENT_END.search(pending):
                event, pending = pending[: match.end()], pending[match.end() :]
                if _well_formed(event):
                    ready.append(event)
                else:
                    log.warning(
                        "skipped a malformed stream event from %s: %.120r", self._url, event
                    )
            if ready:
                yield b"".join(ready)
        if pending:
            yield pending

    async def aclose(self) -> None:
        await self._inner.aclose()


def _well_formed(event: bytes) -> bool:
    for line in event.splitlines():
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload and payload != b"[DONE]":
                try:
                    orjson.loads(payload)
                except orjson.JSONDecodeError:
                    return False
    return True


async def _guard_event_streams(response: httpx.Response) -> None:
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        response.stream = SanitizedEventStream(
            response.stream, str(response.url.copy_with(query=None))
        )


def guarded_litellm_handler() -> AsyncHTTPHandler:
    """For providers LiteLLM calls through its own HTTP handler (Groq, Gemini)."""
    return AsyncHTTPHandler(event_hooks={"response": [_guard_event_streams]})


def guarded_httpx_client() -> httpx.AsyncClient:
    """For providers LiteLLM calls through the OpenAI SDK (installed as `aclient_session`)."""
    return httpx.AsyncClient(
        event_hooks={"response": [_guard_event_streams]}, limits=_MAX_CONNECTIONS, timeout=None
    )
