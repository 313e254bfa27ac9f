"""Stored Responses API responses, so `previous_response_id` and `item_reference` work.

A response whose request did not say `store: false` is kept in the telemetry database for
`GATEWAY_RESPONSES_RETENTION_DAYS` (default 30, OpenAI's own period; 0 keeps nothing): its
own request's input items, its response object, and each output item by id. A conversation
is rebuilt by following `previous_response_id` links, so each turn is stored once.

Writes happen off the request path, in a worker thread; until one is in the database the
response is served from memory, so a client's next turn, sent the moment a stream ends,
always finds it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, delete, select

from gateway.redact import redact
from gateway.telemetry.schema import response_items, responses

log = logging.getLogger("gateway.responses.store")

MAX_PENDING = 200  # responses held in memory while the database cannot take them
MAX_CHAIN = 1000  # turns followed back through previous_response_id
_PURGE_INTERVAL_SECONDS = 3600.0


class ResponseNotFound(LookupError):
    pass


@dataclass(frozen=True)
class StoredResponse:
    id: str
    previous_response_id: str | None
    input_items: list[dict[str, Any]]
    response: dict[str, Any]

    @property
    def output(self) -> list[dict[str, Any]]:
        return list(self.response.get("output") or [])


class ResponseStore:
    def __init__(self, engine: Engine | Any, retention_days: float = 30) -> None:
        """`engine`: an SQLAlchemy engine, or an object whose `.engine` is one (the telemetry
        writer, which creates the schema on first use)."""
        self._engine_source = engine
        self.retention_days = retention_days
        self._pending: OrderedDict[str, StoredResponse] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writing = asyncio.Lock()  # one writer at a time: each pending row once
        self._next_purge = 0.0

    @property
    def enabled(self) -> bool:
        return self.retention_days > 0

    def _engine(self) -> Engine:
        source = self._engine_source
        return source if isinstance(source, Engine) else source.engine

    # -- writes ----------------------------------------------------------------------------

    def save(
        self,
        response: dict[str, Any],
        input_items: list[dict[str, Any]],
        previous_response_id: str | None,
    ) -> None:
        """Keep a finished response; returns at once (the write runs in a worker thread)."""
        stored = StoredResponse(response["id"], previous_response_id, input_items, response)
        self._pending[stored.id] = stored
        while len(self._pending) > MAX_PENDING:
            dropped, _ = self._pending.popitem(last=False)
            log.error("responses store: database unavailable, response %s not kept", dropped)
        task = asyncio.get_running_loop().create_task(self._write_pending())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_pending(self) -> None:
        async with self._writing:
            await self._write_all()

    async def _write_all(self) -> None:
        for stored in list(self._pending.values()):
            try:
                await asyncio.to_thread(self._insert, stored)
            except Exception as exc:
                log.warning(
                    "responses store: could not write %s (%s); kept in memory",
                    stored.id,
                    redact(f"{type(exc).__name__}: {exc}")[:300],
                )
                return
            self._pending.pop(stored.id, None)
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + _PURGE_INTERVAL_SECONDS
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self._delete_expired)

    def _insert(self, stored: StoredResponse) -> None:
        now = datetime.now(UTC)
        items = [
            {"id": item["id"], "response_id": stored.id, "created_at": now, "item": _dump(item)}
            for item in stored.output
            if isinstance(item.get("id"), str)
        ]
        with self._engine().begin() as connection:
            connection.execute(
                responses.insert(),
                [
                    {
                        "id": stored.id,
                        "created_at": now,
                        "previous_response_id": stored.previous_response_id,
                        "input_items": _dump(stored.input_items),
                        "response": _dump(stored.response),
                    }
                ],
            )
            if items:
                connection.execute(response_items.insert(), items)

    def _delete_expired(self) -> None:
        cutoff = datetime.now(UTC) - timedelta(days=self.retention_days)
        with self._engine().begin() as connection:
            connection.execute(delete(response_items).where(response_items.c.created_at < cutoff))
            result = connection.execute(delete(responses).where(responses.c.created_at < cutoff))
        if result.rowcount:
            log.info("responses store: deleted %d expired responses", result.rowcount)

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, response_id: str) -> StoredResponse:
        if (stored := self._pending.get(response_id)) is not None:
            return stored
        found = await asyncio.to_thread(self._select, response_id)
        if found is None:
            raise ResponseNotFound(response_id)
        return found

    async def conversation(self, response_id: str) -> list[dict[str, Any]]:
        """Every input and output item of `response_id` and the turns before it, in order."""
        turns: list[StoredResponse] = []
        next_id: str | None = response_id
        while next_id is not None and len(turns) < MAX_CHAIN:
            stored = await self.get(next_id)
            turns.append(stored)
            next_id = stored.previous_response_id
        items: list[dict[str, Any]] = []
        for stored in reversed(turns):
            items += stored.input_items + stored.output
        return items

    async def items(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The stored output items among `item_ids`, by id."""
        found: dict[str, dict[str, Any]] = {}
        for stored in self._pending.values():
            for item in stored.output:
                if item.get("id") in item_ids:
                    found[item["id"]] = item
        missing = [item_id for item_id in item_ids if item_id not in found]
        if missing:
            found.update(await asyncio.to_thread(self._select_items, missing))
        return found

    async def delete(self, response_id: str) -> bool:
        existed = self._pending.pop(response_id, None) is not None
        return await asyncio.to_thread(self._delete, response_id) or existed

    def _select(self, response_id: str) -> StoredResponse | None:
        with self._engine().connect() as connection:
            row = connection.execute(select(responses).where(responses.c.id == response_id)).first()
        if row is None:
            return None
        return StoredResponse(
            row.id,
            row.previous_response_id,
            orjson.loads(row.input_items),
            orjson.loads(row.response),
        )

    def _select_items(self, item_ids: list[str]) -> dict[str, dict[str, Any]]:
        with self._engine().connect() as connection:
            rows = connection.execute(
                select(response_items.c.id, response_items.c.item).where(
                    response_items.c.id.in_(item_ids)
                )
            ).all()
        return {row.id: orjson.loads(row.item) for row in rows}

    def _delete(self, response_id: str) -> bool:
        with self._engine().begin() as connection:
            connection.execute(
                delete(response_items).where(response_items.c.response_id == response_id)
            )
            result = connection.execute(delete(responses).where(responses.c.id == response_id))
        return bool(result.rowcount)


def _dump(value: Any) -> str:
    return orjson.dumps(value).decode()
