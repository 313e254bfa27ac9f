"""Cross-origin access, off unless `GATEWAY_CORS_ORIGINS` lists the origins allowed.

With the default setup (no key, bound to 127.0.0.1) any web page the user opens could
otherwise spend their free quotas and read `/stats` from the browser. A preflight from an
allowed origin is answered here, without a key (browsers send none); every other OPTIONS
request goes on to the key check like any request.
"""

from __future__ import annotations

from collections.abc import Iterable

_EXPOSED = (
    b"x-gateway-request-id, x-gateway-served-by, x-gateway-attempt, x-gateway-candidate, "
    b"x-gateway-virtual-model, retry-after"
)
_PREFLIGHT_MAX_AGE = b"600"


class CORSMiddleware:
    def __init__(self, app, origins: Iterable[str]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/").encode() for o in origins if o != "*")

    def _allowed(self, origin: bytes | None) -> bool:
        return origin is not None and (self.any_origin or origin in self.origins)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        origin = requested_method = None
        for name, value in scope["headers"]:
            if name == b"origin":
                origin = value
            elif name == b"access-control-request-method":
                requested_method = value
        if not self._allowed(origin):
            await self.app(scope, receive, send)  # no CORS headers: the browser refuses
            return
        assert origin is not None
        if scope["method"] == "OPTIONS" and requested_method is not None:
            await self._preflight(scope, origin, send)
            return

        async def send_with_cors(message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"access-control-allow-origin", origin),
                    (b"access-control-expose-headers", _EXPOSED),
                    (b"vary", b"origin"),
                ]
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, send_with_cors)

    async def _preflight(self, scope, origin: bytes, send) -> None:
        requested_headers = next(
            (v for n, v in scope["headers"] if n == b"access-control-request-headers"), b""
        )
        headers = [
            (b"access-control-allow-origin", origin),
            (b"access-control-allow-methods", b"GET, POST, DELETE, OPTIONS"),
            (b"access-control-max-age", _PREFLIGHT_MAX_AGE),
            (b"vary", b"origin"),
            (b"content-length", b"0"),
        ]
        if requested_headers:
            headers.append((b"access-control-allow-headers", requested_headers))
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
