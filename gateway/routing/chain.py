"""Walk a chain of candidates in order until one answers.

A candidate is skipped without a call when it is unusable (no key, disabled, unknown), resting
in a cooldown, at its free-tier quota, or too small for a request that already overflowed a
context window. A call
that fails with a failover-class error cools its route down and moves on at once; any other
failure (a bad request, a content-policy refusal) goes straight back to the client, since every
other candidate would refuse it too.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from gateway.catalog import Candidate, Chain, Deployment
from gateway.config import RoutingSettings
from gateway.redact import redact
from gateway.routing.cooldowns import CooldownTracker
from gateway.routing.failures import FailureKind, UpstreamFailure

if TYPE_CHECKING:
    from gateway.health import HealthChecker
    from gateway.routing.quotas import Quotas
    from gateway.routing.saturation import Saturation
    from gateway.telemetry.journal import AttemptJournal

log = logging.getLogger("gateway.chain")

T = TypeVar("T")

_QUICK_RETRY_SECONDS = 0.1
_WAITING_OUTCOMES = frozenset({FailureKind.RATE_LIMITED.value, "quota_exhausted"})
_UNREACHABLE_OUTCOMES = frozenset(
    {
        "unusable",
        "provider_down",
        FailureKind.CONNECTION.value,
        FailureKind.AUTH.value,
        FailureKind.NOT_FOUND.value,
    }
)
_QUICK_RETRY_KINDS = frozenset({FailureKind.SERVER_ERROR, FailureKind.CONNECTION})


@dataclass(frozen=True)
class Skip:
    """Why one candidate did not answer."""

    candidate: str
    reason: str
    outcome: str
    retry_after: float | None = None
    cause: str | None = None  # cooling_down: the failure kind it is resting after

    @property
    def waiting_helps(self) -> bool:
        """Rate-limited, at its quota, or resting after a rate limit: it will answer later."""
        return self.outcome in _WAITING_OUTCOMES or (
            self.outcome == "cooling_down" and self.cause in _WAITING_OUTCOMES
        )

    @property
    def unreachable(self) -> bool:
        """Not configured, or not reachable with its configuration (no network, a wrong key,
        a host that is down): waiting alone does not help."""
        return self.outcome in _UNREACHABLE_OUTCOMES or (
            self.outcome == "cooling_down" and self.cause in _UNREACHABLE_OUTCOMES
        )

    def as_dict(self) -> dict[str, object]:
        data: dict[str, object] = {
            "model": self.candidate,
            "outcome": self.outcome,
            "reason": self.reason,
        }
        if self.retry_after is not None:
            data["retry_after"] = math.ceil(self.retry_after)
        return data


@dataclass
class Served(Generic[T]):
    """A successful attempt: what answered, where it sits in the chain, and the result."""

    deployment: Deployment
    result: T
    attempt: int
    position: int
    skips: list[Skip] = field(default_factory=list)
    started: float = 0.0  # time.monotonic() when the answering attempt began


class ChainExhausted(Exception):
    """No candidate could answer. `retry_after` is when the soonest cooldown ends."""

    def __init__(self, chain: Chain, skips: list[Skip], retry_after: float | None) -> None:
        super().__init__(f"every candidate of {chain.name!r} is unavailable")
        self.chain = chain
        self.skips = skips
        self.retry_after = retry_after

    @property
    def unreachable(self) -> bool:
        """Nothing in the chain is configured and reachable: a retry would fail the same way,
        so the client should hear it at once rather than wait for a Retry-After."""
        return bool(self.skips) and all(s.unreachable for s in self.skips)

    @property
    def wait(self) -> float | None:
        """When the soonest candidate that is only rate-limited can answer again."""
        waits = [s.retry_after for s in self.skips if s.waiting_helps and s.retry_after]
        return min(waits) if waits else None


class RequestRejected(Exception):
    """An upstream refused the request itself; failing over would not help."""

    def __init__(self, failure: UpstreamFailure, deployment: Deployment, skips: list[Skip]):
        super().__init__(str(failure))
        self.failure = failure
        self.deployment = deployment
        self.skips = skips


class ChainRunner:
    def __init__(
        self,
        settings: RoutingSettings,
        cooldowns: CooldownTracker,
        quotas: Quotas | None = None,
        health: HealthChecker | None = None,
        saturation: Saturation | None = None,
    ) -> None:
        self.settings = settings
        self.cooldowns = cooldowns
        self.quotas = quotas
        self.health = health
        self.saturation = saturation

    async def run(
        self,
        chain: Chain,
        attempt: Callable[[Deployment], Awaitable[T]],
        *,
        continuing: bool = False,
        journal: AttemptJournal | None = None,
    ) -> Served[T]:
        """Try each candidate in order; `continuing` means the request carries a partial
        answer as prefill, so a candidate refusing it (4xx) is skipped, not fatal."""
        skips: list[Skip] = []
        attempts = 0
        overflowed_window: int | None = None
        context_failure: tuple[UpstreamFailure, Deployment] | None = None
        for position, candidate in enumerate(chain.candidates, start=1):
            deployment = candidate.deployment
            reason = self._skip_reason(candidate, overflowed_window)
            if reason is not None or deployment is None:
                skip = reason or Skip(candidate.ref, "unusable", "unusable")
                skips.append(skip)
                if journal is not None:
                    journal.skipped(skip.candidate, skip.outcome, skip.reason)
                continue
            best = attempts == 0
            route_attempts = 0
            failure = None
            while True:
                if (quota := await self._quota_skip(deployment)) is not None:
                    if failure is None:  # not a retry: the route was never called
                        skips.append(quota)
                        if journal is not None:
                            journal.skipped(quota.candidate, quota.outcome, quota.reason)
                    break
                attempts += 1
                route_attempts += 1
                started = time.monotonic()
                try:
                    result = await attempt(deployment)
                except UpstreamFailure as caught:
                    failure = caught
                    if journal is not None:
                        journal.failed(deployment, failure, started)
                    if failure.kind is FailureKind.RATE_LIMITED:
                        await self._warn_if_limits_too_high(deployment)
                except Exception as unexpected:
                    # Not an upstream's answer: the gateway (or LiteLLM) could not make this
                    # call. It says nothing about the provider, so no cooldown; the request
                    # goes back to the caller as a 400.
                    log.exception("chain %s: could not call %s", chain.name, deployment.id)
                    failure = UpstreamFailure(
                        FailureKind.BAD_REQUEST,
                        f"the gateway could not send this request to {deployment.id} "
                        f"({type(unexpected).__name__}: {redact(str(unexpected))[:300]})",
                        status=400,
                    )
                    if journal is not None:
                        journal.failed(deployment, failure, started)
                    raise RequestRejected(failure, deployment, skips) from None
                else:
                    if journal is not None:
                        journal.answering(deployment)
                    return Served(deployment, result, attempts, position, skips, started)
                delay = self._same_route_retry_delay(failure, best, route_attempts)
                if delay is None:
                    break
                log.info(
                    "chain %s: retrying %s in %.1fs after %s",
                    chain.name,
                    deployment.id,
                    delay,
                    failure,
                )
                await asyncio.sleep(delay)
            if failure is None:
                continue  # its quota ran out before a call
            if failure.kind is FailureKind.CONTEXT_WINDOW:
                context_failure = (failure, deployment)
                window = deployment.context_window or 0
                overflowed_window = max(overflowed_window or 0, window)
                skips.append(Skip(deployment.id, failure.message, failure.kind))
                continue
            if not (failure.fails_over or self._skippable(failure, continuing)):
                raise RequestRejected(failure, deployment, skips)
            cooldown = self._cool_down(deployment, failure) if failure.fails_over else None
            log.warning(
                "chain %s: %s failed (%s), trying the next candidate",
                chain.name,
                deployment.id,
                failure,
            )
            skips.append(Skip(deployment.id, failure.message, failure.kind, cooldown))
        if context_failure is not None and all(
            s.outcome in ("context_window_exceeded", "context_too_small") for s in skips
        ):
            failure, deployment = context_failure
            raise RequestRejected(failure, deployment, skips)
        raise ChainExhausted(chain, skips, self._soonest_retry(skips))

    async def _quota_skip(self, deployment: Deployment) -> Skip | None:
        """Take one call from the route's quotas, or the skip saying which limit is reached.
        Checking and counting are one step, so concurrent requests (or gateway instances
        sharing Redis) cannot all slip under a limit."""
        if self.quotas is None or (block := await self.quotas.acquire(deployment)) is None:
            return None
        return Skip(
            deployment.id,
            f"free-tier quota reached ({block.reason})",
            "quota_exhausted",
            block.retry_after,
        )

    async def _warn_if_limits_too_high(self, deployment: Deployment) -> None:
        """A real 429 while our own counters say there is room: the YAML is too generous."""
        if self.quotas is None:
            return
        usage = await self.quotas.snapshot(deployment.id)
        if usage:
            log.warning(
                "%s answered 429 while within its configured limits (%s): the limits in "
                "providers.yaml are probably higher than the provider's real ones",
                deployment.id,
                "; ".join(
                    f"{scope} "
                    + ", ".join(
                        f"{w} {c['used']}/{c['limit']}" for w, c in windows.items() if c["limit"]
                    )
                    for scope, windows in usage.items()
                ),
            )

    def _same_route_retry_delay(
        self, failure: UpstreamFailure, best: bool, route_attempts: int
    ) -> float | None:
        """Seconds before trying the same route again, or None to move on.

        Never more than two calls to one route per request (max_attempts_per_route caps it
        lower still): a short Retry-After on the best candidate is waited out, and a 5xx or
        a connection error before any output gets one quick retry. A timeout is never
        retried: the route already cost its full timeout once.
        """
        s = self.settings
        if route_attempts >= min(2, s.max_attempts_per_route):
            return None
        if (
            failure.kind is FailureKind.RATE_LIMITED
            and best
            and failure.retry_after is not None
            and failure.retry_after <= s.short_retry_after_seconds
        ):
            return failure.retry_after
        # A reset or refused connection too: the retry goes out on a fresh connection, and a
        # pooled connection the upstream closed is the usual cause.
        if s.retry_server_error_once and failure.kind in _QUICK_RETRY_KINDS:
            return _QUICK_RETRY_SECONDS
        return None

    def _skippable(self, failure: UpstreamFailure, continuing: bool) -> bool:
        """Non-failover failures that still move on to the next candidate."""
        if failure.kind is FailureKind.CONTENT_POLICY:
            return self.settings.route_around_content_policy
        # A 4xx for a request carrying a prefill is that provider refusing the prefill.
        return continuing

    def _skip_reason(self, candidate: Candidate, overflowed_window: int | None) -> Skip | None:
        if not candidate.usable or candidate.deployment is None:
            return Skip(candidate.ref, candidate.problem or "unusable", "unusable")
        deployment = candidate.deployment
        if overflowed_window is not None and (deployment.context_window or 0) <= overflowed_window:
            return Skip(
                deployment.id,
                f"context window {deployment.context_window or 'unknown'} is not larger than "
                f"{overflowed_window}, which the request already exceeded",
                "context_too_small",
            )
        if self.health is not None and (down := self.health.is_down(deployment.provider)):
            return Skip(deployment.id, f"provider down ({down.detail})", "provider_down")
        cooldown = self.cooldowns.active(_cooldown_keys(deployment))
        if cooldown is not None:
            remaining = cooldown.remaining(self.cooldowns.now())
            return Skip(
                deployment.id,
                f"cooling down for {math.ceil(remaining)}s after {cooldown.reason}",
                "cooling_down",
                remaining,
                cause=cooldown.reason.split(" ", 1)[0],
            )
        return None

    def record_failure(self, deployment: Deployment, failure: UpstreamFailure) -> None:
        """A failure seen outside `run` (a stream that died mid-answer) rests its route too."""
        if failure.fails_over:
            self._cool_down(deployment, failure)

    def _cool_down(self, deployment: Deployment, failure: UpstreamFailure) -> float | None:
        if (
            failure.kind is FailureKind.TIMEOUT
            and self.saturation is not None
            and self.saturation.saturated()
        ):
            # The gateway's own load made the answer late: not the provider's fault.
            log.info("%s timed out while the gateway is saturated: no cooldown", deployment.id)
            return None
        s = self.settings
        if failure.kind is FailureKind.RATE_LIMITED:
            seconds = (
                min(failure.retry_after, s.max_retry_after_seconds)
                if failure.retry_after is not None
                else s.rate_limit_cooldown_seconds
            )
            # Retry-After: 0 still means "this route just refused": rest it briefly.
            seconds = max(seconds, 1.0)
        elif failure.kind in (FailureKind.AUTH, FailureKind.NOT_FOUND):
            seconds = s.auth_error_cooldown_seconds
        else:
            seconds = s.cooldown_seconds
        key = (
            f"provider:{deployment.provider}" if failure.kind is FailureKind.AUTH else deployment.id
        )
        reason = f"{failure.kind}" + (f" {failure.status}" if failure.status else "")
        self.cooldowns.cool_down(key, seconds, reason)
        return seconds

    @staticmethod
    def _soonest_retry(skips: list[Skip]) -> float | None:
        waits = [s.retry_after for s in skips if s.retry_after is not None]
        return min(waits) if waits else None


def _cooldown_keys(deployment: Deployment) -> tuple[str, str]:
    return (deployment.id, f"provider:{deployment.provider}")
