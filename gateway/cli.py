"""`gateway run | config | models`: the command line."""

from __future__ import annotations

import argparse
import gc
import logging
import os
import sys

from gateway.config import ConfigError, load_config
from gateway.rankings.update import PRESETS as _PRESETS
from gateway.settings import Settings, load_environment


def main(argv: list[str] | None = None) -> int:
    load_environment()  # first: `.env` may set the defaults the parser shows (GATEWAY_PORT)
    args = _parser().parse_args(argv)
    try:
        return args.handler(args)
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gateway", description="OpenAI-compatible gateway with virtual models over free LLMs"
    )
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--config-dir",
        help="directory holding providers.yaml and virtual_models.yaml "
        "(default: $GATEWAY_CONFIG_DIR or ./litellm_config)",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", parents=[common], help="serve the gateway")
    run.add_argument("--host", default=os.environ.get("GATEWAY_HOST") or "127.0.0.1")
    run.add_argument("--port", type=int, default=int(os.environ.get("GATEWAY_PORT") or 8000))
    run.set_defaults(handler=_run)

    config = commands.add_parser(
        "config", parents=[common], help="print the generated LiteLLM config (no secrets)"
    )
    config.set_defaults(handler=_config)

    models = commands.add_parser(
        "models", parents=[common], help="list virtual models, their chains and usability"
    )
    models.add_argument(
        "--explain",
        metavar="NAME",
        help="why an auto-ordered virtual model's candidates are in their order",
    )
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(handler=_models)

    rankings = commands.add_parser("rankings", help="the benchmark data behind auto_order")
    rankings_commands = rankings.add_subparsers(dest="rankings_command", required=True)
    update = rankings_commands.add_parser(
        "update",
        help="import a leaderboard's published data file into rankings/sources/",
        description="Merge a leaderboard's figures (from a path or URL) into "
        "rankings/sources/<metric>.yaml, dated today. Presets: aider (polyglot_leaderboard.yml), "
        "artificial-analysis (API v2 JSON); json and csv take --records/--name/--value.",
    )
    update.add_argument("location", help="a file path or an http(s) URL")
    update.add_argument("--format", choices=sorted(_PRESETS), required=True)
    update.add_argument("--metric", help="the metric the figures score (presets have one)")
    update.add_argument("--records", help="dotted path to the list of rows in a JSON/YAML file")
    update.add_argument("--name", help="the field (or CSV column) naming the model")
    update.add_argument("--value", help="the field (or CSV column) holding the figure (dotted)")
    update.add_argument("--scale", type=float, help="multiply every figure (100: fraction to %%)")
    update.add_argument("--provider", help="for tokens_per_second / ttft_seconds: whose routes")
    update.add_argument("--cite", help="the URL to cite for each figure (default: the preset's)")
    update.add_argument("--rankings-dir", help="default: $GATEWAY_RANKINGS_DIR or ./rankings")
    update.add_argument("--dry-run", action="store_true", help="report, do not write")
    update.set_defaults(handler=_rankings_update)

    stats = commands.add_parser("stats", help="print a running gateway's /stats in the terminal")
    stats.add_argument(
        "--url",
        default=_local_url(),
        help="the gateway's base URL (default: GATEWAY_HOST:GATEWAY_PORT)",
    )
    stats.add_argument("--json", action="store_true", help="print the raw JSON")
    stats.set_defaults(handler=_stats)

    doctor = commands.add_parser(
        "doctor", parents=[common], help="check config, keys, database and providers"
    )
    doctor.add_argument(
        "--probe", action="store_true", help="also reach each provider (GET /models, no quota)"
    )
    doctor.set_defaults(handler=_doctor)

    opencode = commands.add_parser(
        "opencode-config", parents=[common], help="print an opencode.json for this gateway"
    )
    opencode.add_argument(
        "--base-url",
        default=_local_url(),
        help="where OpenCode reaches the gateway (default: GATEWAY_HOST:GATEWAY_PORT)",
    )
    opencode.add_argument(
        "--variant",
        choices=("chat", "responses"),
        default="chat",
        help="chat: @ai-sdk/openai-compatible (chat completions); "
        "responses: @ai-sdk/openai (Responses API)",
    )
    opencode.add_argument(
        "--api-key",
        help="key to write into the file (default: {env:PROXY_API_KEY}, which OpenCode reads "
        "from its environment, when the gateway has a key; a placeholder when it is open)",
    )
    opencode.set_defaults(handler=_opencode_config)

    from gateway.agents import AGENTS

    agent = commands.add_parser(
        "agent-config",
        parents=[common],
        help="print what a coding agent needs to use this gateway (config or exports)",
    )
    agent.add_argument("agent", choices=AGENTS)
    agent.add_argument(
        "--base-url",
        default=_local_url(),
        help="where the agent reaches the gateway (default: GATEWAY_HOST:GATEWAY_PORT)",
    )
    agent.add_argument("--model", default="coding-elite", help="the model the agent asks for")
    agent.set_defaults(handler=_agent_config)
    return parser


