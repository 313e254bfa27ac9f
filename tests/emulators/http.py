"""A tiny HTTP/1.1 server connection on raw asyncio streams.

A web framework would hide exactly what the emulator has to control: whether and when the
status line goes out, how a body is framed, and how a connection dies (FIN mid-body, RST before
any byte, or silence). This module parses requests (Content-Length or chunked bodies,
keep-alive, `Expect: 100-continue`) and writes responses, nothing more.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

MAX_HEAD_BYTES = 64 * 1024
MAX_BODY_BYTES = 64 * 1024 * 1024


class BadRequest(Exception):
    """The bytes received are not an HTTP/1.1 request we can answer."""


@dataclass(slots=True)
class Request:
    method: str
    path: str  # percent-decoded, without the query string
    query: dict[str, str]
    version: str
    headers: dict[str, str]  # names lowercased
    body: bytes

    @property
    def keep_alive(self) -> bool:
        connection = self.headers.get("connection", "").lower()
        if self.version == "HTTP/1.0":
            return "keep-alive" in connection
        return "close" not in connection

    def json(self) -> Any:
        """The body as JSON, or None when it is empty or not JSON."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError:
            return None


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Connection:
    """One client connection: reads requests, writes responses, and ends in any chosen way."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @property
    def closed(self) -> bool:
        return self._writer.transport.is_closing()

    # --- reading --------------------------------------------------------------------------

    async def read_request(self) -> Request | None:
        """The next request, or None when the client closed the connection between requests."""
        try:
            head = await self._reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError as exc:
            if exc.partial.strip():
                raise BadRequest("connection closed inside the request head") from None
            return None
        except asyncio.LimitOverrunError:
            raise BadRequest("request head too large") from None
        except ConnectionError:
            return None

        request_line, *header_lines = head.decode("latin-1").lstrip("\r\n").split("\r\n")
        try:
            method, target, version = request_line.split(" ", 2)
        except ValueError:
            raise BadRequest(f"malformed request line {request_line!r}") from None
        headers: dict[str, str] = {}
        for line in header_lines:
            if not line:
                continue
            name, colon, value = line.partition(":")
            if not colon:
                raise BadRequest(f"malformed header line {line!r}")
            headers[name.strip().lower()] = value.strip()

        if headers.get("expect", "").lower() == "100-continue":
            await self.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        body = await self._read_body(headers)
        url = urlsplit(target)
        return Request(
            method, unquote(url.path), dict(parse_qsl(url.query)), version, headers, body
        )

    async def _read_body(self, headers: dict[str, str]) -> bytes:
        try:
            if "chunked" in headers.get("transfer-encoding", "").lower():
                return await self._read_chunked_body()
            length = int(headers.get("content-length") or 0)
            if not 0 <= length <= MAX_BODY_BYTES:
                raise BadRequest(f"unacceptable Content-Length {length}")
            return await self._reader.readexactly(length) if length else b""
        except asyncio.IncompleteReadError:
            raise BadRequest("connection closed inside the request body") from None
        except ValueError:
            raise BadRequest("invalid body framing") from None

    async def _read_chunked_body(self) -> bytes:
        parts = []
        total = 0
        while True:
            size_line = await self._reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip(), 16)
            if size == 0:
                while await self._reader.readuntil(b"\r\n") != b"\r\n":  # trailers
                    pass
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise BadRequest("chunked body too large")
            parts.append(await self._reader.readexactly(size))
            await self._reader.readexactly(2)

    # --- writing --------------------------------------------------------------------------

    async def write(self, data: bytes) -> None:
        """Raw bytes. Raises ConnectionResetError once the connection is gone."""
        if self._writer.transport.is_closing():
            raise ConnectionResetError("connection already closed")
        self._writer.write(data)
        await self._writer.drain()

    @staticmethod
    def head(
        status: int,
        content_type: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        content_length: int | None = None,
        keep_alive: bool = True,
    ) -> bytes:
        """A response head; without a content length the body is sent chunked."""
        lines = [f"HTTP/1.1 {status} {_reason(status)}", f"Content-Type: {content_type}"]
        if content_length is None:
            lines.append("Transfer-Encoding: chunked")
            lines.append("Cache-Control: no-cache")
        else:
            lines.append(f"Content-Length: {content_length}")
        if not keep_alive:
            lines.append("Connection: close")
        lines.extend(f"{name}: {value}" for name, value in headers)
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    async def send(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: Sequence[tuple[str, str]] = (),
        *,
        keep_alive: bool = True,
    ) -> None:
        """A complete response with a Content-Length body, in one write."""
        head = self.head(
            status, content_type, headers, content_length=len(body), keep_alive=keep_alive
        )
        await self.write(head + body)

    async def write_chunk(self, data: bytes) -> None:
        """One chunk of a `Transfer-Encoding: chunked` body."""
        if data:
            await self.write(b"%x\r\n%s\r\n" % (len(data), data))

    async def end_chunks(self) -> None:
        """The terminating zero-length chunk: the body is complete."""
        await self.write(b"0\r\n\r\n")

    # --- ending ---------------------------------------------------------------------------

    def close(self) -> None:
        """Graceful close (FIN) after flushing what was written."""
        self._writer.close()

    def reset(self) -> None:
        """Abortive close: SO_LINGER 0 makes the kernel send RST instead of FIN."""
        sock = self._writer.get_extra_info("socket")
        if sock is not None:
            with suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self._writer.transport.abort()

    async def wait_for_hangup(self, limit: float) -> None:
        """Say nothing until the client closes its side, or `limit` seconds pass."""
        try:
            async with asyncio.timeout(limit):
                while await self._reader.read(65536):
                    pass
        except (TimeoutError, ConnectionError):
            pass
