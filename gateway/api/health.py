"""Liveness and readiness probes, and the root path: cheap answers that never call a
provider (LiteLLM's `/health` sends real completions and spends free quota; the gateway has
no such route)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway import __version__
from gateway.api.common import gateway_state


async def liveness(request: Request) -> Response:
    return JSONResponse({"status": "alive"})


async def readiness(request: Request) -> Response:
    """Ready once started; says which chat models can answer at all (keys set, enabled)."""
    catalog = gateway_state(request).catalog
    usable = sum(1 for d in catalog.usable_deployments if d.mode == "chat")
    return JSONResponse({"status": "ready", "usable_chat_models": usable})


async def root(request: Request) -> Response:
    return JSONResponse(
        {
            "name": "free-llm-gateway",
            "version": __version__,
            "endpoints": [
                "/v1/chat/completions",
                "/v1/responses",
                "/v1/messages",
                "/v1/completions",
                "/v1/embeddings",
                "/v1/models",
                "/v1/search",
                "/stats",
                "/metrics",
            ],
        }
    )


# Probes answer without a key (gateway/api/auth.py OPEN_PATHS); Starlette answers HEAD too.
ROUTES = [
    ("/health/liveliness", liveness, "GET"),
    ("/health/liveness", liveness, "GET"),
    ("/livez", liveness, "GET"),
    ("/health/readiness", readiness, "GET"),
    ("/", root, "GET"),
]
