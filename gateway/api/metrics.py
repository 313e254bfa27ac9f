"""`GET /metrics`: the gateway's metrics in Prometheus' text format (see
gateway/telemetry/metrics.py for what is exposed). Behind `PROXY_API_KEY` like every route,
unless `GATEWAY_METRICS_PUBLIC` opens this one path (gateway/api/auth.py)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.common import gateway_state
from gateway.api.errors import APIError


async def metrics(request: Request) -> Response:
    state = gateway_state(request)
    if state.metrics is None:
        raise APIError(404, "Metrics are not collected by this gateway.", code="not_found")
    body, content_type = await state.metrics.exposition(state, request.headers.get("accept"))
    return Response(body, headers={"content-type": content_type, "cache-control": "no-store"})


ROUTES = [("/metrics", metrics, "GET")]
