"""Process settings from the environment (and `.env`), plus the offline-safe defaults that must
be in place before LiteLLM is imported."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONFIG_DIR = REPO_ROOT / "litellm_config"
DEFAULT_DATA_DIR = REPO_ROOT / "data"
DEFAULT_RANKINGS_DIR = REPO_ROOT / "rankings"

# LiteLLM reads these at import time; set them before anything imports litellm.
OFFLINE_DEFAULTS = {
    # Use the cost map bundled with LiteLLM instead of downloading it on import.
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
    # Never fetch HuggingFace tokenizers (a 23 s stall per streamed llama request offline).
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
    # Everything LiteLLM fetches on its own (its admin UI's release banner and blog posts,
    # policy templates, beta-header lists, the password breach check) uses its bundled copy
    # or is skipped.
    "LITELLM_OFFLINE_MODE": "true",
    # LiteLLM's anonymous usage telemetry.
    "LITELLM_TELEMETRY": "False",
    "DISABLE_SCHEMA_UPDATE": "True",
    # `import litellm` otherwise calls load_dotenv() itself, finding whichever .env is above
    # the current directory; the gateway reads its own (GATEWAY_DOTENV) instead.
    "LITELLM_MODE": "PRODUCTION",
}


def load_environment(dotenv_path: Path | None = None) -> None:
    """Load `.env` (never overriding the real environment) and apply offline-safe defaults."""
    from dotenv import load_dotenv

    path = dotenv_path or Path(os.environ.get("GATEWAY_DOTENV", REPO_ROOT / ".env"))
    if path.is_file():
        load_dotenv(path, override=False)
    for key, value in OFFLINE_DEFAULTS.items():
        os.environ.setdefault(key, value)


@dataclass(frozen=True)
class Settings:
    """Where things are and who may call us."""

    config_dir: Path
    data_dir: Path
    proxy_api_key: str | None
    log_level: str
    db_url: str | None = None
    telemetry_retention_days: int = 32  # a whole month, for monthly quotas
    redis_url: str | None = None  # shared cooldowns and quotas between instances
    redis_prefix: str = "llm-gateway"
    # LiteLLM proxy route groups served behind the gateway's own routes (closed by default).
    litellm_routes: tuple[str, ...] = ()
    responses_retention_days: float = 30  # stored Responses API responses; 0: none stored
    # Who may call from a browser (CORS); empty: no cross-origin access.
    cors_origins: tuple[str, ...] = ()
    max_body_mb: float = 32.0  # larger request bodies get a 413
    max_in_flight: int = 512  # more requests at once get a 503 with Retry-After
    drain_seconds: float = 20.0  # on shutdown, time the streams in flight get to finish
    keepalive_seconds: float = 75.0  # idle keep-alive connections are closed after this
    header_timeout_seconds: float = 10.0  # a request's headers must arrive within this
    max_header_kb: int = 64  # all of a request's headers together
    max_headers: int = 100
    rankings_dir: Path = DEFAULT_RANKINGS_DIR  # benchmark data and profiles (auto_order)
    metrics_public: bool = False  # GET /metrics without PROXY_API_KEY (Prometheus scrapers)

    @property
    def generated_dir(self) -> Path:
        return self.data_dir / "generated"

    @classmethod
    def from_env(cls, config_dir: str | Path | None = None) -> Settings:
        env = os.environ
        return cls(
            config_dir=Path(config_dir or env.get("GATEWAY_CONFIG_DIR") or DEFAULT_CONFIG_DIR),
            data_dir=Path(env.get("GATEWAY_DATA_DIR") or DEFAULT_DATA_DIR),
            proxy_api_key=(env.get("PROXY_API_KEY") or "").strip() or None,
            log_level=(env.get("GATEWAY_LOG_LEVEL") or "INFO").upper(),
            db_url=(env.get("GATEWAY_DB_URL") or "").strip() or None,
            telemetry_retention_days=int(env.get("GATEWAY_TELEMETRY_RETENTION_DAYS") or 32),
            redis_url=(env.get("GATEWAY_REDIS_URL") or "").strip() or None,
            redis_prefix=(env.get("GATEWAY_REDIS_PREFIX") or "").strip() or "llm-gateway",
            litellm_routes=_names(env.get("GATEWAY_LITELLM_ROUTES")),
            responses_retention_days=float(env.get("GATEWAY_RESPONSES_RETENTION_DAYS") or 30),
            cors_origins=_names(env.get("GATEWAY_CORS_ORIGINS")),
            max_body_mb=float(env.get("GATEWAY_MAX_BODY_MB") or 32),
            max_in_flight=int(env.get("GATEWAY_MAX_IN_FLIGHT") or 512),
            drain_seconds=float(env.get("GATEWAY_DRAIN_SECONDS") or 20),
            keepalive_seconds=float(env.get("GATEWAY_KEEPALIVE_SECONDS") or 75),
            header_timeout_seconds=float(env.get("GATEWAY_HEADER_TIMEOUT_SECONDS") or 10),
            max_header_kb=int(env.get("GATEWAY_MAX_HEADER_KB") or 64),
            max_headers=int(env.get("GATEWAY_MAX_HEADERS") or 100),
            rankings_dir=Path(env.get("GATEWAY_RANKINGS_DIR") or DEFAULT_RANKINGS_DIR),
            metrics_public=_truthy(env.get("GATEWAY_METRICS_PUBLIC")),
        )


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _names(value: str | None) -> tuple[str, ...]:
    """A comma- or space-separated list of names."""
    return tuple(dict.fromkeys(n for n in (value or "").replace(",", " ").split() if n))
