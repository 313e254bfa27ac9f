"""Batched, retrying telemetry writes that never block or fail a request.

`record()` only appends to an in-memory queue. A background task drains it in batches through
a synchronous SQLAlchemy engine in a worker thread (SQLite needs no async driver that way,
and PostgreSQL works by URL). A database that is down or locked keeps its batch queued and is
retried with backoff; only if the queue overflows (`max_queue` rows) are the oldest rows
dropped, and that is logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, create_engine, delete, event

from gateway.redact import hide_password, redact
from gateway.tasks import stop_task
from gateway.telemetry.records import AttemptRecord
from gateway.telemetry.schema import attempts, metadata

log = logging.getLogger("gateway.telemetry")

_MAX_BACKOFF_SECONDS = 30.0
_CLEANUP_INTERVAL_SECONDS = 3600.0


def database_url(url: str | None, data_dir: Path) -> str:
    """`GATEWAY_DB_URL`, or a SQLite file under the data directory. Plain `postgresql://` URLs
    get the psycopg 3 driver the gateway ships with."""
    if not url:
        data_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{data_dir / 'telemetry.db'}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    engine = create_engine(url, pool_pre_ping=True)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(connection, _record) -> None:
            cursor = connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA busy_timeout=2000")
            cursor.close()

    return engine


def safe_url(url: str) -> str:
    """The URL for logs: password hidden."""
    return hide_password(url)


class TelemetryWriter:
    def __init__(
        self,
        url: str,
        *,
        retention_days: int = 32,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        max_queue: int = 100_000,
    ) -> None:
        self.url = url
        self.retention_days = retention_days
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self._queue: deque[dict[str, object]] = deque()
        self._max_queue = max_queue
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._engine: Engine | None = None
        self._schema_ready = False
        self.dropped = 0
        self.written = 0
        self.last_error: str | None = None

    # -- request path ---------------------------------------------------------------------
    def record(self, record: AttemptRecord) -> None:
        """Queue one row; never blocks and never raises."""
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.dropped += 1
            if self.dropped in (1, 100) or self.dropped % 10_000 == 0:
                log.error("telemetry queue full: %d oldest rows dropped so far", self.dropped)
        self._queue.append(record.as_row())
        if len(self._queue) >= self.batch_size:
            self._wakeup.set()

    @property
    def pending(self) -> int:
        return len(self._queue)

    # -- lifecycle ------------------------------------------------------------------------
    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="telemetry")

    async def close(self, timeout: float = 5.0) -> None:
        """Flush what is queued (bounded by `timeout`), then stop."""
        await stop_task(self._task)
        self._task = None
        with contextlib.suppress(Exception, TimeoutError):
            await asyncio.wait_for(self.flush(), timeout)
        if self._engine is not None:
            self._engine.dispose()

    async def flush(self) -> None:
        """Write everything queued now (raises if the database refuses)."""
        while self._queue:
            await self._write_batch()

    # -- background -----------------------------------------------------------------------
    async def _run(self) -> None:
        backoff = 0.5
        next_cleanup = 0.0
        loop = asyncio.get_running_loop()
        first = True
        while True:
            if not first:  # the schema is created at once, the rows in batches
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self.flush_interval)
            first = False
            self._wakeup.clear()
            try:
                await asyncio.to_thread(self._engine_ready)
                await self.flush()
                if loop.time() >= next_cleanup:
                    await asyncio.to_thread(self._delete_expired)
                    next_cleanup = loop.time() + _CLEANUP_INTERVAL_SECONDS
                backoff = 0.5
            except Exception as exc:
                self.last_error = redact(f"{type(exc).__name__}: {exc}")[:500]
                log.warning(
                    "telemetry: database %s unavailable (%s); %d rows kept, retrying in %.0fs",
                    safe_url(self.url),
                    self.last_error,
                    len(self._queue),
                    backoff,
                )
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, _MAX_BACKOFF_SECONDS)

    async def _write_batch(self) -> None:
        batch = [self._queue.popleft() for _ in range(min(self.batch_size, len(self._queue)))]
        try:
            await asyncio.to_thread(self._insert, batch)
        except BaseException:
            # Back to the front, oldest first, within the queue's bound.
            room = max(0, self._max_queue - len(self._queue))
            self.dropped += len(batch) - min(room, len(batch))
            self._queue.extendleft(reversed(batch[len(batch) - min(room, len(batch)) :]))
            raise
        self.written += len(batch)
        self.last_error = None

    @property
    def engine(self) -> Engine:
        """The writer's engine, schema created (raises if the database is unreachable)."""
        return self._engine_ready()

    def _engine_ready(self) -> Engine:
        if self._engine is None:
            self._engine = make_engine(self.url)
        if not self._schema_ready:
            metadata.create_all(self._engine)
            self._schema_ready = True
        return self._engine

    def _insert(self, rows: list[dict[str, object]]) -> None:
        with self._engine_ready().begin() as connection:
            connection.execute(attempts.insert(), rows)

    def _delete_expired(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        with self._engine_ready().begin() as connection:
            result = connection.execute(delete(attempts).where(attempts.c.ts < cutoff))
        if result.rowcount:
            log.info(
                "telemetry: deleted %d rows older than %d days",
                result.rowcount,
                self.retention_days,
            )
