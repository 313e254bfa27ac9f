"""`PROXY_API_KEY` enforcement for every route, LiteLLM's included, OPTIONS too (a real CORS
preflight from an allowed origin is answered before this, see gateway/api/cors.py).

A pure ASGI middleware so a missing or wrong key gets a clean 401 before LiteLLM's own auth
(which answers 400/500 without a database) ever runs. In LiteLLM's database mode
(`DATABASE_URL`, gateway/litellm_glue/keys.py) LiteLLM's own routes authenticate their callers
themselves (its admin UI's cookie and session keys), and a key other than `PROXY_API_KEY` on
the gateway's routes is checked by LiteLLM's key auth and rate limits.
"""

from __future__ import annotations

import base64
import hmac

import orjson

from gateway.api.errors import error_body, shape_of_path

# Liveness must answer without credentials (load balancers, `make run` health waits).
OPEN_PATHS = frozenset({"/health/liveliness", "/health/liveness", "/livez", "/health/readiness"})
# The dashboard and its JSON also take the key as HTTP Basic credentials (any user name, the
# key as password), and a 401 there asks a browser for them: the browser then resends them
# with the page's own refreshes, and the key never has to be put in a URL, where it would end
# up in logs and history. Only these read-only pages: a browser replays remembered
# credentials on cross-site requests too, which must never reach the model APIs.
DASHBOARD_PATHS = frozenset({"/stats", "/stats/ui"})
_BASIC_CHALLENGE = b'Basic realm="gateway dashboard", charset="UTF-8"'


class APIKeyMiddleware:
    def __init__(
        self, app, api_key: str | None, metrics_public: bool = False, litellm_keys=None
    ) -> None:
        self.app = app
        self._key = api_key.encode() if api_key else None
        # Database mode (gateway/litellm_glue/keys.py): LiteLLM's routes do their own auth,
        # and LiteLLM's virtual keys are checked by LiteLLM's pipeline on the gateway's routes.
        self._litellm = litellm_keys
        # GATEWAY_METRICS_PUBLIC: a Prometheus scraper may read /metrics without the key.
        self._open = OPEN_PATHS | {"/metrics"} if metrics_public else OPEN_PATHS

    async def __call__(self, scope, receive, send) -> None:
        if (
            self._key is None
            or scope["type"] not in ("http", "websocket")
            or scope["path"] in self._open
        ):
            await self.app(scope, receive, send)
            return
        if self._litellm is not None and self._litellm.owns(scope["path"]):
            await self.app(scope, receive, send)  # LiteLLM's admin routes check their callers
            return
        # The dashboard is read by browsers: they may send the key as HTTP Basic credentials.
        browser = scope["path"] in DASHBOARD_PATHS and scope.get("method") in ("GET", "HEAD")
        presented = _presented_key(scope["headers"], basic=browser)
        if presented is not None and hmac.compare_digest(presented, self._key):
            await self.app(scope, receive, send)
            return
        if (
            presented is not None
            and self._litellm is not None
            and self._litellm.active
            and scope["type"] == "http"
        ):  # another key: maybe a LiteLLM virtual key, which LiteLLM checks
            await self._litellm.serve(scope, receive, send, self.app, shape_of_path(scope["path"]))
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
                    (b"www-authenticate", _BASIC_CHALLENGE if browser else b"Bearer"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _presented_key(headers: list[tuple[bytes, bytes]], basic: bool = False) -> bytes | None:
    for name, value in headers:
        if name == b"authorization":
            scheme, _, token = value.partition(b" ")
            if scheme.lower() == b"bearer" and token.strip():
                return token.strip()
            if basic and scheme.lower() == b"basic":
                return _basic_key(token)
        elif name in (b"x-api-key", b"api-key"):
            return value.strip()
    return None


def _basic_key(token: bytes) -> bytes:
    """The key in HTTP Basic credentials: the password, whatever the user name (or the user
    name when the password is empty, as `curl -u KEY:` sends it)."""
    try:
        user, _, password = base64.b64decode(token.strip(), validate=True).partition(b":")
    except ValueError:
        return b""
    return password or user
