"""Everything a request needs, built once per process at startup."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.catalog import Catalog
from gateway.config import GatewayConfig
from gateway.engine.engine import Engine
from gateway.health import HealthChecker
from gateway.routing.chain import ChainRunner
from gateway.routing.drain import Drain
from gateway.routing.quotas import Quotas
from gateway.settings import Settings
from gateway.telemetry.response_store import ResponseStore
from gateway.telemetry.writer import TelemetryWriter

if TYPE_CHECKING:
    from gateway.rankings.ranker import Ranker
    from gateway.shared.sharing import Sharing
    from gateway.telemetry.metrics import GatewayMetrics


@dataclass
class GatewayState:
    settings: Settings
    config: GatewayConfig
    catalog: Catalog
    runner: ChainRunner
    engine: Engine
    telemetry: TelemetryWriter
    quotas: Quotas
    responses: ResponseStore
    drain: Drain
    ranker: Ranker | None = None  # live order of auto-ordered virtual models
    health: HealthChecker | None = None
    sharing: Sharing | None = None  # cooldowns and quotas shared through Redis
    metrics: GatewayMetrics | None = None  # counters and histograms for GET /metrics
