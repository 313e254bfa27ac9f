"""Server-sent events from an upstream, parsed once.

An event whose `data:` is not JSON (nor `[DONE]`) is skipped and logged, and the stream goes
on: one bad event must neither abort an answer nor truncate it silently.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson

log = logging.getLogger("gateway.sse")

DONE = b"[DONE]"


class SSEDecoder:
    """Bytes in, the `data` payloads of complete events out (`\\n\\n` or `\\r\\n\\r\\n`
    ends an event; several `data:` lines of one event are joined by newlines)."""

    def __init__(self) -> None:
        self._pending = b""

    def feed(self, piece: bytes) -> list[bytes]:
        buffer = self._pending + piece if self._pending else piece
        if b"\r" in buffer:
            buffer = buffer.replace(b"\r\n", b"\n")
            if buffer.endswith(b"\r"):  # a \r\n split across two pieces
                self._pending = buffer
                return []
        events = buffer.split(b"\n\n")
        self._pending = events.pop()
        payloads = []
        for event in events:
            if (data := _data_of(event)) is not None:
                payloads.append(data)
        return payloads

    def close(self) -> list[bytes]:
        """What is left when the stream ends without a final blank line."""
        rest, self._pending = self._pending, b""
        data = _data_of(rest.replace(b"\r\n", b"\n")) if rest.strip() else None
        return [data] if data is not None else []


def _data_of(event: bytes) -> bytes | None:
    if event.startswith(b"data:") and b"\n" not in event:  # the usual one-line event
        return event[5:].strip()
    lines = [line[5:].strip() for line in event.split(b"\n") if line.startswith(b"data:")]
    return b"\n".join(lines) if lines else None


async def json_events(chunks: AsyncIterator[bytes], source: str) -> AsyncIterator[dict[str, Any]]:
    """Each event's JSON object, until `[DONE]` or the end of the body; malformed events are
    skipped (and logged with `source`, an upstream URL without its query)."""
    decoder = SSEDecoder()
    async for piece in chunks:
        for data in decoder.feed(piece):
            if data == DONE:
                return
            if (event := _parsed(data, source)) is not None:
                yield event
    for data in decoder.close():
        if data != DONE and (event := _parsed(data, source)) is not None:
            yield event


def _parsed(data: bytes, source: str) -> dict[str, Any] | None:
    if not data:
        return None
    try:
        event = orjson.loads(data)
    except orjson.JSONDecodeError:
        log.warning("skipped a malformed stream event from %s: %.120r", source, data)
        return None
    if not isinstance(event, dict):
        log.warning("skipped a stream event that is not an object from %s: %.120r", source, data)
        return None
    return event
