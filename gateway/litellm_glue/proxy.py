"""LiteLLM's proxy app, mounted behind the gateway's routes only for route groups a setting
opens (`GATEWAY_LITELLM_ROUTES`).

By default the proxy is not even imported: every model API is the gateway's own (chains,
quotas, failover, telemetry, masked errors), and LiteLLM's ~1,000 other routes stay closed.
An operator who wants LiteLLM's admin UI and management API opens `admin`; `all` opens every
LiteLLM route the gateway does not serve itself (its own model routes such as
`/engines/{model}/chat/completions` then bypass the chain: that is the point of naming it).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import orjson

from gateway.api.errors import error_body, shape_of_path
from gateway.api.routes import not_served
from gateway.redact import redact

log = logging.getLogger("gateway.litellm")

# LiteLLM's admin UI and the management API it calls (keys, users, teams, models, spend).
# Never `/health` (a deep health check sends real completions and spends free quota), nor
# `/prompts` (`/prompts/test` makes a model call around the chains).
ADMIN_PREFIXES = (
    "/ui",
    "/_next",
    "/litellm-asset-prefix",
    "/get_image",
    "/get_logo_url",
    "/get_favicon",
    "/sso/",
    "/login",
    "/v2/login",
    "/v3/login",
    "/logout",
    "/session/",
    "/management/v1/",  # the UI asks `/management/v1/users/me` right after logging in
    "/api/plugins",
    "/telemetry/",  # the UI's own event settings (LiteLLM's usage telemetry stays off)
    # LiteLLM's admin health pages: license, warnings, its DB/cache state; none calls a
    # provider (unlike `/health` itself).
    "/health/license",
    "/health/deployment_warnings",
    "/health/readiness/details",
    "/onboarding/",
    "/.well-known/litellm-ui-config",
    "/litellm/.well-known/litellm-ui-config",
    "/key/",
    "/user/",
    "/v2/user/",
    "/team/",
    "/v2/team/",
    "/project/",
    "/gateway/",  # the Usage page's activity
    "/organization/",
    "/customer/",
    "/end_user/",
    "/model/",
    "/v1/model/",
    "/v2/model/",
    "/model_group/",
    "/spend/",
    "/global/",
    "/budget/",
    "/credentials",
    "/config/",
    "/get/",
    "/guardrails",
    "/v2/guardrails",
    "/policies",
    "/vector_store/",  # its management; searching one is the closed `/v1/vector_stores`
    "/audit",
    "/tag/",
    "/public/",
    "/invitation/",
)
ROUTE_GROUPS: dict[str, tuple[str, ...]] = {"admin": ADMIN_PREFIXES, "all": ("/",)}

# LiteLLM's lists of logging callbacks; every Router call runs the success or failure
# handlers of what they hold.
_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


class UnknownRouteGroup(ValueError):
    pass


def route_prefixes(groups: Iterable[str]) -> tuple[str, ...]:
    prefixes: list[str] = []
    for group in groups:
        if group not in ROUTE_GROUPS:
            raise UnknownRouteGroup(
                f"GATEWAY_LITELLM_ROUTES: unknown route group {group!r} "
                f"(known: {', '.join(sorted(ROUTE_GROUPS))})"
            )
        prefixes.extend(ROUTE_GROUPS[group])
    return tuple(prefixes)


@dataclass(frozen=True)
class LiteLLMProxy:
    module: ModuleType

    @property
    def app(self):
        return self.module.app

    def drop_idle_hooks(self) -> list[str]:
        """Unregister the proxy's hooks that have nothing to act on; returns their names.

        LiteLLM's proxy registers hooks for its own request pipeline: per-key parallel-request
        and budget limits, per-key cache-control permissions, session limits, response-id
        encryption, skills, sensitive-data routing, prompt-cache prediction. They serve
        virtual keys and sessions, which exist only with a LiteLLM database; without one,
        every Router call would still run their success or failure handler. With a database
        (`DATABASE_URL`) they are all kept.
        """
        import litellm
        from litellm.proxy.hooks import PROXY_HOOKS
        from litellm.proxy.hooks.model_max_budget_limiter import (
            _PROXY_VirtualKeyModelMaxBudgetLimiter,
        )

        if self.module.prisma_client is not None:
            return []
        idle = (*PROXY_HOOKS.values(), _PROXY_VirtualKeyModelMaxBudgetLimiter)
        dropped: set[str] = set()
        for name in _CALLBACK_LISTS:
            callbacks = getattr(litellm, name)
            dropped.update(type(c).__name__ for c in callbacks if isinstance(c, idle))
            callbacks[:] = [c for c in callbacks if not isinstance(c, idle)]
        return sorted(dropped)


def load_proxy() -> LiteLLMProxy:
    """Import LiteLLM's proxy server (it reads `CONFIG_FILE_PATH` during its startup)."""
    import litellm
    import litellm.proxy.proxy_server as proxy_server

    litellm.suppress_debug_info = True
    return LiteLLMProxy(proxy_server)


class OpenedLiteLLMRoutes:
    """The gateway's fallback for paths none of its routes serves: LiteLLM's proxy for the
    opened groups' paths, a JSON 404 in the caller's shape for everything else.

    LiteLLM's own error answers (plain-text 500s when it lacks a database, tracebacks in
    messages) are rewritten into JSON with secrets masked, so no path of the gateway returns
    plain text or a key.
    """

    def __init__(self, proxy: LiteLLMProxy | None, prefixes: tuple[str, ...]) -> None:
        self.proxy = proxy
        self.prefixes = prefixes

    def serves(self, path: str) -> bool:
        return self.proxy is not None and path.startswith(self.prefixes)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "lifespan":
            return
        if not self.serves(scope["path"]):
            await not_served(scope, receive, send)
            return
        assert self.proxy is not None
        await self.proxy.app(scope, receive, _JsonErrors(scope, send))


class _JsonErrors:
    """An ASGI `send` that turns LiteLLM's non-JSON error responses into JSON errors and masks
    secrets in every error body."""

    def __init__(self, scope: dict[str, Any], send) -> None:
        self._scope = scope
        self._send = send
        self._start: dict[str, Any] | None = None
        self._body = b""

    async def __call__(self, message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            if message["status"] < 400:
                await self._send(message)
            else:
                self._start = message  # held until the whole error body is in
            return
        if message["type"] != "http.response.body" or self._start is None:
            await self._send(message)
            return
        self._body += message.get("body", b"")
        if message.get("more_body"):
            return
        status = self._start["status"]
        await self._send_error(status)

    async def _send_error(self, status: int) -> None:
        assert self._start is not None
        headers = [
            (name, value)
            for name, value in self._start.get("headers", [])
            if name.lower() not in (b"content-length", b"content-type")
        ]
        text = redact(self._body.decode("utf-8", errors="replace"))
        try:
            body = orjson.dumps(orjson.loads(text))
        except orjson.JSONDecodeError:
            message = " ".join(text.split())[:500] or f"LiteLLM answered {status}"
            body = orjson.dumps(
                error_body(
                    status,
                    f"LiteLLM: {message}",
                    code="litellm_error",
                    shape=shape_of_path(self._scope["path"]),
                )
            )
        headers += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
        await self._send({"type": "http.response.start", "status": status, "headers": headers})
        await self._send({"type": "http.response.body", "body": body})
