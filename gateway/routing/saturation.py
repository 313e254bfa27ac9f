"""Is the gateway itself the bottleneck right now?

Under heavy load the event loop falls behind: an upstream that answered in time is read late,
and its first token "times out". Counted as the provider's failure, that cooled healthy
routes down for everyone (9,227 of 10,000 requests got 429 in one load run). A timeout while
the loop lags, or while the gateway holds nearly as many requests as it admits, is the
gateway's own saturation: it fails the attempt, but does not cool the route down.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gateway.tasks import stop_task

log = logging.getLogger("gateway.saturation")

PROBE_INTERVAL = 0.1  # seconds between loop-lag probes
LAG_LIMIT = 0.25  # seconds of loop lag that count as saturated
HOLD_SECONDS = 5.0  # saturation is remembered this long after the last lagging probe
BUSY_FRACTION = 0.8  # of max_in_flight


class Saturation:
    def __init__(self, max_in_flight: int) -> None:
        self.max_in_flight = max_in_flight
        self.in_flight = 0
        self.worst_lag = 0.0
        self._lagging_until = 0.0
        self._task: asyncio.Task[None] | None = None

    def saturated(self) -> bool:
        if self.in_flight >= BUSY_FRACTION * self.max_in_flight:
            return True
        return time.monotonic() < self._lagging_until

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._probe(), name="saturation")

    async def close(self) -> None:
        await stop_task(self._task)
        self._task = None

    async def _probe(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            before = loop.time()
            await asyncio.sleep(PROBE_INTERVAL)
            lag = loop.time() - before - PROBE_INTERVAL
            self.worst_lag = max(self.worst_lag * 0.9, lag)
            if lag > LAG_LIMIT:
                if time.monotonic() >= self._lagging_until:
                    log.warning(
                        "gateway: the event loop lags %.2fs: timeouts now are the "
                        "gateway's own load, not the providers'",
                        lag,
                    )
                self._lagging_until = time.monotonic() + HOLD_SECONDS
