"""Live figures per route from telemetry: the most recent attempts of each route within a time
window, read the same way by every instance that shares the database."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from gateway.rankings.score import LiveSignals
from gateway.telemetry.schema import attempts

# Outcomes that say the route worked or did not; a bad request, a cancelled or shut-down
# stream and a continuation of another route's answer say nothing about its availability.
_SUCCESSES = ("success", "continuation")
_FAILURES = ("rate_limited", "timeout", "server_error", "auth_error")


def route_signals(
    engine: Engine,
    routes: Iterable[str],
    *,
    window_samples: int = 50,
    window_seconds: float = 3600,
    now: datetime | None = None,
) -> dict[str, LiveSignals]:
    """Each route's last `window_samples` attempts within `window_seconds`."""
    routes = list(dict.fromkeys(routes))
    if not routes:
        return {}
    since = (now or datetime.now(UTC)) - timedelta(seconds=window_seconds)
    newest_first = func.row_number().over(
        partition_by=attempts.c.model, order_by=attempts.c.ts.desc()
    )
    recent = (
        select(
            attempts.c.model,
            attempts.c.outcome,
            attempts.c.ttft_ms,
            attempts.c.tokens_per_second,
            attempts.c.latency_ms,
            newest_first.label("newest"),
        )
        .where(attempts.c.ts >= since)
        .where(attempts.c.model.in_(routes))
        .where(attempts.c.outcome.in_(_SUCCESSES + _FAILURES))
        .subquery()
    )
    query = select(recent).where(recent.c.newest <= window_samples)
    with engine.connect() as connection:
        rows = connection.execute(query).all()
    by_route: dict[str, list] = {}
    for row in rows:
        by_route.setdefault(row.model, []).append(row)
    return {route: _signals(rows) for route, rows in by_route.items()}


def _signals(rows: list) -> LiveSignals:
    successes = [r for r in rows if r.outcome in _SUCCESSES]
    timed = [r for r in successes if r.ttft_ms is not None]
    speeds = [r.tokens_per_second for r in successes if r.tokens_per_second]
    return LiveSignals(
        samples=len(rows),
        successes=len(successes),
        timed=len(timed),
        ttft_seconds=_median([r.ttft_ms / 1000 for r in timed]),
        tokens_per_second=_median(speeds),
        latency_seconds=_median([r.latency_ms / 1000 for r in successes if r.latency_ms]),
    )


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None
