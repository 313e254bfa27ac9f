"""`gateway doctor`: check config, keys, the telemetry database and (on request) each
provider's reachability, with advice for every problem. The successor of the seed's
`verify_installation.py`."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass

from gateway.catalog import build_catalog
from gateway.config import ConfigError, load_config
from gateway.settings import Settings


@dataclass(frozen=True)
class Finding:
    level: str  # "ok", "warn" (worth knowing), "error" (the gateway cannot work as configured)
    subject: str
    detail: str
    advice: str = ""

    @property
    def ok(self) -> bool:
        return self.level != "error"


def run_checks(settings: Settings, probe: bool) -> list[Finding]:
    findings: list[Finding] = []
    try:
        config = load_config(settings.config_dir)
    except ConfigError as exc:
        return [Finding("error", "config", str(exc), "fix the file and key named above")]
    try:
        catalog = build_catalog(config, os.environ, settings.rankings_dir)
    except ConfigError as exc:
        return [Finding("error", "config", str(exc), "fix the file and key named above")]
    findings.append(Finding("ok", "config", f"{settings.config_dir} is valid"))
    providers: dict[str, str | None] = {}
    for deployment in [*catalog.deployments.values(), *catalog.search_deployments]:
        providers.setdefault(deployment.provider, deployment.problem)
    for name, problem in providers.items():
        if problem is None:
            findings.append(Finding("ok", f"provider {name}", "key and endpoint configured"))
        else:  # every provider is optional; a chain with none usable is the error below
            findings.append(Finding("warn", f"provider {name}", problem, _advice(problem)))
    for chain in catalog.virtual_models.values():
        usable = [c.ref for c in chain.candidates if c.usable]
        if usable:
            findings.append(
                Finding("ok", f"virtual model {chain.name}", f"{len(usable)} usable candidates")
            )
        else:
            findings.append(
                Finding(
                    "error",
                    f"virtual model {chain.name}",
                    "no usable candidate",
                    "set a key for one of its providers (see `gateway models`)",
                )
            )
    findings.append(_check_database(settings))
    if settings.redis_url:
        findings.append(_check_redis(settings.redis_url))
    if settings.proxy_api_key is None:
        findings.append(
            Finding(
                "warn",
                "auth",
                "PROXY_API_KEY is not set: the gateway is open",
                "fine on 127.0.0.1; set PROXY_API_KEY before binding to another address",
            )
        )
    if not any(d.usable and d.mode == "chat" for d in catalog.deployments.values()):
        findings.append(
            Finding(
                "error",
                "chat",
                "no chat route is usable: nothing can answer",
                "set one provider's key in .env (see .env.example), or enable g4f",
            )
        )
    elif probe:
        findings.extend(asyncio.run(_probe(catalog)))
    return findings


def _advice(problem: str) -> str:
    if problem.endswith("is not set"):
        return f"put {problem.split()[0]}=... in .env (see .env.example)"
    if "disabled" in problem:
        return "set enabled: true in providers.yaml to use it"
    return "see README, Configuration"


def _check_database(settings: Settings) -> Finding:
    from sqlalchemy import func, select

    from gateway.telemetry.schema import attempts, metadata
    from gateway.telemetry.writer import database_url, make_engine, safe_url

    url = database_url(settings.db_url, settings.data_dir)
    try:
        engine = make_engine(url)
        metadata.create_all(engine)
        with engine.connect() as connection:
            rows = connection.execute(select(func.count()).select_from(attempts)).scalar_one()
        engine.dispose()
    except Exception as exc:
        return Finding(
            "error",
            "telemetry database",
            f"{safe_url(url)}: {type(exc).__name__}",
            "check GATEWAY_DB_URL (the gateway still serves, queueing rows in memory)",
        )
    return Finding("ok", "telemetry database", f"{safe_url(url)} ({rows} rows)")


def _check_redis(url: str) -> Finding:
    import redis

    from gateway.redact import hide_password

    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
        client.ping()
        client.close()
    except Exception as exc:
        return Finding(
            "warn",
            "shared state",
            f"{hide_password(url)}: {type(exc).__name__}",
            "check GATEWAY_REDIS_URL (each instance keeps its own cooldowns and quotas meanwhile)",
        )
    return Finding("ok", "shared state", f"cooldowns and quotas shared via {hide_password(url)}")


async def _probe(catalog) -> list[Finding]:
    """Reach every usable provider without spending quota (G4F and DuckDuckGo included), and
    say whether any chat route can answer at all."""
    from gateway.health import HealthChecker

    checker = HealthChecker(catalog, interval=0, everything=True)
    findings = []
    probed = await checker.probe_all()
    for health_name, health in probed.items():
        findings.append(
            Finding(
                "error" if health.status == "down" else "ok",
                f"reach {health_name}",
                f"{health.status}: {health.detail} in {health.latency_ms:.0f} ms",
                "" if health.status != "down" else "check the key, api_base and network",
            )
        )
    chat_providers = {
        d.provider for d in catalog.deployments.values() if d.usable and d.mode == "chat"
    }
    not_probed = sorted(chat_providers - set(probed))
    for name in not_probed:
        findings.append(Finding("warn", f"reach {name}", "not probed (no quota-free endpoint)"))
    if not not_probed and all(probed[name].status == "down" for name in chat_providers):
        findings.append(
            Finding(
                "error",
                "chat",
                "no chat route can answer: every usable provider is unreachable",
                "check the network, or set a provider's key in .env (see .env.example)",
            )
        )
    return findings


def render(findings: list[Finding]) -> str:
    lines = []
    marks = {"ok": "ok", "warn": "--", "error": "!!"}
    for f in findings:
        lines.append(f"[{marks[f.level]}] {f.subject}: {f.detail}")
        if f.advice and f.level != "ok":
            lines.append(f"     -> {f.advice}")
    errors = sum(f.level == "error" for f in findings)
    warnings = sum(f.level == "warn" for f in findings)
    lines.append(f"\n{errors} problem(s), {warnings} warning(s)")
    return "\n".join(lines)
