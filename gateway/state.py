"""Everything a request needs, built once per process at startup."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.catalog import Catalog
from gateway.config import GatewayConfig
from gateway.health import HealthChecker
from gateway.litellm_glue.engine import LiteLLMEngine
from gateway.routing.chain import ChainRunner
from gateway.routing.quotas import QuotaTracker
from gateway.settings import Settings
from gateway.telemetry.writer import TelemetryWriter


@dataclass
class GatewayState:
    settings: Settings
    config: GatewayConfig
    catalog: Catalog
    runner: ChainRunner
    engine: LiteLLMEngine
    telemetry: TelemetryWriter
    quotas: QuotaTracker
    health: HealthChecker | None = None
