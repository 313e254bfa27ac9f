"""The last hour minute by minute, per route and per virtual model: what the dashboard
(`/stats/ui`) draws, and which candidate of each virtual model answered.

Everything is aggregated by the database: a range scan of the `ts` index, GROUP BY minute,
and the percentiles picked by window functions (`row_number()` / `count()` over each minute's
answered attempts), so an hour of a busy gateway comes back as a few hundred rows, not one
row per attempt. The same statements run on SQLite (3.25+) and PostgreSQL; only the
expression that turns `ts` into a minute number differs.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Engine,
    Integer,
    and_,
    case,
    cast,
    distinct,
    func,
    literal,
    select,
)

from gateway.telemetry.schema import attempts

MINUTES = 60
_ANSWERED = ("success", "continuation")
# Per minute: how many, how many answered, then the percentiles of answered attempts.
COUNTS = ("requests", "successes")
PERCENTILES = ("latency_p50", "latency_p95", "ttft_p50", "ttft_p95")


def minute_timeline(
    engine: Engine, now: datetime | None = None, minutes: int = MINUTES
) -> dict[str, Any]:
    """Per route and per virtual model, one value per minute of the last `minutes` (the
    current, unfinished minute last): `requests` (routes: attempts; virtual models: client
    requests), `successes`, latency and TTFT p50/p95 of the answered attempts in ms (None for
    a minute without any), and for virtual models `after_retry` (requests answered by a call
    that was not their first: after a fallback, a same-route retry or a continuation).
    `totals`: the same figures over the whole span, one number each. `answered_by`: per
    virtual model and route over the whole span, attempts, answers, and answers that were
    not the request's first call."""
    now = now or datetime.now(UTC)
    current = int(now.timestamp() // 60)
    first = current - minutes + 1
    since = datetime.fromtimestamp(first * 60, UTC)
    minute = _minute(engine.dialect.name)
    whole = literal(0, Integer)  # one bucket for the whole span: the totals
    with engine.connect() as connection:
        route_rows = connection.execute(_series_query(attempts.c.model, minute, since)).all()
        route_totals = connection.execute(_series_query(attempts.c.model, whole, since)).all()
        virtual = attempts.c.virtual_model
        virtual_rows = connection.execute(
            _series_query(virtual, minute, since, per_request=True)
        ).all()
        virtual_totals = connection.execute(
            _series_query(virtual, whole, since, per_request=True)
        ).all()
        served_rows = connection.execute(_answered_by_query(since)).all()
    answered_by: dict[str, dict[str, dict[str, int]]] = {}
    for row in served_rows:
        answered_by.setdefault(row.virtual_model, {})[row.model] = {
            "attempts": int(row.attempts),
            "answered": int(row.answered or 0),
            "after_retry": int(row.after_retry or 0),
        }
    return {
        "start": since.isoformat(),
        "minutes": minutes,
        "bucket_seconds": 60,
        "routes": _spread(route_rows, first, minutes),
        "virtual_models": _spread(virtual_rows, first, minutes, extra=("after_retry",)),
        "totals": {
            "routes": _whole(_spread(route_totals, 0, 1)),
            "virtual_models": _whole(_spread(virtual_totals, 0, 1, extra=("after_retry",))),
        },
        "answered_by": answered_by,
    }


def _minute(dialect: str) -> ColumnElement[int]:
    """Minutes since the epoch of an attempt's `ts` (UTC)."""
    if dialect == "sqlite":  # SQLAlchemy stores naive UTC text: 'YYYY-MM-DD HH:MM:SS.ffffff'
        return cast(func.strftime("%s", attempts.c.ts), Integer) // 60
    if dialect == "postgresql":
        return cast(func.floor(func.extract("epoch", attempts.c.ts) / 60), Integer)
    raise NotImplementedError(f"per-minute telemetry needs SQLite or PostgreSQL, not {dialect}")


def _series_query(key: Any, minute: ColumnElement[int], since: datetime, per_request=False):
    answered = case((attempts.c.outcome.in_(_ANSWERED), 1), else_=0)
    base = (
        select(
            minute.label("minute"),
            key.label("key"),
            attempts.c.request_id,
            attempts.c.attempt,
            answered.label("answered"),
            attempts.c.latency_ms,
            attempts.c.ttft_ms,
        )
        .where(attempts.c.ts >= since)
        .where(key.is_not(None))
        .subquery()
    )
    group = [base.c.minute, base.c.key, base.c.answered]
    ranked = select(
        base,
        *_ranks(base.c.latency_ms, group, "lat"),
        *_ranks(base.c.ttft_ms, group, "ttft"),
    ).subquery()
    is_answered = ranked.c.answered == 1
    if per_request:  # a request with several attempts is one request of its virtual model
        requests = func.count(distinct(ranked.c.request_id))
        successes = func.count(distinct(case((is_answered, ranked.c.request_id))))
    else:
        requests, successes = func.count(), func.sum(ranked.c.answered)
    columns = [requests.label("requests"), successes.label("successes")]
    for name, column, prefix in (
        ("latency", ranked.c.latency_ms, "lat"),
        ("ttft", ranked.c.ttft_ms, "ttft"),
    ):
        for q in (50, 95):
            columns.append(_pick(ranked, column, prefix, q, is_answered).label(f"{name}_p{q}"))
    if per_request:
        after_retry = case((and_(is_answered, ranked.c.attempt > 1), ranked.c.request_id))
        columns.append(func.count(distinct(after_retry)).label("after_retry"))
    return (
        select(ranked.c.minute, ranked.c.key, *columns)
        .group_by(ranked.c.minute, ranked.c.key)
        .order_by(ranked.c.key, ranked.c.minute)
    )


def _ranks(column: Any, group: list[Any], prefix: str) -> list[Any]:
    """Each row's rank by `column` within its minute (NULLs last on every database) and how
    many rows of that minute have a value."""
    order = [column.is_(None), column]
    return [
        func.row_number().over(partition_by=group, order_by=order).label(f"{prefix}_rank"),
        func.count(column).over(partition_by=group).label(f"{prefix}_n"),
    ]


def _pick(ranked: Any, column: Any, prefix: str, q: int, answered: Any) -> Any:
    """The q-th percentile as `gateway.telemetry.stats` picks it: sorted[int(q/100 * n)],
    1-based rank n*q/100 + 1 in integer arithmetic (the same on both databases)."""
    rank, count = ranked.c[f"{prefix}_rank"], ranked.c[f"{prefix}_n"]
    chosen = and_(answered, column.is_not(None), rank == count * q // 100 + 1)
    return func.max(case((chosen, column)))


def _answered_by_query(since: datetime):
    answered = attempts.c.outcome.in_(_ANSWERED)
    return (
        select(
            attempts.c.virtual_model,
            attempts.c.model,
            func.count().label("attempts"),
            func.sum(case((answered, 1), else_=0)).label("answered"),
            func.sum(case((and_(answered, attempts.c.attempt > 1), 1), else_=0)).label(
                "after_retry"
            ),
        )
        .where(attempts.c.ts >= since)
        .where(attempts.c.virtual_model.is_not(None))
        .group_by(attempts.c.virtual_model, attempts.c.model)
    )


def _spread(
    rows: list[Any], first: int, minutes: int, extra: tuple[str, ...] = ()
) -> dict[str, dict[str, list[Any]]]:
    """Rows of (minute, key, figures...) as one dense list per figure and key."""
    series: dict[str, dict[str, list[Any]]] = {}
    names = (*COUNTS, *PERCENTILES, *extra)
    for row in rows:
        index = int(row.minute) - first
        if not 0 <= index < minutes:
            continue  # a clock step between the two reads; never seen in one query
        figures = series.get(row.key)
        if figures is None:
            figures = series[row.key] = {
                name: [0 if name in COUNTS or name in extra else None] * minutes for name in names
            }
        for name in names:
            value = getattr(row, name)
            if name in PERCENTILES:
                figures[name][index] = None if value is None else round(float(value), 1)
            else:
                figures[name][index] = int(value or 0)
    return series


def _whole(series: dict[str, dict[str, list[Any]]]) -> dict[str, dict[str, Any]]:
    """One-bucket series as plain numbers."""
    return {
        key: {name: values[0] for name, values in figures.items()}
        for key, figures in series.items()
    }
