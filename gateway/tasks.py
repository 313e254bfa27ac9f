"""Background tasks the gateway runs beside requests (health probes, telemetry writes,
rankings, the event-loop probe, shared cooldowns)."""

from __future__ import annotations

import asyncio
import contextlib


async def stop_task(task: asyncio.Task | None) -> None:
    """Cancel `task` and wait until it has ended (a task never started is fine)."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
