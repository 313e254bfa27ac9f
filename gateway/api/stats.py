"""`GET /stats` (JSON) and `GET /stats?format=html` / `GET /stats/ui` (a plain page)."""

from __future__ import annotations

import asyncio
import contextlib
import html
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response

from gateway.api.common import gateway_state
from gateway.redact import redact
from gateway.state import GatewayState
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
    for deployment in state.catalog.deployments.values():
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
            "quota": state.quotas.usage(deployment.id),
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


# -- HTML -----------------------------------------------------------------------------------
_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5rem;color:#222}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}
th,td{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}.bad{color:#a00}.ok{color:#070}
"""


def render_html(doc: dict[str, Any]) -> str:
    e = html.escape
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>Gateway stats</title>",
        f"<style>{_STYLE}</style></head><body><h1>Gateway stats</h1>",
        f"<p>Generated {e(doc['generated_at'])}. Telemetry: {e(doc['telemetry']['database'])}, "
        f"{doc['telemetry']['written']} rows written, {doc['telemetry']['pending']} pending.</p>",
        "<h2>Routes</h2><table><tr><th>route</th><th>status</th><th>quota</th>"
        "<th>requests h / d</th><th>success h / d</th><th>p50 / p95 ms (day)</th>"
        "<th>TTFT p50 ms</th><th>tok/s</th><th>last error</th></tr>",
    ]
    for provider in doc["providers"].values():
        for route, model in provider["models"].items():
            hour, day = model["hour"] or {}, model["day"] or {}
            status = _status(provider, model)
            quota = "; ".join(
                ", ".join(f"{w} {c['used']}/{c['limit']}" for w, c in windows.items() if c["limit"])
                for windows in model["quota"].values()
            )
            last = model["last_error"] or {}
            last_text = f"{last.get('outcome', '')} {last.get('message') or ''}"[:200]
            css = "ok" if status == "ok" else "bad"
            parts.append(
                "<tr>"
                f"<td>{e(route)}</td><td class='{css}'>{e(status)}</td>"
                f"<td>{e(quota) or '-'}</td>"
                f"<td>{hour.get('requests', 0)} / {day.get('requests', 0)}</td>"
                f"<td>{_rate(hour)} / {_rate(day)}</td>"
                f"<td>{_pair(day.get('latency_ms'))}</td>"
                f"<td>{_num((day.get('ttft_ms') or {}).get('p50'))}</td>"
                f"<td>{_num(day.get('tokens_per_second'))}</td>"
                f"<td>{e(last_text)}</td>"
                "</tr>"
            )
    parts.append("</table><h2>Virtual models: who answered</h2><table>")
    parts.append("<tr><th>virtual model</th><th>last hour</th><th>last day</th></tr>")
    for name, virtual in doc["virtual_models"].items():
        served = virtual["served"]
        parts.append(
            f"<tr><td>{e(name)}</td><td>{_counts(served.get('hour'))}</td>"
            f"<td>{_counts(served.get('day'))}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "".join(parts)


def _status(provider: dict[str, Any], model: dict[str, Any]) -> str:
    if not provider["usable"]:
        return f"unusable: {provider['problem']}"
    cooldown = model["cooldown"] or provider["cooldown"]
    if cooldown:
        return f"cooling down until {cooldown['until']} ({cooldown['reason']})"
    health = provider.get("health") or {}
    if health.get("status") == "down":
        return f"down: {health.get('detail')}"
    return "ok"


def _rate(window: dict[str, Any]) -> str:
    rate = window.get("success_rate")
    return "-" if rate is None else f"{rate:.0%}"


def _pair(values: dict[str, Any] | None) -> str:
    values = values or {}
    return f"{_num(values.get('p50'))} / {_num(values.get('p95'))}"


def _num(value: Any) -> str:
    return "-" if value is None else f"{value:g}"


def _counts(counts: dict[str, int] | None) -> str:
    if not counts:
        return "-"
    return "<br>".join(f"{html.escape(route)}: {n}" for route, n in counts.items())


ROUTES = [("/stats", stats, "GET"), ("/stats/ui", stats_page, "GET")]
