"""Build the ASGI app: the gateway's own route table, and LiteLLM's proxy app behind it only
for the route groups `GATEWAY_LITELLM_ROUTES` opens.

Import order matters: the environment (offline defaults, `.env`) must be in place before
LiteLLM is imported, and the LiteLLM config written before its proxy server is.
"""

from __future__ import annotations

import logging
import os
from contextlib import AsyncExitStack, asynccontextmanager

from starlette.applications import Starlette
from starlette.middleware import Middleware

from gateway.catalog import Catalog, build_catalog
from gateway.config import ConfigError, load_config
from gateway.settings import Settings, load_environment

log = logging.getLogger("gateway")


def create_app(settings: Settings | None = None) -> Starlette:
    load_environment()
    settings = settings or Settings.from_env()
    config = load_config(settings.config_dir)
    catalog = build_catalog(config, os.environ, settings.rankings_dir)

    from gateway.litellm_glue.config import build_litellm_config, write_litellm_config
    from gateway.litellm_glue.database import database_mode

    litellm_config = build_litellm_config(
        catalog, config.routing, master_key_env="PROXY_API_KEY" if settings.proxy_api_key else None
    )
    # LiteLLM's database mode (DATABASE_URL): its keys, spend logs and admin UI.
    db_mode = database_mode()
    proxy_config = db_mode.proxy_config(litellm_config, catalog) if db_mode else litellm_config
    os.environ["CONFIG_FILE_PATH"] = str(write_litellm_config(proxy_config, settings.generated_dir))

    from gateway.api.auth import APIKeyMiddleware
    from gateway.api.cors import CORSMiddleware
    from gateway.api.guard import RequestGuard
    from gateway.api.routes import EXCEPTION_HANDLERS, gateway_routes
    from gateway.engine.engine import Engine
    from gateway.engine.g4f_source import configure_g4f
    from gateway.health import HealthChecker
    from gateway.litellm_glue.engine import LiteLLMEngine
    from gateway.litellm_glue.proxy import (
        OpenedLiteLLMRoutes,
        UnknownRouteGroup,
        load_proxy,
        route_prefixes,
    )
    from gateway.litellm_glue.router import build_router
    from gateway.litellm_glue.tokens import count_prompt_tokens
    from gateway.routing.chain import ChainRunner
    from gateway.routing.cooldowns import CooldownTracker
    from gateway.routing.drain import Drain
    from gateway.routing.quotas import QuotaTracker
    from gateway.routing.saturation import Saturation
    from gateway.state import GatewayState
    from gateway.telemetry.metrics import GatewayMetrics
    from gateway.telemetry.response_store import ResponseStore
    from gateway.telemetry.writer import TelemetryWriter, database_url

    try:
        # Database mode opens the admin group by itself: its keys are managed there.
        opened = route_prefixes(settings.litellm_routes or ("admin",) * bool(db_mode))
    except UnknownRouteGroup as exc:
        raise ConfigError(str(exc)) from None
    configure_g4f(settings.data_dir)
    engine = Engine(
        catalog,
        # LiteLLM's Router, for providers set to `engine: litellm` and for embeddings; built
        # on first use, since most gateways never need it.
        lambda: LiteLLMEngine(build_router(litellm_config)),
        count_tokens=count_prompt_tokens,
        request_timeout=config.routing.request_timeout,
    )
    proxy = load_proxy() if opened else None
    db_url = database_url(settings.db_url, settings.data_dir)
    telemetry = TelemetryWriter(db_url, retention_days=settings.telemetry_retention_days)
    responses = ResponseStore(telemetry, retention_days=settings.responses_retention_days)
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
    saturation = Saturation(settings.max_in_flight)
    drain = Drain(settings.drain_seconds)
    ranker = _ranker(catalog, config.routing, telemetry)

    @asynccontextmanager
    async def lifespan(app_: Starlette):
        async with AsyncExitStack() as stack:
            litellm_state: dict = {}
            if proxy is not None:
                # LiteLLM's own startup: its Router, database and hooks for its routes. What
                # its lifespan yields (the `database` its DB-backed routes read from
                # `request.state`) becomes this app's lifespan state, which Starlette copies
                # into every request's.
                litellm_state = dict(
                    await stack.enter_async_context(proxy.app.router.lifespan_context(proxy.app))
                    or {}
                )
                if dropped := proxy.drop_idle_hooks():
                    log.debug("gateway: unregistered idle LiteLLM proxy hooks %s", dropped)
            if key_gate is not None:
                key_gate.announce(settings.proxy_api_key)
                stack.push_async_callback(key_gate.keys.close)
            telemetry.start()
            health.start()
            saturation.start()
            if ranker is not None:
                await ranker.refresh()  # this instance's order from the shared telemetry
                ranker.start()
            if sharing is not None:
                await sharing.start()
            try:
                yield litellm_state or None  # None: servers without lifespan state still work
            finally:
                if ranker is not None:
                    await ranker.close()
                await saturation.close()
                await health.close()
                if sharing is not None:
                    await sharing.close()
                await responses.close()
                await engine.close()
                await telemetry.close()

    table = gateway_routes()
    key_gate = _key_gate(db_mode, proxy, opened, table, settings)
    # Outermost first: CORS preflights need no key; the key is checked before a body is read.
    middleware = [
        *(
            [Middleware(CORSMiddleware, origins=settings.cors_origins)]
            * bool(settings.cors_origins)
        ),
        Middleware(
            APIKeyMiddleware,
            api_key=settings.proxy_api_key,
            metrics_public=settings.metrics_public,
            litellm_keys=key_gate,
        ),
        Middleware(
            RequestGuard,
            max_body_bytes=int(settings.max_body_mb * 1024 * 1024),
            saturation=saturation,
            drain=drain,
        ),
    ]
    app = Starlette(
        routes=table,
        middleware=middleware,
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=lifespan,
    )
    # A path none of the gateway's routes serves: LiteLLM's proxy for opened groups, else
    # a JSON 404.
    app.router.default = OpenedLiteLLMRoutes(proxy, opened)
    app.state.gateway = GatewayState(
        settings=settings,
        config=config,
        catalog=catalog,
        runner=ChainRunner(config.routing, cooldowns, quotas, health, saturation),
        engine=engine,
        telemetry=telemetry,
        quotas=quotas,
        responses=responses,
        drain=drain,
        ranker=ranker,
        health=health,
        sharing=sharing,
        metrics=GatewayMetrics(),
    )
    _log_startup(settings, catalog)
    return app


