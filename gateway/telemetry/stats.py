"""Aggregate telemetry into the numbers `/stats` and `gateway stats` show."""

from __future__ import annotations

import statistics
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from gateway.telemetry.history import as_utc
from gateway.telemetry.schema import attempts

WINDOWS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
_ANSWERED = ("success", "continuation")


def telemetry_summary(engine: Engine, now: datetime | None = None) -> dict[str, Any]:
    """Per route and per virtual model, over the last hour and day."""
    now = now or datetime.now(UTC)
    rows = _rows_since(engine, now - WINDOWS["day"])
    routes: dict[str, dict[str, Any]] = defaultdict(dict)
    served: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for window, span in WINDOWS.items():
        recent = [r for r in rows if as_utc(r["ts"]) >= now - span]
        for route, route_rows in _group(recent).items():
            routes[route][window] = _window(route_rows)
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for row in recent:
            if row["virtual_model"] and row["outcome"] in _ANSWERED:
                counts[row["virtual_model"]][row["model"]] += 1
        for virtual, per_route in counts.items():
            served[virtual][window] = dict(sorted(per_route.items(), key=lambda kv: -kv[1]))
    for route, route_rows in _group(rows).items():
        failures = [r for r in route_rows if r["outcome"] not in _ANSWERED]
        if failures:
            last = failures[-1]
            routes[route]["last_error"] = {
                "at": as_utc(last["ts"]).isoformat(),
                "outcome": last["outcome"],
                "status": last["http_status"],
                "message": last["error_message"],
            }
    return {"routes": dict(routes), "virtual_models": dict(served)}


def _rows_since(engine: Engine, since: datetime) -> list[dict[str, Any]]:
    query = select(attempts).where(attempts.c.ts >= since).order_by(attempts.c.ts)
    with engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query)]


def _group(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[row["model"]].append(row)
    return grouped


def _window(rows: list[dict[str, Any]]) -> dict[str, Any]:
    answered = [r for r in rows if r["outcome"] in _ANSWERED]
    outcomes: dict[str, int] = defaultdict(int)
    for row in rows:
        outcomes[row["outcome"]] += 1
    speeds = [r["tokens_per_second"] for r in answered if r["tokens_per_second"]]
    return {
        "requests": len(rows),
        "successes": len(answered),
        "success_rate": round(len(answered) / len(rows), 4) if rows else None,
        "outcomes": dict(outcomes),
        "latency_ms": _percentiles([r["latency_ms"] for r in answered]),
        "ttft_ms": _percentiles([r["ttft_ms"] for r in answered if r["ttft_ms"] is not None]),
        "tokens_per_second": round(statistics.fmean(speeds), 2) if speeds else None,
        "input_tokens": sum(r["input_tokens"] or 0 for r in rows),
        "output_tokens": sum(r["output_tokens"] or 0 for r in rows),
    }


def _percentiles(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"p50": None, "p95": None}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)

    return {"p50": pick(0.5), "p95": pick(0.95)}
