"""Our routes as plain Starlette routes (no FastAPI dependency solving on the hot path), each
wrapped so that any failure becomes an OpenAI-style JSON error instead of a bare 500."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api import chat, models, responses, search, stats
from gateway.api.errors import APIError, error_response

log = logging.getLogger("gateway.api")

Endpoint = Callable[[Request], Awaitable[Response]]


def _guarded(endpoint: Endpoint) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except APIError as exc:
            return error_response(exc)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return error_response(
                APIError(500, "Internal gateway error; see the gateway log.", code="internal_error")
            )

    guarded.__name__ = endpoint.__name__
    return guarded


def gateway_routes() -> list[Route]:
    return [
        Route(path, _guarded(endpoint), methods=[method])
        for path, endpoint, method in (
            *chat.ROUTES,
            *responses.ROUTES,
            *models.ROUTES,
            *search.ROUTES,
            *stats.ROUTES,
        )
    ]
