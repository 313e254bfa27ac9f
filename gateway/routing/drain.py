"""Graceful shutdown for streams: stop taking requests, let the answers in flight finish
within the drain time, then end the rest with the API's own error event.

Without this, SIGTERM cut every stream mid-body with no error (a client could not tell a
truncated answer from a complete one), and telemetry called them client cancellations.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

log = logging.getLogger("gateway.drain")


class Interruptible(Protocol):
    def interrupt(self) -> None: ...


class Drain:
    def __init__(self, drain_seconds: float = 20.0) -> None:
        self.drain_seconds = drain_seconds
        self.closing = False  # no new requests
        self.stopping = False  # the drain time is over: answers in flight are ended
        self._streams: set[Interruptible] = set()
        self._timer: asyncio.TimerHandle | None = None

    def register(self, stream: Interruptible) -> None:
        self._streams.add(stream)
        if self.stopping:
            stream.interrupt()

    def unregister(self, stream: Interruptible) -> None:
        self._streams.discard(stream)

    @property
    def in_flight(self) -> int:
        return len(self._streams)

    def begin(self) -> None:
        """Called on SIGTERM/SIGINT, in the event loop's thread."""
        if self.closing:
            return
        self.closing = True
        log.warning(
            "gateway: shutting down; %d streams in flight get up to %gs to finish",
            len(self._streams),
            self.drain_seconds,
        )
        if not self._streams:
            return
        self._timer = asyncio.get_running_loop().call_later(self.drain_seconds, self.stop)

    def stop(self) -> None:
        """End every stream still in flight (each ends with its API's error event)."""
        self.stopping = True
        if self._streams:
            log.warning("gateway: ending %d streams still in flight", len(self._streams))
        for stream in list(self._streams):
            stream.interrupt()
