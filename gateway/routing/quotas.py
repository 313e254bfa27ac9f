"""Free-tier quotas, enforced before a call: requests and tokens per minute and per day.

LiteLLM can enforce rpm/tpm per deployment but has no per-day limit at all, and free tiers
are mostly bounded per day. Limits come from `providers.yaml`: a provider's `limits` count
every model of that account together, a model's own `rpm/rpd/tpm/tpd` count that model alone.
Minutes are sliding windows; days end at midnight in the provider's `daily_reset` time zone.
A request is counted when its attempt starts (so concurrent requests cannot all slip under a
limit), its tokens when it finishes. Counters are rebuilt from telemetry at startup.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

from gateway.catalog import Deployment
from gateway.config import Limits
from gateway.telemetry.records import AttemptRecord

MINUTE = 60.0


@dataclass(frozen=True)
class QuotaBlock:
    """Why a route may not be called now, and when it may again."""

    reason: str
    retry_after: float


@dataclass(frozen=True)
class UsageEvent:
    """One past upstream call, as telemetry remembers it (for rebuilding counters)."""

    provider: str
    model: str
    ts: float
    tokens: int = 0


Usage = dict[str, dict[str, dict[str, int | None]]]  # scope -> window -> used/limit


class Quotas(Protocol):
    """What the chain and `/stats` need of quota tracking, kept in this process
    (`QuotaTracker`) or shared between gateway instances through Redis."""

    async def acquire(self, deployment: Deployment) -> QuotaBlock | None: ...

    async def snapshot(self, deployment_id: str) -> Usage: ...

    def record(self, record: AttemptRecord) -> None: ...


class QuotaScope:
    """Counters for one limited thing: a model, or a whole provider account."""

    def __init__(self, name: str, limits: Limits, zone: ZoneInfo) -> None:
        self.name = name
        self.limits = limits
        self.zone = zone
        self.minute_requests: deque[float] = deque()
        self.minute_tokens: deque[tuple[float, int]] = deque()
        self.day: object = None
        self.day_requests = 0
        self.day_tokens = 0
        self.month: object = None
        self.month_requests = 0

    def _roll(self, now: float) -> None:
        while self.minute_requests and now - self.minute_requests[0] >= MINUTE:
            self.minute_requests.popleft()
        while self.minute_tokens and now - self.minute_tokens[0][0] >= MINUTE:
            self.minute_tokens.popleft()
        day = datetime.fromtimestamp(now, self.zone).date()
        if day != self.day:
            self.day, self.day_requests, self.day_tokens = day, 0, 0
            month = (day.year, day.month)
            if month != self.month:
                self.month, self.month_requests = month, 0

    def block(self, now: float) -> QuotaBlock | None:
        self._roll(now)
        limits = self.limits
        if limits.rpm and len(self.minute_requests) >= limits.rpm:
            wait = self.minute_requests[0] + MINUTE - now
            return QuotaBlock(f"{self.name}: rpm {len(self.minute_requests)}/{limits.rpm}", wait)
        tokens_minute = sum(t for _, t in self.minute_tokens)
        if limits.tpm and tokens_minute >= limits.tpm:
            wait = self.minute_tokens[0][0] + MINUTE - now
            return QuotaBlock(f"{self.name}: tpm {tokens_minute}/{limits.tpm}", wait)
        if limits.rpd and self.day_requests >= limits.rpd:
            return QuotaBlock(
                f"{self.name}: rpd {self.day_requests}/{limits.rpd} until midnight {self.zone}",
                self.until_midnight(now),
            )
        if limits.tpd and self.day_tokens >= limits.tpd:
            return QuotaBlock(
                f"{self.name}: tpd {self.day_tokens}/{limits.tpd} until midnight {self.zone}",
                self.until_midnight(now),
            )
        if limits.rpmonth and self.month_requests >= limits.rpmonth:
            return QuotaBlock(
                f"{self.name}: rpmonth {self.month_requests}/{limits.rpmonth} until the 1st "
                f"({self.zone})",
                self.until_next_month(now),
            )
        return None

    def add_request(self, now: float) -> None:
        self._roll(now)
        self.minute_requests.append(now)
        self.day_requests += 1
        self.month_requests += 1

    def add_tokens(self, now: float, tokens: int) -> None:
        self._roll(now)
        if tokens:
            self.minute_tokens.append((now, tokens))
            self.day_tokens += tokens

    def usage(self, now: float) -> dict[str, dict[str, int | None]]:
        self._roll(now)
        limits = self.limits
        return {
            "rpm": {"used": len(self.minute_requests), "limit": limits.rpm},
            "tpm": {"used": sum(t for _, t in self.minute_tokens), "limit": limits.tpm},
            "rpd": {"used": self.day_requests, "limit": limits.rpd},
            "tpd": {"used": self.day_tokens, "limit": limits.tpd},
            "rpmonth": {"used": self.month_requests, "limit": limits.rpmonth},
        }

    def day_of(self, now: float) -> str:
        """The current day in this scope's reset time zone, as `YYYY-MM-DD`."""
        return datetime.fromtimestamp(now, self.zone).date().isoformat()

    def month_of(self, now: float) -> str:
        """The current month in this scope's reset time zone, as `YYYY-MM`."""
        return datetime.fromtimestamp(now, self.zone).strftime("%Y-%m")

    def month_start(self, now: float) -> datetime:
        local = datetime.fromtimestamp(now, self.zone)
        return datetime(local.year, local.month, 1, tzinfo=self.zone)

    def until_next_month(self, now: float) -> float:
        start = self.month_start(now)
        following = (start + timedelta(days=32)).replace(day=1)
        return max(1.0, following.timestamp() - now)

    def until_midnight(self, now: float) -> float:
        local = datetime.fromtimestamp(now, self.zone)
        midnight = datetime.combine(
            local.date() + timedelta(days=1), datetime.min.time(), self.zone
        )
        return max(1.0, midnight.timestamp() - now)


