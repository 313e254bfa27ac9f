"""`GET /stats` (JSON) and `GET /stats?format=html` / `GET /stats/ui` (the dashboard).

The page is the same document rendered by `gateway.dashboard`; its script asks the same URL
with `fragment=1` every few seconds for the re-rendered sections. `refresh=N` sets the
interval in seconds (0: none)."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.api.common import gateway_state
from gateway.dashboard import CSP, render_main, render_page
from gateway.redact import redact
from gateway.state import GatewayState
from gateway.telemetry.stats import telemetry_summary
from gateway.telemetry.timeline import minute_timeline
from gateway.telemetry.writer import safe_url

REFRESH_SECONDS = 5
_PAGE_HEADERS = {
    "content-security-policy": CSP,
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}


async def stats(request: Request) -> Response:
    if request.query_params.get("format") == "html":
        return await stats_page(request)
    return JSONResponse(await build_stats(gateway_state(request)))


async def stats_page(request: Request) -> Response:
    document = await build_stats(gateway_state(request))
    if request.query_params.get("fragment"):
        return HTMLResponse(render_main(document), headers=_PAGE_HEADERS)
    try:
        refresh = min(3600, max(0, int(request.query_params.get("refresh", REFRESH_SECONDS))))
    except ValueError:
        refresh = REFRESH_SECONDS
    return HTMLResponse(render_page(document, refresh_seconds=refresh), headers=_PAGE_HEADERS)


async def build_stats(state: GatewayState) -> dict[str, Any]:
    telemetry = state.telemetry
    with contextlib.suppress(Exception):  # so the numbers include what was just answered
        await telemetry.flush()
    try:
        summary = await asyncio.to_thread(telemetry_summary, telemetry.engine)
        summary_error = None
    except Exception as exc:
        summary, summary_error = {"routes": {}, "virtual_models": {}}, redact(str(exc))[:300]
    try:  # the dashboard's per-minute charts
        timeline = await asyncio.to_thread(minute_timeline, telemetry.engine)
    except Exception as exc:
        timeline = {"error": redact(str(exc))[:300]}
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
    rankings = state.ranker.explain_all() if state.ranker is not None else {}
    answered_by = timeline.pop("answered_by", {})
    virtual_models = {
        chain.name: {
            "candidates": [c.ref for c in chain.candidates],
            "description": chain.description,
            "profile": chain.ordered_by,
            "served": summary["virtual_models"].get(chain.name, {}),
            "answered_by": _answered_by(
                (rankings.get(chain.name) or {}).get("order") or [],
                [c.ref for c in chain.candidates],
                answered_by.get(chain.name, {}),
            ),
        }
        for chain in state.catalog.virtual_models.values()
    }
    return {
        "generated_at": datetime.now(UTC).isoformat(),
        "providers": providers,
        "virtual_models": virtual_models,
        # Auto-ordered virtual models: the current order and why (gateway models --explain).
        "rankings": rankings,
        # The last hour minute by minute, per route and virtual model (the dashboard's charts).
        "timeline": timeline,
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


def _answered_by(
    order: list[str], listed: list[str], counts: dict[str, dict[str, int]]
) -> list[dict[str, Any]]:
    """Every candidate with its last hour's attempts and answers, in the order the chain tries
    them now (`position`: 1 is tried first; None: not tried, such as a candidate the ranking
    excludes or a route that answered before a config change)."""
    tried = order or listed
    routes = list(dict.fromkeys([*tried, *listed, *counts]))
    empty = {"attempts": 0, "answered": 0, "after_retry": 0}
    return [
        {
            "route": route,
            "position": tried.index(route) + 1 if route in tried else None,
            **counts.get(route, empty),
        }
        for route in routes
    ]


def _cooldown(entry: Any) -> dict[str, Any] | None:
    if entry is None:
        return None
    return {
        "until": datetime.fromtimestamp(entry.until, UTC).isoformat(),
        "reason": entry.reason,
    }


ROUTES = [("/stats", stats, "GET"), ("/stats/ui", stats_page, "GET")]
