"""What the gateway admits: bodies up to `GATEWAY_MAX_BODY_MB`, at most
`GATEWAY_MAX_IN_FLIGHT` requests at once, and nothing new once it is shutting down.

A body is refused from its Content-Length before any of it is read, and while it streams in
when it has none (or lies): a 300 MB body once peaked the process at ~1 GB. Past the in-flight
limit a request is shed with a 503 and Retry-After instead of queueing until every request
times out. Errors are JSON in the caller's API shape.
"""

from __future__ import annotations

import orjson

from gateway.api.errors import error_body, shape_of_path
from gateway.routing.drain import Drain
from gateway.routing.saturation import Saturation

# Probes always answer: a load balancer must see a busy gateway as alive.
UNGUARDED_PATHS = frozenset(
    {"/health/liveliness", "/health/liveness", "/livez", "/health/readiness"}
)


class BodyTooLarge(Exception):
    pass


class RequestGuard:
    def __init__(self, app, *, max_body_bytes: int, saturation: Saturation, drain: Drain) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.saturation = saturation
        self.drain = drain

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] in UNGUARDED_PATHS:
            await self.app(scope, receive, send)
            return
        if self.drain.closing:
            await _refuse(send, scope, 503, "The gateway is shutting down.", "shutting_down", 5)
            return
        saturation = self.saturation
        if saturation.in_flight >= saturation.max_in_flight:
            await _refuse(
                send,
                scope,
                503,
                f"The gateway is at its limit of {saturation.max_in_flight} requests in flight "
                "(GATEWAY_MAX_IN_FLIGHT); retry shortly.",
                "overloaded",
                1,
            )
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit() or int(value) > self.max_body_bytes:
                    await self._too_large(send, scope)
                    return
                break
        limit = self.max_body_bytes
        received = 0
        started = False

        async def limited_receive():
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        saturation.in_flight += 1
        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if not started:
                await self._too_large(send, scope)
        finally:
            saturation.in_flight -= 1

    async def _too_large(self, send, scope) -> None:
        megabytes = self.max_body_bytes / (1024 * 1024)
        await _refuse(
            send,
            scope,
            413,
            f"Request body is larger than {megabytes:g} MB (GATEWAY_MAX_BODY_MB).",
            "request_too_large",
        )


async def _refuse(
    send, scope, status: int, message: str, code: str, retry_after: int | None = None
) -> None:
    body = orjson.dumps(error_body(status, message, code=code, shape=shape_of_path(scope["path"])))
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", b"%d" % len(body)),
        # The rest of a refused body is not read: the connection cannot be reused.
        (b"connection", b"close"),
    ]
    if retry_after is not None:
        headers.append((b"retry-after", b"%d" % retry_after))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
