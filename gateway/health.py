"""Background reachability probes that spend no free quota.

Each usable provider whose API has a model list is asked for it (`GET {api_base}/models`)
every `health_check_interval` seconds, and every 30 s while it is down. A provider that
refuses the connection, answers 5xx or rejects the key is *down*: the chain skips its models
without calling them until a probe sees it answer again. No completion is ever sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import httpx

from gateway.catalog import Catalog, Deployment
from gateway.redact import redact
from gateway.tasks import stop_task

log = logging.getLogger("gateway.health")

DOWN_RECHECK_SECONDS = 30.0
PROBE_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class ProviderHealth:
    status: str  # "up" | "down" | "rate_limited"
    detail: str
    checked_at: str
    latency_ms: float


@dataclass(frozen=True)
class _Target:
    provider: str
    url: str
    headers: dict[str, str]


class HealthChecker:
    def __init__(self, catalog: Catalog, interval: float, *, everything: bool = False) -> None:
        """`everything` (what `gateway doctor --probe` asks for) also probes G4F and web
        search, which the background checks leave alone: a failed call already rests them."""
        self.interval = interval
        deployments = catalog.usable_deployments
        if everything:
            deployments = [*deployments, *(d for d in catalog.search_deployments if d.usable)]
        self._targets = _targets(deployments, everything)
        self._state: dict[str, ProviderHealth] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self.interval > 0 and self._targets and self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="health")

    async def close(self) -> None:
        await stop_task(self._task)

    def is_down(self, provider: str) -> ProviderHealth | None:
        health = self._state.get(provider)
        return health if health is not None and health.status == "down" else None

    def snapshot(self) -> dict[str, dict[str, object]]:
        return {name: asdict(health) for name, health in self._state.items()}

    async def probe_all(self) -> dict[str, ProviderHealth]:
        """Probe every provider once (also what `gateway doctor --probe` does)."""
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS) as client:
            await asyncio.gather(*(self._probe(client, t) for t in self._targets))
        return dict(self._state)

    async def _run(self) -> None:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT_SECONDS) as client:
            while True:
                await asyncio.gather(*(self._probe(client, t) for t in self._targets))
                down = any(h.status == "down" for h in self._state.values())
                await asyncio.sleep(
                    min(self.interval, DOWN_RECHECK_SECONDS) if down else self.interval
                )

    async def _probe(self, client: httpx.AsyncClient, target: _Target) -> None:
        started = time.monotonic()
        try:
            response = await client.get(target.url, headers=target.headers)
            status = (
                "up"
                if response.status_code < 400
                else "rate_limited"
                if response.status_code == 429
                else "down"
                if response.status_code in (401, 403) or response.status_code >= 500
                else "up"  # e.g. 404: the host answers; the chat path may still work
            )
            detail = f"GET /models answered {response.status_code}"
        except httpx.HTTPError as exc:
            status, detail = "down", redact(f"{type(exc).__name__}: {exc}")[:200]
        health = ProviderHealth(
            status=status,
            detail=detail,
            checked_at=datetime.now(UTC).isoformat(),
            latency_ms=round((time.monotonic() - started) * 1000, 1),
        )
        previous = self._state.get(target.provider)
        self._state[target.provider] = health
        if previous is None or previous.status != status:
            level = logging.WARNING if status == "down" else logging.INFO
            log.log(level, "provider %s is %s (%s)", target.provider, status, detail)


def _targets(deployments: list[Deployment], everything: bool = False) -> list[_Target]:
    targets: dict[str, _Target] = {}
    for d in deployments:
        if d.provider in targets or (url := _probe_url(d, everything)) is None:
            continue
        key = os.environ.get(d.api_key_env) if d.api_key_env else None
        targets[d.provider] = _Target(
            provider=d.provider, url=url, headers=d.provider_type.probe_headers(key)
        )
    return list(targets.values())


def _probe_url(deployment: Deployment, everything: bool) -> str | None:
    """A URL that answers without spending quota: the model list, where there is one."""
    kind = deployment.provider_type.name
    if everything and kind == "g4f":
        from gateway.providers.g4f import probe_url

        return probe_url(deployment)
    if everything and kind == "duckduckgo":
        return deployment.api_base  # its results page, without a query
    if not deployment.api_base or deployment.provider_type.models_path is None:
        return None
    return deployment.api_base.rstrip("/") + deployment.provider_type.models_path
