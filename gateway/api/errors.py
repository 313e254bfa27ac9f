"""Error bodies in the caller's API shape.

OpenAI's clients read `{"error": {"message", "type", "param", "code"}}`; Anthropic's read
`{"type": "error", "error": {"type", "message"}}`. Which one a caller speaks follows from the
path it called (`/v1/messages...` is Anthropic's), so every error on every route, the 404 of a
path nobody serves included, comes back in a shape the caller's SDK can parse.
"""

from __future__ import annotations

import math
from enum import StrEnum
from typing import Any

import orjson
from starlette.responses import Response


class ApiShape(StrEnum):
    OPENAI = "openai"
    ANTHROPIC = "anthropic"


_ANTHROPIC_PATHS = ("/v1/messages", "/messages", "/anthropic/")


def shape_of_path(path: str) -> ApiShape:
    return ApiShape.ANTHROPIC if path.startswith(_ANTHROPIC_PATHS) else ApiShape.OPENAI


_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    503: "service_unavailable",
}
# https://docs.anthropic.com/en/api/errors
_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


def error_type(status: int, shape: ApiShape = ApiShape.OPENAI) -> str:
    if shape is ApiShape.ANTHROPIC:
        return _ANTHROPIC_TYPES.get(
            status, "api_error" if status >= 500 else "invalid_request_error"
        )
    return _OPENAI_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


class APIError(Exception):
    """Raised by route code; rendered by `error_response` in the caller's shape."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.param = param
        self.extra = extra or {}
        self.headers = headers or {}


def error_body(
    status: int,
    message: str,
    *,
    code: str | None = None,
    param: str | None = None,
    extra: dict[str, Any] | None = None,
    shape: ApiShape = ApiShape.OPENAI,
) -> dict[str, Any]:
    if shape is ApiShape.ANTHROPIC:
        # Anthropic's error has no code or param; the gateway's code stays as an extra field
        # (SDKs ignore it, people reading a log do not).
        error: dict[str, Any] = {"type": error_type(status, shape), "message": message}
        if code:
            error["code"] = code
        if extra:
            error.update(extra)
        return {"type": "error", "error": error}
    body: dict[str, Any] = {
        "message": message,
        "type": error_type(status, shape),
        "param": param,
        "code": code,
    }
    if extra:
        body.update(extra)
    return {"error": body}


def error_response(exc: APIError, shape: ApiShape = ApiShape.OPENAI) -> Response:
    body = error_body(
        exc.status, exc.message, code=exc.code, param=exc.param, extra=exc.extra, shape=shape
    )
    return Response(
        orjson.dumps(body),
        status_code=exc.status,
        media_type="application/json",
        headers=exc.headers,
    )


def retry_after_header(seconds: float | None) -> dict[str, str]:
    if seconds is None:
        return {}
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
