"""The gateway's route table, and the JSON answers for everything it does not serve.

Routes are plain Starlette routes (no FastAPI dependency solving on the hot path), each
wrapped so that any failure becomes a JSON error in the caller's API shape instead of a bare
500; a path no route serves gets a JSON 404, a wrong method a JSON 405.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.api import (
    chat,
    completions,
    embeddings,
    health,
    messages,
    metrics,
    models,
    responses,
    search,
    stats,
)
from gateway.api.errors import APIError, ApiShape, error_body, error_response, shape_of_path
from gateway.api.guard import BodyTooLarge

log = logging.getLogger("gateway.api")

Endpoint = Callable[[Request], Awaitable[Response]]

INTERNAL_ERROR = "Internal gateway error; see the gateway log."


def _guarded(endpoint: Endpoint, shape: ApiShape) -> Endpoint:
    async def guarded(request: Request) -> Response:
        try:
            return await endpoint(request)
        except APIError as exc:
            return error_response(exc, shape)
        except BodyTooLarge:
            raise  # answered by the guard, which knows the limit
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return error_response(APIError(500, INTERNAL_ERROR, code="internal_error"), shape)

    guarded.__name__ = endpoint.__name__
    return guarded


def gateway_routes() -> list[Route]:
    table = (
        *chat.ROUTES,
        *responses.ROUTES,
        *messages.ROUTES,
        *completions.ROUTES,
        *embeddings.ROUTES,
        *models.ROUTES,
        *search.ROUTES,
        *stats.ROUTES,
        *metrics.ROUTES,
        *health.ROUTES,
    )
    return [
        Route(path, _guarded(endpoint, shape_of_path(path)), methods=[method])
        for path, endpoint, method in table
    ]


def json_error(status: int, message: str, path: str, code: str) -> Response:
    return Response(
        orjson.dumps(error_body(status, message, code=code, shape=shape_of_path(path))),
        status_code=status,
        media_type="application/json",
    )


async def http_exception(request: Request, exc: Exception) -> Response:
    """Starlette's own 404/405 (and any HTTPException) as JSON in the caller's shape."""
    assert isinstance(exc, HTTPException)
    path = request.url.path
    if exc.status_code == 405:
        message = f"{request.method} is not allowed on {path}."
        return json_error(405, message, path, "method_not_allowed")
    return json_error(exc.status_code, str(exc.detail), path, "http_error")


async def unhandled_exception(request: Request, exc: Exception) -> Response:
    """Last resort for an exception that escaped every route (middleware included)."""
    log.error("unhandled error in %s %s", request.method, request.url.path, exc_info=exc)
    return json_error(500, INTERNAL_ERROR, request.url.path, "internal_error")


EXCEPTION_HANDLERS = {HTTPException: http_exception, Exception: unhandled_exception}


async def not_served(scope, receive, send) -> None:
    """A JSON 404 for a path no route serves (LiteLLM's routes included while closed)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close", "code": 1008})
        return
    if scope["type"] != "http":
        return
    path = scope.get("path", "")
    message = (
        f"No such endpoint: {scope.get('method', '')} {path}. The gateway serves the model "
        "APIs (/v1/chat/completions, /v1/responses, /v1/messages, /v1/completions, "
        "/v1/embeddings), /v1/models, /v1/search and /stats; LiteLLM's other routes are "
        "closed unless GATEWAY_LITELLM_ROUTES opens them."
    )
    body = orjson.dumps(error_body(404, message, code="not_found", shape=shape_of_path(path)))
    await send(
        {
            "type": "http.response.start",
            "status": 404,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", b"%d" % len(body)),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
