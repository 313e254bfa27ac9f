"""Read recent telemetry back: what quota counters need after a restart."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select

from gateway.routing.quotas import UsageEvent
from gateway.telemetry.schema import attempts


def recent_usage(
    engine: Engine,
    since: datetime,
    *,
    until: datetime | None = None,
    models: list[str] | None = None,
) -> list[UsageEvent]:
    """Every upstream call since `since` (and before `until`, to routes in `models` when
    given), oldest first; each row is one call."""
    query = (
        select(
            attempts.c.provider,
            attempts.c.model,
            attempts.c.ts,
            attempts.c.input_tokens,
            attempts.c.output_tokens,
        )
        .where(attempts.c.ts >= since)
        .order_by(attempts.c.ts)
    )
    if until is not None:
        query = query.where(attempts.c.ts < until)
    if models is not None:
        query = query.where(attempts.c.model.in_(models))
    with engine.connect() as connection:
        return [
            UsageEvent(
                provider=row.provider,
                model=row.model,
                ts=as_utc(row.ts).timestamp(),
                tokens=(row.input_tokens or 0) + (row.output_tokens or 0),
            )
            for row in connection.execute(query)
        ]


def as_utc(ts: datetime) -> datetime:
    # SQLite hands back naive datetimes; the gateway only ever writes UTC.
    return ts if ts.tzinfo is not None else ts.replace(tzinfo=UTC)
