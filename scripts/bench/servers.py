"""The three servers under test and their configs: the provider emulator, a stock LiteLLM
proxy and our gateway, each with one deployment pointing at the emulator.

Both proxies get the same offline environment, so neither one pays for a network call (cost
map download, HuggingFace tokenizer, telemetry) that the other skips.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from bench.procs import REPO, LaunchSpec, free_port
from gateway.settings import OFFLINE_DEFAULTS

BIN = Path(sys.executable).parent  # the venv's bin/, where `make install` put `litellm`
PROVIDER_KEY = "gsk_bench_" + secrets.token_hex(12)
UPSTREAM_MODEL = "bench-model"
VIRTUAL_MODEL = "bench"
DIRECT_MODEL = f"groq/{UPSTREAM_MODEL}"

# What the gateway applies to itself before importing LiteLLM (gateway/settings.py, including
# LITELLM_MODE=PRODUCTION, which stops `import litellm` from loading a .env of its own); the
# stock proxy gets the same, so that both run equally offline and hermetic.
OFFLINE_ENV = {
    **OFFLINE_DEFAULTS,
    "NO_PROXY": "127.0.0.1,localhost",
    "no_proxy": "127.0.0.1,localhost",
}
# Inherited settings that would change what either proxy does (keys, DB, log level, config).
_SCRUBBED_PREFIXES = ("GATEWAY_", "LITELLM_", "GROQ_")
_SCRUBBED_NAMES = frozenset({"PROXY_API_KEY", "DATABASE_URL", "CONFIG_FILE_PATH", "REDIS_HOST"})


@dataclass(frozen=True)
class StockAuth:
    """How the stock proxy is secured. A master key is what LiteLLM's docs tell a user to
    set; `None` runs it open via the documented escape hatch, like our gateway without
    PROXY_API_KEY."""

    master_key: str | None

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.master_key}"} if self.master_key else {}


def base_env() -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(_SCRUBBED_PREFIXES) and key not in _SCRUBBED_NAMES
    }
    return {**env, **OFFLINE_ENV}


def emulator_spec() -> LaunchSpec:
    """The emulator prints `READY <port>` once it listens (see tests/emulators/__main__.py)."""
    port = free_port()
    return LaunchSpec(
        name="emulator",
        argv=[sys.executable, "-m", "tests.emulators", "--port", str(port)],
        env=base_env(),
        port=port,
        ready_path="/healthz",
    )


def upstream_api_base(emulator_port: int) -> str:
    return f"http://127.0.0.1:{emulator_port}/openai/v1"


def write_gateway_config(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": [UPSTREAM_MODEL]}
    }
    virtual = {VIRTUAL_MODEL: {"candidates": [DIRECT_MODEL]}}
    _dump(directory / "providers.yaml", {"providers": providers})
    _dump(directory / "virtual_models.yaml", {"virtual_models": virtual})
    return directory


def gateway_spec(
    config_dir: Path, data_dir: Path, emulator_port: int, workers: int | None
) -> LaunchSpec:
    port = free_port()
    argv = [sys.executable, "-m", "gateway", "run", "--port", str(port)]
    argv += ["--config-dir", str(config_dir)]
    if workers is not None:
        argv += ["--workers", str(workers)]
    env = {
        **base_env(),
        "GROQ_API_KEY": PROVIDER_KEY,
        "GROQ_API_BASE": upstream_api_base(emulator_port),
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_DOTENV": str(data_dir / "no-such.env"),
        "GATEWAY_LOG_LEVEL": "WARNING",
    }
    return LaunchSpec(name="gateway", argv=argv, env=env, port=port)


def gateway_supports_workers() -> bool:
    """`gateway run --workers` is optional; ask its --help rather than guess."""
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "run", "--help"],
        cwd=REPO,
        env=base_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return "--workers" in result.stdout


def write_stock_config(path: Path, emulator_port: int, auth: StockAuth) -> Path:
    """The stock equivalent of the gateway's one deployment, with LiteLLM defaults otherwise."""
    deployment = {
        "model": DIRECT_MODEL,
        "api_base": upstream_api_base(emulator_port),
        "api_key": PROVIDER_KEY,
    }
    config: dict[str, object] = {
        "model_list": [{"model_name": VIRTUAL_MODEL, "litellm_params": deployment}],
        "litellm_settings": {"disable_hf_tokenizer_download": True},
    }
    # Open mode uses the same escape hatch the gateway's generated config uses.
    config["general_settings"] = (
        {"master_key": auth.master_key}
        if auth.master_key
        else {"dangerously_permit_weak_or_unset_master_key": True}
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    _dump(path, config)
    return path


def stock_spec(config_file: Path, workers: int) -> LaunchSpec:
    """The documented way to run the proxy: the `litellm` CLI (uvicorn, uvloop)."""
    port = free_port()
    argv = [str(BIN / "litellm"), "--config", str(config_file), "--host", "127.0.0.1"]
    argv += ["--port", str(port), "--num_workers", str(workers)]
    return LaunchSpec(name="stock", argv=argv, env=base_env(), port=port)


def _dump(path: Path, data: object) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
