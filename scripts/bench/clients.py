"""HTTP clients for the load: aiohttp (default) and httpx, one pooled keep-alive session each.

aiohttp is the default because the client shares a 2-core box with the servers it measures:
on this machine httpx.AsyncClient with 32 pooled connections spends about 1.7 ms of CPU per
request against the emulator (about 580 req/s with a full core), aiohttp about 0.05 ms. With
httpx the client took half a core away from the proxy under test at c=32. `--client httpx`
keeps the OpenAI SDK's transport available for comparison.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Protocol

import aiohttp
import httpx
import orjson

REQUEST_TIMEOUT_S = 30.0
_PROMPT = [{"role": "user", "content": "Say hello."}]
DONE = b"data: [DONE]"

Call = Callable[[], Awaitable[None]]


class RequestFailed(Exception):
    """A request did not produce a complete successful completion (transport error, non-200,
    or a stream whose tail lacks the target's end marker, `data: [DONE]` by default)."""


class Client(Protocol):
    async def __aenter__(self) -> Client: ...

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None: ...

    def call(
        self, url: str, headers: dict[str, str], model: str, stream: bool, stream_end: bytes = DONE
    ) -> Call: ...


def request_body(model: str, stream: bool) -> bytes:
    """Encoded once per measurement, so the client spends its CPU on HTTP only."""
    payload: dict[str, object] = {"model": model, "messages": _PROMPT, "max_tokens": 16}
    if stream:
        payload |= {"stream": True, "stream_options": {"include_usage": True}}
    return orjson.dumps(payload)


def _check(status: int, body_or_tail: bytes, stream: bool, stream_end: bytes) -> None:
    complete = stream_end in body_or_tail if stream else b'"choices"' in body_or_tail
    if status != 200 or not complete:
        raise RequestFailed(f"HTTP {status}: {body_or_tail[-200:]!r}")


class AiohttpClient:
    def __init__(self, concurrency: int) -> None:
        self._concurrency = concurrency
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> AiohttpClient:
        connector = aiohttp.TCPConnector(
            limit=self._concurrency, limit_per_host=self._concurrency, keepalive_timeout=60
        )
        timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
        self._session = aiohttp.ClientSession(connector=connector, timeout=timeout)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._session is not None:
            await self._session.close()

    def call(
        self, url: str, headers: dict[str, str], model: str, stream: bool, stream_end: bytes = DONE
    ) -> Call:
        """`stream_end`: what the last 64 bytes of a complete stream contain."""
        assert self._session is not None, "use `async with` first"
        session, body = self._session, request_body(model, stream)
        headers = {**headers, "content-type": "application/json"}

        async def one() -> None:
            try:
                async with session.post(url, data=body, headers=headers) as response:
                    if stream:
                        tail = b""
                        async for chunk in response.content.iter_any():
                            tail = (tail + chunk)[-64:]
                    else:
                        tail = await response.read()
                    _check(response.status, tail, stream, stream_end)
            except (TimeoutError, aiohttp.ClientError) as exc:
                raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc

        return one


class HttpxClient:
    def __init__(self, concurrency: int) -> None:
        limits = httpx.Limits(
            max_connections=concurrency, max_keepalive_connections=concurrency, keepalive_expiry=60
        )
        # trust_env=False: an HTTP(S)_PROXY in the environment must not sit in front of 127.0.0.1.
        self._client = httpx.AsyncClient(
            limits=limits, timeout=httpx.Timeout(REQUEST_TIMEOUT_S), trust_env=False
        )

    async def __aenter__(self) -> HttpxClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self._client.aclose()

    def call(
        self, url: str, headers: dict[str, str], model: str, stream: bool, stream_end: bytes = DONE
    ) -> Call:
        """`stream_end`: what the last 64 bytes of a complete stream contain."""
        client, body = self._client, request_body(model, stream)
        headers = {**headers, "content-type": "application/json"}

        async def one() -> None:
            try:
                async with client.stream("POST", url, content=body, headers=headers) as response:
                    tail = b""
                    async for chunk in response.aiter_raw():
                        tail = (tail + chunk)[-64:] if stream else tail + chunk
                    _check(response.status_code, tail, stream, stream_end)
            except httpx.HTTPError as exc:
                raise RequestFailed(f"{type(exc).__name__}: {exc}") from exc

        return one


CLIENTS: dict[str, Callable[[int], Client]] = {"aiohttp": AiohttpClient, "httpx": HttpxClient}