class QuotaTracker:
    def __init__(self, deployments: Iterable[Deployment], clock: Callable[[], float] = time.time):
        self._clock = clock
        self._scopes: dict[str, list[QuotaScope]] = {}
        providers: dict[str, QuotaScope] = {}
        for d in deployments:
            zone = ZoneInfo(d.daily_reset)
            scopes = []
            if _any(d.provider_limits):
                if d.provider not in providers:
                    providers[d.provider] = QuotaScope(d.provider, d.provider_limits, zone)
                scopes.append(providers[d.provider])
            if _any(d.options):
                scopes.append(QuotaScope(d.id, d.options, zone))
            self._scopes[d.id] = scopes

    async def acquire(self, deployment: Deployment) -> QuotaBlock | None:
        """Count a call to this route now, unless one of its limits is reached (then say
        which, and count nothing)."""
        return self.take(deployment)

    async def snapshot(self, deployment_id: str) -> Usage:
        """Used and allowed per limited scope and window, for `/stats` and warnings."""
        return self.usage(deployment_id)

    def take(self, deployment: Deployment) -> QuotaBlock | None:
        block = self.block(deployment)
        if block is None:
            self.count_request(deployment)
        return block

    def monthly_history(self) -> tuple[datetime, list[str]] | None:
        """Routes with a monthly limit need telemetry from the month's start, not just the
        last day: since when, and which routes (None when no limit is monthly)."""
        now = self._clock()
        since: datetime | None = None
        routes = []
        for deployment_id, scopes in self._scopes.items():
            starts = [s.month_start(now) for s in scopes if s.limits.rpmonth]
            if starts:
                routes.append(deployment_id)
                earliest = min(starts).astimezone(UTC)
                since = earliest if since is None else min(since, earliest)
        return (since, routes) if since is not None else None

    def scopes(self, deployment_id: str) -> list[QuotaScope]:
        """The limited scopes a call to this route counts against (provider, then model)."""
        return self._scopes.get(deployment_id, [])

    def block(self, deployment: Deployment) -> QuotaBlock | None:
        """The reason this route must be skipped now, if any of its limits is reached."""
        now = self._clock()
        for scope in self._scopes.get(deployment.id, ()):
            found = scope.block(now)
            if found is not None:
                return found
        return None

    def count_request(self, deployment: Deployment) -> None:
        now = self._clock()
        for scope in self._scopes.get(deployment.id, ()):
            scope.add_request(now)

    def count_tokens(self, deployment_id: str, tokens: int) -> None:
        now = self._clock()
        for scope in self._scopes.get(deployment_id, ()):
            scope.add_tokens(now, tokens)

    def record(self, record: AttemptRecord) -> None:
        """Telemetry sink: a finished attempt's tokens count against its limits."""
        tokens = (record.input_tokens or 0) + (record.output_tokens or 0)
        if tokens:
            self.count_tokens(record.model, tokens)

    def restore(self, events: Iterable[UsageEvent]) -> int:
        """Replay past calls (oldest first) so a restart does not reset today's counts."""
        restored = 0
        for event in events:
            for scope in self._scopes.get(event.model, ()):
                scope.add_request(event.ts)
                scope.add_tokens(event.ts, event.tokens)
            restored += 1
        return restored

    def usage(self, deployment_id: str) -> Usage:
        now = self._clock()
        return {s.name: s.usage(now) for s in self._scopes.get(deployment_id, ())}


def _any(limits: Limits) -> bool:
    return any((limits.rpm, limits.rpd, limits.tpm, limits.tpd, limits.rpmonth))


def day_start_utc(hours_back: float = 26.0) -> datetime:
    """How far back telemetry must be read to rebuild every zone's current day."""
    return datetime.now(UTC) - timedelta(hours=hours_back)
