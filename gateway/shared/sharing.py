"""Wiring: one Redis link, the shared cooldowns and quotas over it, started and stopped
with the server."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from gateway.routing.cooldowns import CooldownTracker
from gateway.routing.quotas import QuotaTracker, UsageEvent
from gateway.shared.cooldowns import SharedCooldowns
from gateway.shared.link import RedisLink
from gateway.shared.quotas import SharedQuotaTracker

log = logging.getLogger("gateway.shared")


@dataclass
class Sharing:
    link: RedisLink
    cooldowns: SharedCooldowns
    quotas: SharedQuotaTracker
    history: list[UsageEvent] = field(default_factory=list)  # to seed an empty Redis

    async def start(self) -> None:
        seeded = await self.quotas.seed(self.history)
        self.history = []
        if seeded:
            log.info("gateway: seeded Redis quota counters with %d recent upstream calls", seeded)
        await self.cooldowns.start()
        log.info("gateway: sharing cooldowns and quota counters through %s", self.link.safe_url)

    async def close(self) -> None:
        await self.cooldowns.close()
        await self.quotas.close()
        await self.link.close()


def share_through_redis(
    url: str,
    prefix: str,
    cooldowns: CooldownTracker,
    quotas: QuotaTracker,
    history: list[UsageEvent],
) -> Sharing:
    link = RedisLink(url, prefix)
    return Sharing(
        link, SharedCooldowns(link, cooldowns), SharedQuotaTracker(link, quotas), history
    )