def _local_url() -> str:
    """Where `gateway run` listens by default (GATEWAY_HOST:GATEWAY_PORT)."""
    host = os.environ.get("GATEWAY_HOST") or "127.0.0.1"
    return f"http://{host}:{os.environ.get('GATEWAY_PORT') or 8000}"


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(args.config_dir)


def _run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    _configure_logging(settings.log_level)
    from gateway.app import create_app
    from gateway.server import serve

    app = create_app(settings)
    # LiteLLM leaves hundreds of thousands of long-lived objects behind at import; without
    # freezing them every full collection walks them all (up to 0.5 s pauses at 32 concurrent
    # requests, make bench). No collect() first: it would cost startup time for little memory.
    gc.freeze()
    serve(app, settings, args.host, args.port)
    return 0


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # LiteLLM logs every failed attempt at INFO through handlers of its own (each line twice
    # with ours); the chain already logs each failover once, with the secret-free reason.
    for name in ("LiteLLM", "LiteLLM Router", "LiteLLM Proxy"):
        logger = logging.getLogger(name)
        logger.setLevel(level if level == "DEBUG" else "WARNING")
        logger.propagate = False


def _config(args: argparse.Namespace) -> int:
    import yaml

    from gateway.catalog import build_catalog
    from gateway.litellm_glue.config import build_litellm_config

    settings = _settings(args)
    config = load_config(settings.config_dir)
    catalog = build_catalog(config, os.environ, settings.rankings_dir)
    generated = build_litellm_config(
        catalog, config.routing, master_key_env="PROXY_API_KEY" if settings.proxy_api_key else None
    )
    # Keys are `os.environ/NAME` references already; nothing secret is printed.
    print(yaml.safe_dump(generated, sort_keys=False), end="")
    return 0


def _models(args: argparse.Namespace) -> int:
    import json

    from gateway.catalog import build_catalog
    from gateway.rankings.explain import render_text

    settings = _settings(args)
    catalog = build_catalog(load_config(settings.config_dir), os.environ, settings.rankings_dir)
    ranker = _offline_ranker(catalog, settings)
    if args.explain:
        if ranker is None or args.explain not in ranker.chains:
            auto = sorted(ranker.chains) if ranker else []
            print(
                f"{args.explain!r} is not an auto-ordered virtual model "
                f"(those are: {', '.join(auto) or 'none'})",
                file=sys.stderr,
            )
            return 2
        explanation = ranker.explain(args.explain)
        print(json.dumps(explanation, indent=2) if args.json else render_text(explanation))
        return 0
    chains = [*catalog.virtual_models.values(), *([catalog.search] if catalog.search else [])]
    if ranker is not None:
        chains = [ranker.apply_order(chain) for chain in chains]
    if args.json:
        print(json.dumps([_chain_dict(chain) for chain in chains], indent=2))
        return 0
    for chain in chains:
        usable = sum(c.usable for c in chain.candidates)
        order = f"  [auto-ordered, profile {chain.ordered_by}]" if chain.ordered_by else ""
        print(
            f"{chain.name}  ({usable}/{len(chain.candidates)} usable)  {chain.description}{order}"
        )
        for position, candidate in enumerate(chain.candidates, start=1):
            status = "ok" if candidate.usable else f"unusable: {candidate.problem}"
            print(f"  {position}. {candidate.ref:<55} {status}")
    print("\ndirect models:")
    for deployment in catalog.deployments.values():
        status = "ok" if deployment.usable else f"unusable: {deployment.problem}"
        print(f"  {deployment.id:<58} {status}")
    return 0


