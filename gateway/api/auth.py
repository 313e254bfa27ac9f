"""`PROXY_API_KEY` enforcement for every route, LiteLLM's included, OPTIONS too (a real CORS
preflight from an allowed origin is answered before this, see gateway/api/cors.py).

A pure ASGI middleware so a missing or wrong key gets a clean 401 before LiteLLM's own auth
(which answers 400/500 without a database) ever runs.
"""

from __future__ import annotations

import hmac

import orjson

from gateway.api.errors import error_body, shape_of_path

# Liveness must answer without credentials (load balancers, `make run` health waits).
OPEN_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/livez", "/health/readiness"})


class APIKeyMiddleware:
    def __init__(self, app, api_key: str | None) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None

    async def __call__(self, scope, receive, send) -> None:
        if (
            self._key is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in OPEN_PATHS
        ):
            await self.app(scope, receive, send)
            return
        presented = _presented_key(scope["headers"])
        if presented is not None and hmac.compare_digest(presented, self._key):
            await self.app(scope, receive, send)
            return
        if scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
            return
        message = (
            "Missing API key: send 'Authorization: Bearer <PROXY_API_KEY>' (or 'x-api-key')."
            if presented is None
            else "Invalid API key."
        )
        shape = shape_of_path(scope["path"])
        body = orjson.dumps(error_body(401, message, code="invalid_api_key", shape=shape))
        await send(
            {
                "type": "http.response.start",
                "status": 401,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"www-authenticate", b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _presented_key(headers: list[tuple[bytes, bytes]]) -> bytes | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
        elif name in (b"x-api-key", b"api-key"):
            return value.strip()
    return None
