"""`GET /v1/models`: virtual models first (with descriptions), then usable direct models."""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse

from gateway.api.common import gateway_state

_CREATED = int(time.time())


async def list_models(request: Request) -> JSONResponse:
    catalog = gateway_state(request).catalog
    data: list[dict[str, object]] = []
    for chain in catalog.virtual_models.values():
        usable = [c.ref for c in chain.candidates if c.usable]
        data.append(
            {
                "id": chain.name,
                "object": "model",
                "created": _CREATED,
                "owned_by": "gateway",
                "description": chain.description,
                "candidates": [c.ref for c in chain.candidates],
                "usable_candidates": usable,
            }
        )
    for deployment in catalog.usable_deployments:
        entry: dict[str, object] = {
            "id": deployment.id,
            "object": "model",
            "created": _CREATED,
            "owned_by": deployment.provider,
        }
        if deployment.context_window:
            entry["context_window"] = deployment.context_window
        data.append(entry)
    return JSONResponse({"object": "list", "data": data})


ROUTES = [("/v1/models", list_models, "GET"), ("/models", list_models, "GET")]
