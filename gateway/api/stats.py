"""`GET /stats` (JSON) and `GET /stats?format=html` / `GET /stats/ui` (a plain page)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.api.common import gateway_state
from gateway.redact import redact
from gateway.state import GatewayState
from gateway.stats_view import render_html
from gateway.telemetry.stats import telemetry_summary
from gateway.telemetry.writer import safe_url


async def stats(request: Request) -> Response:
    document = await build_stats(gateway_state(request))
    if request.query_params.get("format") == "html":
        return HTMLResponse(render_html(document))
    return JSONResponse(document)


async def stats_page(request: Request) -> Response:
    return HTMLResponse(render_html(await build_stats(gateway_state(request))))


async def build_stats(state: GatewayState) -> dict[str, Any]:
    telemetry = state.telemetry
    with contextlib.suppress(Exception):  # so the numbers include what was just answered
        await telemetry.flush()
    try:
        summary = await asyncio.to_thread(telemetry_summary, telemetry.engine)
        summary_error = None
    except Exception as exc:
        summary, summary_error = {"routes": {}, "virtual_models": {}}, redact(str(exc))[:300]
    cooldowns = state.runner.cooldowns.snapshot()
    health = state.health.snapshot() if state.health else {}
    providers: dict[str, Any] = {}
    catalog = state.catalog
    for deployment in [*catalog.deployments.values(), *catalog.search_deployments]:
        provider = providers.setdefault(
            deployment.provider,
            {
                "type": deployment.provider_type.name,
                "usable": deployment.usable,
                "problem": deployment.problem,
                "health": health.get(deployment.provider),
                "cooldown": _cooldown(cooldowns.get(f"provider:{deployment.provider}")),
                "models": {},
            },
        )
        route = summary["routes"].get(deployment.id, {})
        provider["models"][deployment.id] = {
            "cooldown": _cooldown(cooldowns.get(deployment.id)),
            "quota": await state.quotas.snapshot(deployment.id),
            "hour": route.get("hour"),
            "day": route.get("day"),
            "last_error": route.get("last_error"),
        }
    virtual_models = {
        chain.name: {
            "candidates": [c.ref for c in chain.candidates],
            "served": summary["virtual_models"].get(chain.name, {}),
        }
        for chain in state.catalog.virtual_models.values()
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "providers": providers,
        "virtual_models": virtual_models,
        # Auto-ordered virtual models: the current order and why (gateway models --explain).
        "rankings": state.ranker.explain_all() if state.ranker is not None else {},
        "shared": (
            state.sharing.link.status()
            if state.sharing is not None
            else {"redis": None, "state": "off", "last_error": None}
        ),
        "telemetry": {
            "database": safe_url(telemetry.url),
            "written": telemetry.written,
            "pending": telemetry.pending,
            "dropped": telemetry.dropped,
            "last_error": telemetry.last_error or summary_error,
        },
    }


def _cooldown(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "until": datetime.fromtimestamp(entry.until, UTC).isoformat(),
        "reason": entry.reason,
    }


ROUTES = [("/stats", stats, "GET"), ("/stats/ui", stats_page, "GET")]
