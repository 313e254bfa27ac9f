"""The HTTP server around the app: uvicorn, with the limits it lacks and a graceful drain.

uvicorn accepts headers of any size and number, and keeps a connection that never finishes
its request open forever (600 idle half-open connections were seen to stay). Its httptools
protocol is extended here: headers over `GATEWAY_MAX_HEADER_KB` or `GATEWAY_MAX_HEADERS` get
a 431, a request whose headers do not arrive within `GATEWAY_HEADER_TIMEOUT_SECONDS` has its
connection closed, and a malformed request gets a JSON 400 instead of plain text. On
SIGTERM/SIGINT the gateway stops taking requests and lets the streams in flight finish for
`GATEWAY_DRAIN_SECONDS` before ending them with an error event (gateway/routing/drain.py).
"""

from __future__ import annotations

import asyncio
import logging

import httptools
import orjson
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from gateway.api.errors import error_body
from gateway.routing.drain import Drain
from gateway.settings import Settings

log = logging.getLogger("gateway.server")

# Time after the drain for the last error events and the telemetry flush to go out.
SHUTDOWN_MARGIN_SECONDS = 5.0


class HeadersTooLarge(Exception):
    pass


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    max_header_bytes = 64 * 1024
    max_headers = 100
    header_timeout = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_bytes = 0
        self._header_timer: asyncio.TimerHandle | None = None
        self._rejected = False
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        self._disarm_header_timer()
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if getattr(self, "_header_timer", None) is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self._rejected:
            return
        self._unset_keepalive_if_required()
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            if self._should_upgrade():
                self.handle_websocket_upgrade()
            else:
                self._unsupported_upgrade_warning()
        except httptools.HttpParserError as exc:
            if isinstance(exc.__context__, HeadersTooLarge) or self._rejected:
                self._reject(431, "Request headers are too large.", "headers_too_large")
            else:
                self._reject(400, "Invalid HTTP request.", "invalid_http_request")
        except HeadersTooLarge:
            self._reject(431, "Request headers are too large.", "headers_too_large")

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._header_bytes = 0
        if self._header_timer is None:  # a next request on a kept-alive connection
            self._arm_header_timer()

    def on_url(self, url: bytes) -> None:
        self._header_bytes += len(url)
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._header_bytes += len(name) + len(value)
        if self._header_bytes > self.max_header_bytes or len(self.headers) >= self.max_headers:
            self._rejected = True
            raise HeadersTooLarge
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._disarm_header_timer()
        super().on_headers_complete()

    def _reject(self, status: int, message: str, code: str) -> None:
        self._rejected = True
        if self.transport is None or self.transport.is_closing():
            return
        body = orjson.dumps(error_body(status, message, code=code))
        reason = b"Request Header Fields Too Large" if status == 431 else b"Bad Request"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()


class DrainingServer(uvicorn.Server):
    """uvicorn's server, telling the gateway to drain when a shutdown signal arrives."""

    def __init__(self, config: uvicorn.Config, drain: Drain) -> None:
        super().__init__(config)
        self.drain = drain

    def handle_exit(self, sig, frame) -> None:
        loop = asyncio.get_event_loop()
        loop.call_soon_threadsafe(self.drain.begin)
        super().handle_exit(sig, frame)


def serve(app, settings: Settings, host: str, port: int) -> None:
    LimitedHttpToolsProtocol.max_header_bytes = settings.max_header_kb * 1024
    LimitedHttpToolsProtocol.max_headers = settings.max_headers
    LimitedHttpToolsProtocol.header_timeout = settings.header_timeout_seconds
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http=LimitedHttpToolsProtocol,
        log_level=settings.log_level.lower(),
        access_log=settings.log_level == "DEBUG",
        timeout_keep_alive=int(settings.keepalive_seconds),
        timeout_graceful_shutdown=int(settings.drain_seconds + SHUTDOWN_MARGIN_SECONDS),
    )
    DrainingServer(config, app.state.gateway.drain).run()