def _key_gate(db_mode, proxy, opened, table, settings: Settings):
    """LiteLLM's key checks on the gateway's routes, in database mode (else None)."""
    if db_mode is None or proxy is None:
        return None
    from starlette.routing import Match

    from gateway.litellm_glue.keys import KeyGate, LiteLLMKeys
    from gateway.litellm_glue.proxy import OpenedLiteLLMRoutes

    litellm_routes = OpenedLiteLLMRoutes(proxy, opened)

    def served_by_litellm(path: str) -> bool:
        if not litellm_routes.serves(path):
            return False
        probe = {"type": "http", "path": path, "root_path": "", "method": "GET"}
        return not any(route.matches(probe)[0] != Match.NONE for route in table)

    return KeyGate(
        LiteLLMKeys(proxy.module),
        served_by_litellm,
        max_body_bytes=int(settings.max_body_mb * 1024 * 1024),
    )


def _ranker(catalog: Catalog, routing, telemetry):
    """Live ordering for auto-ordered virtual models (None when there are none)."""
    if catalog.rankings is None or not any(
        chain.ordered_by for chain in catalog.virtual_models.values()
    ):
        return None
    from gateway.rankings.ranker import Ranker
    from gateway.telemetry.live import route_signals

    def signals(routes: list[str]):
        return route_signals(
            telemetry.engine,
            routes,
            window_samples=routing.ranking_window_samples,
            window_seconds=routing.ranking_window_seconds,
        )

    return Ranker(catalog, catalog.rankings, routing, signals)


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


def _log_startup(settings: Settings, catalog: Catalog) -> None:
    from gateway.readiness import startup_report

    usable = len(catalog.usable_deployments)
    log.info(
        "gateway: %d virtual models, %d of %d direct models usable (config: %s)",
        len(catalog.virtual_models),
        usable,
        len(catalog.deployments),
        settings.config_dir,
    )
    if settings.litellm_routes:
        log.info(
            "gateway: LiteLLM proxy routes open for %s (GATEWAY_LITELLM_ROUTES)",
            ", ".join(settings.litellm_routes),
        )
    for line in startup_report(catalog):
        log.info("gateway: %s", line)
    if not any(d.mode == "chat" for d in catalog.usable_deployments):
        log.warning("gateway: no chat provider is usable; run `gateway models` to see why")
    if settings.proxy_api_key is None:
        log.warning(
            "gateway: PROXY_API_KEY is not set, so every endpoint is open to anyone who can "
            "reach this port; keep it bound to 127.0.0.1 or set PROXY_API_KEY"
        )
