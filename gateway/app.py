"""Build the ASGI app: LiteLLM's proxy app with the generated config, our routes in front.

Import order matters: the environment (offline defaults, `.env`) must be in place and the
LiteLLM config written before `litellm.proxy.proxy_server` is imported.
"""

from __future__ import annotations

import logging
import os
from contextlib import asynccontextmanager

from gateway.catalog import Catalog, build_catalog
from gateway.config import load_config
from gateway.settings import Settings, load_environment

log = logging.getLogger("gateway")


def create_app(settings: Settings | None = None):
    load_environment()
    settings = settings or Settings.from_env()
    config = load_config(settings.config_dir)
    catalog = build_catalog(config, os.environ)

    from gateway.litellm_glue.config import build_litellm_config, write_litellm_config

    litellm_config = build_litellm_config(
        catalog, config.routing, master_key_env="PROXY_API_KEY" if settings.proxy_api_key else None
    )
    os.environ["CONFIG_FILE_PATH"] = str(
        write_litellm_config(litellm_config, settings.generated_dir)
    )

    from gateway.litellm_glue.proxy import load_proxy_app

    proxy = load_proxy_app()
    app = proxy.app

    from gateway.api.auth import APIKeyMiddleware
    from gateway.api.routes import gateway_routes
    from gateway.health import HealthChecker
    from gateway.litellm_glue.engine import LiteLLMEngine
    from gateway.litellm_glue.g4f_handler import configure_g4f
    from gateway.routing.chain import ChainRunner
    from gateway.routing.cooldowns import CooldownTracker
    from gateway.routing.quotas import QuotaTracker
    from gateway.state import GatewayState
    from gateway.telemetry.writer import TelemetryWriter, database_url

    configure_g4f(catalog, settings.data_dir)
    db_url = database_url(settings.db_url, settings.data_dir)
    telemetry = TelemetryWriter(db_url, retention_days=settings.telemetry_retention_days)
    cooldowns = CooldownTracker()
    routes = [*catalog.usable_deployments, *(d for d in catalog.search_deployments if d.usable)]
    quotas = local_quotas = QuotaTracker(routes)
    history = _restore_quotas(local_quotas, telemetry)
    sharing = None
    if settings.redis_url:
        from gateway.shared.sharing import share_through_redis

        sharing = share_through_redis(
            settings.redis_url, settings.redis_prefix, cooldowns, local_quotas, history
        )
        quotas = sharing.quotas
    health = HealthChecker(catalog, config.routing.health_check_interval)
    # Starlette matches routes in order: ours must come before LiteLLM's routes of the same path.
    app.router.routes[0:0] = gateway_routes()
    app.add_middleware(APIKeyMiddleware, api_key=settings.proxy_api_key)
    app.state.gateway = GatewayState(
        settings=settings,
        config=config,
        catalog=catalog,
        runner=ChainRunner(config.routing, cooldowns, quotas, health),
        engine=LiteLLMEngine(proxy.router),
        telemetry=telemetry,
        quotas=quotas,
        health=health,
        sharing=sharing,
    )
    _run_with_lifespan(app, proxy, telemetry, health, sharing)
    _log_startup(settings, catalog)
    return app


def _restore_quotas(quotas, telemetry) -> list:
    """Today's (and this month's) counts survive a restart: replay the last day of telemetry,
    and the month for routes with a monthly limit (and return it, to seed a shared Redis that
    has no counters yet)."""
    from gateway.routing.quotas import day_start_utc
    from gateway.telemetry.history import recent_usage
    from gateway.telemetry.writer import safe_url

    try:
        day_since = day_start_utc()
        history = recent_usage(telemetry.engine, day_since)
        if (monthly := quotas.monthly_history()) is not None:
            month_since, routes = monthly
            earlier = recent_usage(telemetry.engine, month_since, until=day_since, models=routes)
            history = earlier + history
    except Exception as exc:
        log.warning(
            "gateway: could not read telemetry from %s to restore quota counters (%s); "
            "starting from zero",
            safe_url(telemetry.url),
            type(exc).__name__,
        )
        return []
    if restored := quotas.restore(history):
        log.info("gateway: quota counters restored from %d recent upstream calls", restored)
    return history


def _run_with_lifespan(app, proxy, telemetry, health, sharing) -> None:
    """Start the gateway's background work inside LiteLLM's own lifespan (once it has
    registered its hooks, so the idle ones can go), and flush telemetry when the server
    stops."""
    proxy_lifespan = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(app_):
        async with proxy_lifespan(app_) as state:
            if dropped := proxy.drop_idle_hooks():
                log.debug("gateway: unregistered idle LiteLLM proxy hooks %s", dropped)
            telemetry.start()
            health.start()
            if sharing is not None:
                await sharing.start()
            try:
                yield state
            finally:
                await health.close()
                if sharing is not None:
                    await sharing.close()
                await telemetry.close()

    app.router.lifespan_context = lifespan


def _log_startup(settings: Settings, catalog: Catalog) -> None:
    usable = len(catalog.usable_deployments)
    log.info(
        "gateway: %d virtual models, %d of %d direct models usable (config: %s)",
        len(catalog.virtual_models),
        usable,
        len(catalog.deployments),
        settings.config_dir,
    )
    if usable == 0:
        log.warning("gateway: no provider is usable; run `gateway models` to see why")
    if settings.proxy_api_key is None:
        log.warning(
            "gateway: PROXY_API_KEY is not set, so every endpoint is open to anyone who can "
            "reach this port; keep it bound to 127.0.0.1 or set PROXY_API_KEY"
        )
