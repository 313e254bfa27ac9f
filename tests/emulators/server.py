"""The provider emulator: one port, every provider's paths, faults chosen by model name
(web search: by the query, see search_formats.py).

`ProviderEmulator` is the asyncio server (used directly by the CLI); `Emulator` hosts one on
its own event loop in a daemon thread, so synchronous tests, async tests and benchmarks can all
use it without sharing a loop with the code under test.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import threading
import time
from contextlib import suppress
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from .embeddings import gemini_embeddings, openai_embeddings
from .faults import Fault, FaultCounters, FaultKind, parse_fault
from .gemini_format import GeminiFormat
from .http import BadRequest, Connection, Request
from .openai_format import OpenAIFormat
from .recording import RecordedRequest, RequestLog
from .replies import plan_reply
from .search_formats import (
    RESULT_COUNT,
    search_answer,
    search_error,
    search_fault,
    search_query,
)
from .wire import SSE_TYPE, ChatCall, Event, JsonResponse, StreamResponse, WireFormat, dumps

PROVIDERS = ("groq", "gemini", "github", "cloudflare", "openai")

DEFAULT_MODELS = {
    "groq": ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"],
    "gemini": ["gemini-2.0-flash", "gemini-2.5-flash"],
    "github": ["openai/gpt-4.1", "openai/gpt-4.1-mini"],
    "cloudflare": ["@cf/meta/llama-3.3-70b-instruct-fp8-fast"],
    "openai": ["gpt-4o-mini"],
}

# The api_base a client (e.g. LiteLLM) needs for each provider, relative to the base URL.
API_BASE_PATHS = {
    "groq": "/openai/v1",
    "gemini": "/v1beta",
    "github": "/inference",
    "cloudflare": "/client/v4/accounts/{account}/ai/v1",
    "openai": "/v1",
}


MIDSTREAM_PAUSE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Route:
    kind: str  # "chat" | "embeddings" | "models" | "health" | "search"
    provider: str
    model: str | None = None  # Gemini carries the model in the path
    stream: bool = False  # Gemini carries streaming in the path
    batch: bool = False  # Gemini's batchEmbedContents (vs embedContent)


_ROUTES: list[tuple[str, re.Pattern[str], str, str]] = [
    ("POST", re.compile(r"/openai/v1/chat/completions"), "chat", "groq"),
    ("GET", re.compile(r"/openai/v1/models"), "models", "groq"),
    (
        "POST",
        re.compile(r"/v1beta/models/(?P<model>[^:]+):(?P<action>(?:stream)?[gG]enerateContent)"),
        "chat",
        "gemini",
    ),
    ("GET", re.compile(r"/v1beta/models"), "models", "gemini"),
    ("POST", re.compile(r"/inference(?:/v1)?/chat/completions"), "chat", "github"),
    ("GET", re.compile(r"/inference(?:/v1)?/models"), "models", "github"),
    ("POST", re.compile(r"/client/v4/accounts/[^/]+/ai/v1/chat/completions"), "chat", "cloudflare"),
    ("GET", re.compile(r"/client/v4/accounts/[^/]+/ai/v1/models"), "models", "cloudflare"),
    ("POST", re.compile(r"/v1/chat/completions"), "chat", "openai"),
    ("GET", re.compile(r"/v1/models"), "models", "openai"),
    ("POST", re.compile(r"/openai/v1/embeddings"), "embeddings", "groq"),
    (
        "POST",
        re.compile(r"/v1beta/models/(?P<model>[^:]+):(?P<embed>batchEmbedContents|embedContent)"),
        "embeddings",
        "gemini",
    ),
    ("POST", re.compile(r"/inference(?:/v1)?/embeddings"), "embeddings", "github"),
    ("POST", re.compile(r"/client/v4/accounts/[^/]+/ai/v1/embeddings"), "embeddings", "cloudflare"),
    ("POST", re.compile(r"/v1/embeddings"), "embeddings", "openai"),
    ("GET", re.compile(r"/healthz"), "health", ""),
    ("POST", re.compile(r"/_emulator/slow"), "control", ""),
    ("GET", re.compile(r"/res/v1/web/search"), "search", "brave"),
    ("POST", re.compile(r"/tavily/search"), "search", "tavily"),
    ("POST", re.compile(r"/duckduckgo/html"), "search", "duckduckgo"),
]


def match_route(method: str, path: str) -> Route | None:
    path = path.rstrip("/") or "/"
    for route_method, pattern, kind, provider in _ROUTES:
        if method == route_method and (match := pattern.fullmatch(path)):
            groups = match.groupdict()
            stream = (groups.get("action") or "").lower().startswith("stream")
            batch = (groups.get("embed") or "").startswith("batch")
            return Route(kind, provider, groups.get("model"), stream, batch)
    return None


class ProviderEmulator:
    """The asyncio HTTP server. Start it inside a running loop; see `Emulator` otherwise."""

    def __init__(
        self,
        *,
        api_key: str | None = None,
        models: list[str] | tuple[str, ...] = (),
        max_recorded: int = 10_000,
        hang_seconds: float = 300.0,
    ) -> None:
        self.api_key = api_key
        self.hang_seconds = hang_seconds  # cap for fault-silent / fault-stall
        self.log = RequestLog(max_recorded)
        self.fault_counters = FaultCounters()
        self.port = 0
        self.connections_accepted = 0  # lets tests check that clients reuse connections
        self._extra_models = list(models)
        self._seen_models: dict[str, dict[str, None]] = {p: {} for p in PROVIDERS}
        self._formats: dict[str, WireFormat] = {
            p: GeminiFormat() if p == "gemini" else OpenAIFormat(p) for p in PROVIDERS
        }
        self._serial = itertools.count(1)
        # model -> seconds before its first token, changed while running (a provider that is
        # slow today and recovers tomorrow, without renaming the model as fault-slowfirst does)
        self.slow: dict[str, float] = {}
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.Task[Any]] = set()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> int:
        self._server = await asyncio.start_server(
            self._serve_connection, host, port, limit=1024 * 1024, backlog=1024
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._connections):
            task.cancel()
        if self._connections:
            await asyncio.gather(*self._connections, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    def clear(self) -> None:
        """Forget recorded requests and how often each `-once` / `-times<K>` fault fired."""
        self.log.clear()
        self.fault_counters.reset()

    def model_ids(self, provider: str) -> list[str]:
        ids = DEFAULT_MODELS[provider] + self._extra_models + list(self._seen_models[provider])
        return list(dict.fromkeys(ids))

    # --- connections ----------------------------------------------------------------------

    async def _serve_connection(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.add(task)
        self.connections_accepted += 1
        connection = Connection(reader, writer)
        try:
            while (request := await connection.read_request()) is not None:
                reusable = await self._handle(connection, request)
                if not (reusable and request.keep_alive) or connection.closed:
                    break
        except BadRequest as exc:
            body = dumps({"error": {"message": str(exc), "type": "invalid_request_error"}})
            with suppress(ConnectionError):
                await connection.send(400, body, "application/json", keep_alive=False)
        except ConnectionError:
            pass
        except asyncio.CancelledError:
            # close() cancels open connections; ending quietly keeps asyncio from logging
            # every one of them as an error.
            pass
        finally:
            connection.close()
            self._connections.discard(task)

    async def _handle(self, connection: Connection, request: Request) -> bool:
        """Answer one request; False when the connection cannot be reused afterwards."""
        route = match_route(request.method, request.path)
        if route is None:
            message = f"No route for {request.method} {request.path}"
            response = JsonResponse(404, {"error": {"message": message, "code": "not_found"}})
            self._record(request, "unknown", None, response.status)
            return await self._deliver(connection, request, response, None)
        if route.kind == "health":
            return await self._deliver(connection, request, JsonResponse(200, {"ok": True}), None)
        if route.kind == "search":
            return await self._handle_search(connection, request, route.provider)
        if route.kind == "control":
            return await self._handle_slow(connection, request)
        if route.kind == "embeddings":
            return await self._handle_embeddings(connection, request, route)

        wire = self._formats[route.provider]
        api_key = _api_key(route.provider, request)
        authorized = self.api_key is None or api_key == self.api_key
        if route.kind == "models":
            ids = self.model_ids(route.provider)
            response = wire.model_list(ids) if authorized else wire.error(401, "")
            self._record(request, route.provider, None, response.status, api_key=api_key)
            return await self._deliver(connection, request, response, None)
        return await self._handle_chat(connection, request, route, wire, api_key, authorized)

    async def _handle_chat(
        self,
        connection: Connection,
        request: Request,
        route: Route,
        wire: WireFormat,
        api_key: str | None,
        authorized: bool,
    ) -> bool:
        body = request.json()
        call = wire.parse(body if isinstance(body, dict) else {}, route.model, route.stream)
        fault = None
        response: JsonResponse | StreamResponse
        if not isinstance(body, dict):
            response = wire.error(400, call.model)
        elif not authorized:
            response = wire.error(401, call.model)
        else:
            self._seen_models[route.provider][call.model] = None
            fault = parse_fault(call.model)
            if fault and not self.fault_counters.fires(route.provider, call.model, fault):
                fault = None
            if fault is None and self.slow.get(call.model):
                fault = Fault(FaultKind.SLOW_FIRST, seconds=self.slow[call.model])
            if fault and fault.kind in (FaultKind.RESET, FaultKind.SILENT):
                # No response at all: record now, since the client may wait on us.
                self._record(request, route.provider, call.model, None, body, fault, api_key)
                if fault.kind is FaultKind.RESET:
                    connection.reset()
                else:
                    await connection.wait_for_hangup(self.hang_seconds)
                return False
            response = self._respond(wire, call, fault, api_key)
        self._record(request, route.provider, call.model, response.status, body, fault, api_key)
        return await self._deliver(connection, request, response, fault)

    async def _handle_embeddings(
        self, connection: Connection, request: Request, route: Route
    ) -> bool:
        body = request.json()
        wire = self._formats[route.provider]
        api_key = _api_key(route.provider, request)
        model = route.model or (body.get("model") if isinstance(body, dict) else None) or ""
        model = model.removeprefix("models/")
        fault = parse_fault(model)
        if fault and not self.fault_counters.fires(route.provider, model, fault):
            fault = None
        if self.api_key is not None and api_key != self.api_key:
            response: JsonResponse = wire.error(401, model)
        elif fault and fault.kind is FaultKind.ECHO_KEY:
            response = _quoting_key(wire.error(401, model), api_key)
        elif fault and fault.kind in (FaultKind.RESET, FaultKind.SILENT):
            self._record(request, route.provider, model, None, body, fault, api_key)
            if fault.kind is FaultKind.RESET:
                connection.reset()
            else:
                await connection.wait_for_hangup(self.hang_seconds)
            return False
        elif fault and fault.kind is FaultKind.STATUS:
            assert fault.status is not None
            response = wire.error(fault.status, model, retry_after=fault.retry_after)
        elif route.provider == "gemini":
            response = gemini_embeddings(body, model, route.batch)
        else:
            response = openai_embeddings(body, model)
        self._record(request, route.provider, model, response.status, body, fault, api_key)
        return await self._deliver(connection, request, response, fault)

    async def _handle_search(self, connection: Connection, request: Request, provider: str) -> bool:
        body = request.json()
        form = dict(parse_qsl(request.body.decode(errors="replace"))) if not body else {}
        query = search_query(provider, body, request.query, form)
        key = (
            request.headers.get("x-subscription-token")
            if provider == "brave"
            else _api_key(provider, request)
        )
        fault = search_fault(provider, query)
        if fault == "silent":
            self._record(request, provider, "search", None, body or form, api_key=key)
            await connection.wait_for_hangup(self.hang_seconds)
            return False
        if provider != "duckduckgo" and self.api_key is not None and key != self.api_key:
            response = search_error(provider, 401)
        elif fault is not None:
            response = search_error(provider, int(fault))
        else:
            limit = request.query.get("count") or (body or {}).get("max_results") or RESULT_COUNT
            response = search_answer(provider, query, min(int(limit), RESULT_COUNT))
        self._record(request, provider, "search", response.status, body or form, api_key=key)
        return await self._deliver(connection, request, response, None)

    async def _handle_slow(self, connection: Connection, request: Request) -> bool:
        """`POST /_emulator/slow {"model": M, "seconds": S}`: M's first token now waits S
        seconds (0: answers at once again)."""
        body = request.json()
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            response = JsonResponse(400, {"error": {"message": "send {model, seconds}"}})
        else:
            self.set_slow(body["model"], float(body.get("seconds") or 0))
            response = JsonResponse(200, {"slow": self.slow})
        return await self._deliver(connection, request, response, None)

    def set_slow(self, model: str, seconds: float) -> None:
        if seconds > 0:
            self.slow[model] = seconds
        else:
            self.slow.pop(model, None)

    def _respond(
        self, wire: WireFormat, call: ChatCall, fault: Fault | None, api_key: str | None
    ) -> JsonResponse | StreamResponse:
        """The response the provider would give; delivery faults are applied later."""
        kind = fault.kind if fault else None
        if fault and kind is FaultKind.STATUS:
            assert fault.status is not None
            return wire.error(fault.status, call.model, retry_after=fault.retry_after)
        if kind is FaultKind.RPM:
            return wire.error(429, call.model, retry_after=60)
        if kind is FaultKind.ECHO_KEY:
            return _quoting_key(wire.error(401, call.model), api_key)
        if kind is FaultKind.CONTEXT:
            return wire.context_exceeded(call)
        if kind is FaultKind.POLICY:
            return wire.content_blocked(call)
        if kind is FaultKind.NO_PREFILL and call.conversation.last_role == "assistant":
            return wire.error(400, call.model)
        if call.rejection:
            return wire.error(400, call.model)
        reply = plan_reply(wire.provider, call.model, call.conversation, next(self._serial))
        return wire.answer(call, reply, usage=kind is not FaultKind.NO_USAGE)

    def _record(
        self,
        request: Request,
        provider: str,
        model: str | None,
        status: int | None,
        body: Any = None,
        fault: Fault | None = None,
        api_key: str | None = None,
    ) -> None:
        self.log.append(
            RecordedRequest(
                provider=provider,
                method=request.method,
                path=request.path,
                model=model,
                headers=request.headers,
                body=body,
                status=status,
                fault=fault,
                ts=time.time(),
                api_key=api_key,
                query=request.query,
            )
        )

    # --- delivery, where the transport faults happen --------------------------------------

    async def _deliver(
        self,
        connection: Connection,
        request: Request,
        response: JsonResponse | StreamResponse,
        fault: Fault | None,
    ) -> bool:
        """Send the response, as damaged as the fault says; False if the connection is spent."""
        kind = fault.kind if fault else None
        if fault and kind is FaultKind.SLOW_HEADERS:
            await asyncio.sleep(fault.seconds)
        if isinstance(response, StreamResponse):
            return await self._deliver_stream(connection, request, response, fault)

        keep_alive = request.keep_alive
        body = response.body if isinstance(response.body, bytes) else dumps(response.body)
        if kind is FaultKind.MALFORMED and response.status == 200:
            body = b"{not json"
        if fault is None or kind not in (FaultKind.SLOW_FIRST, FaultKind.CUT, FaultKind.STALL):
            await connection.send(
                response.status,
                body,
                response.content_type,
                response.headers,
                keep_alive=keep_alive,
            )
            return True
        head = connection.head(
            response.status,
            response.content_type,
            response.headers,
            content_length=len(body),
            keep_alive=keep_alive,
        )
        if kind is FaultKind.SLOW_FIRST:
            await connection.write(head)
            await asyncio.sleep(fault.seconds)
            await connection.write(body)
            return True
        await connection.write(head + body[: len(body) // 2])
        return await self._abandon(connection, fault)

    async def _deliver_stream(
        self,
        connection: Connection,
        request: Request,
        response: StreamResponse,
        fault: Fault | None,
    ) -> bool:
        kind = fault.kind if fault else None
        events = response.events
        if kind is FaultKind.NO_DONE:
            events = [event for event in events if not event.terminator]
        elif kind is FaultKind.MALFORMED:
            garbage = Event(b"data: {not json" + response.separator, content=False)
            events = [events[0], garbage, *events[1:]]
        elif fault and kind in (FaultKind.CUT, FaultKind.STALL):
            events = _first_content_events(events, fault.chunks)

        head = connection.head(
            response.status, SSE_TYPE, response.headers, keep_alive=request.keep_alive
        )
        await connection.write(head)
        if fault and kind is FaultKind.SLOW_FIRST:
            await asyncio.sleep(fault.seconds)
        for event in events:
            await connection.write_chunk(event.frame)
        if fault and kind in (FaultKind.CUT, FaultKind.STALL):
            # A real upstream dies mid-generation, not in the same packet as its last words:
            # let the client read what was sent before the connection goes.
            await asyncio.sleep(MIDSTREAM_PAUSE_SECONDS)
            return await self._abandon(connection, fault)
        await connection.end_chunks()
        return True

    async def _abandon(self, connection: Connection, fault: Fault) -> bool:
        """End a response mid-body: close at once (cut) or go quiet (stall)."""
        if fault.kind is FaultKind.STALL:
            await connection.wait_for_hangup(self.hang_seconds)
        connection.close()
        return False


def _first_content_events(events: list[Event], count: int) -> list[Event]:
    """The events up to and including the `count`-th one that carries content."""
    end = 0
    for index, event in enumerate(events):
        if count <= 0:
            break
        if event.content:
            count -= 1
            end = index + 1
    return events[:end]


def _quoting_key(response: JsonResponse, api_key: str | None) -> JsonResponse:
    """A 401 whose message quotes the key it was sent, as some providers' do."""

    def quote(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: f"{v} (key sent: {api_key})" if k == "message" else quote(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [quote(item) for item in node]
        return node

    return JsonResponse(response.status, quote(response.body), response.headers)


def _api_key(provider: str, request: Request) -> str | None:
    if provider == "gemini":
        return request.headers.get("x-goog-api-key") or request.query.get("key")
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


class Emulator:
    """A `ProviderEmulator` on its own event loop in a daemon thread, with a synchronous API.

    >>> with Emulator() as emu:
    ...     api_base = emu.api_base("groq")  # http://127.0.0.1:PORT/openai/v1
    """

    def __init__(
        self,
        api_key: str | None = None,
        *,
        models: list[str] | tuple[str, ...] = (),
        max_recorded: int = 10_000,
        hang_seconds: float = 300.0,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.server = ProviderEmulator(
            api_key=api_key, models=models, max_recorded=max_recorded, hang_seconds=hang_seconds
        )
        self.host = host
        self._requested_port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.server.port

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def api_base(self, provider: str, account: str = "emulator") -> str:
        """What to pass as a client's api_base / base_url for `provider`."""
        return self.base_url + API_BASE_PATHS[provider].format(account=account)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self.server.log.snapshot()

    def count(
        self, provider: str | None = None, model: str | None = None, status: int | None = None
    ) -> int:
        return self.server.log.count(provider, model, status)

    @property
    def connections_accepted(self) -> int:
        return self.server.connections_accepted

    def clear(self) -> None:
        self.server.clear()

    def set_slow(self, model: str, seconds: float) -> None:
        """Delay `model`'s first token by `seconds` from now on (0: no delay)."""
        self.server.set_slow(model, seconds)

    def start(self) -> Emulator:
        if self._thread is not None:
            raise RuntimeError("emulator already started")
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="provider-emulator", daemon=True
        )
        self._thread.start()
        started = asyncio.run_coroutine_threadsafe(
            self.server.start(self.host, self._requested_port), self._loop
        )
        started.result(timeout=10)
        return self

    def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        asyncio.run_coroutine_threadsafe(self.server.close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