def _chain_dict(chain) -> dict:
    return {
        "name": chain.name,
        "description": chain.description,
        "profile": chain.ordered_by,
        "mode": chain.mode,
        "candidates": [
            {"route": c.ref, "usable": c.usable, "problem": c.problem} for c in chain.candidates
        ],
    }


def _offline_ranker(catalog, settings: Settings):
    """The ranker a running gateway would have now: published figures, and the live ones from
    the telemetry database when it can be read."""
    if catalog.rankings is None:
        return None
    from gateway.rankings.ranker import Ranker
    from gateway.telemetry.live import route_signals
    from gateway.telemetry.writer import database_url, make_engine

    config = load_config(settings.config_dir)
    ranker = Ranker(catalog, catalog.rankings, config.routing)
    if not ranker.chains:
        return ranker
    routes = sorted({c.ref for r in ranker.chains.values() for c in r.listed.candidates})
    try:
        engine = make_engine(database_url(settings.db_url, settings.data_dir))
        live = route_signals(
            engine,
            routes,
            window_samples=config.routing.ranking_window_samples,
            window_seconds=config.routing.ranking_window_seconds,
        )
        engine.dispose()
    except Exception:  # no telemetry yet (or unreachable): published figures only
        live = {}
    ranker.recompute(live)
    return ranker


def _rankings_update(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from gateway.rankings.update import PRESETS, update_source

    fmt = PRESETS[args.format]
    overrides = {
        "metric": args.metric,
        "records": args.records,
        "name": args.name,
        "value": args.value,
        "scale": args.scale,
        "url": args.cite,
    }
    fmt = replace(fmt, **{k: v for k, v in overrides.items() if v is not None})
    directory = Path(args.rankings_dir) if args.rankings_dir else Settings.from_env().rankings_dir
    try:
        report = update_source(
            directory, args.location, fmt, provider=args.provider, dry_run=args.dry_run
        )
    except OSError as exc:
        print(f"could not read {args.location}: {exc}", file=sys.stderr)
        return 1
    print(report.text())
    return 0


def _stats(args: argparse.Namespace) -> int:
    import json

    import httpx

    from gateway.stats_view import render_text

    key = os.environ.get("PROXY_API_KEY")
    headers = {"authorization": f"Bearer {key}"} if key else {}
    try:
        response = httpx.get(args.url.rstrip("/") + "/stats", headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        print(
            f"gateway not reachable at {args.url} ({type(exc).__name__}); is it running?",
            file=sys.stderr,
        )
        return 1
    if response.status_code != 200:
        print(
            f"{args.url}/stats answered {response.status_code}: {response.text[:300]}",
            file=sys.stderr,
        )
        return 1
    document = response.json()
    print(json.dumps(document, indent=2) if args.json else render_text(document))
    return 0


def _opencode_config(args: argparse.Namespace) -> int:
    import json

    from gateway.catalog import build_catalog
    from gateway.opencode import opencode_config

    settings = _settings(args)
    catalog = build_catalog(load_config(settings.config_dir), os.environ, settings.rankings_dir)
    api_key = args.api_key or ("{env:PROXY_API_KEY}" if settings.proxy_api_key else "not-needed")
    config = opencode_config(catalog, args.base_url, variant=args.variant, api_key=api_key)
    print(json.dumps(config, indent=2))
    return 0


def _agent_config(args: argparse.Namespace) -> int:
    from gateway.agents import agent_config
    from gateway.catalog import build_catalog

    settings = _settings(args)
    catalog = build_catalog(load_config(settings.config_dir), os.environ, settings.rankings_dir)
    if catalog.chain_for(args.model) is None:
        print(f"unknown model {args.model!r}; `gateway models` lists them", file=sys.stderr)
        return 2
    print(
        agent_config(
            args.agent,
            catalog,
            args.base_url,
            model=args.model,
            has_key=settings.proxy_api_key is not None,
        )
    )
    return 0


def _doctor(args: argparse.Namespace) -> int:
    from gateway.doctor import render, run_checks

    findings = run_checks(_settings(args), probe=args.probe)
    print(render(findings))
    return 0 if all(f.ok for f in findings) else 1


if __name__ == "__main__":
    sys.exit(main())
