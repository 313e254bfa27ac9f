"""Peer gateways measured next to ours: Portkey's open-source gateway and MLflow's AI Gateway.

Each peer is installed once into a cache directory outside the repo (not globally, and not
into the project venv, where MLflow's pins could clash with LiteLLM's), and reinstalled only
when its pinned version changes. A peer that cannot be installed here (no node/npm, no registry, a
failed install) is skipped with a printed reason: the peers are context for our numbers, not a
reason to lose them.

Bifrost is not among them: its npm launcher downloads its Go binary at run time, which this
machine (package registries only) cannot do; see BIFROST_NOTE.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from bench.clients import DONE
from bench.procs import LaunchSpec, free_port
from bench.servers import PROVIDER_KEY, UPSTREAM_MODEL, VIRTUAL_MODEL, base_env

PORTKEY = "portkey"
MLFLOW = "mlflow"

CACHE_DIR = (
    Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    / "free-llm-gateway"
    / "bench-peers"
)
PORTKEY_VERSION = "1.15.2"
# Portkey's own repo pins @hono/node-server 1.13.5 and patches it (its patches/ directory is not
# in the npm package); with the release npm resolves by default (1.19.x), every stream fails
# with `TypeError: immutable`.
HONO_NODE_SERVER_VERSION = "1.13.5"
_HONO_UNAWAITED = "      return responseViaResponseObject(res, outgoing, options);"
_HONO_AWAITED = "      return await responseViaResponseObject(res, outgoing, options);"
MLFLOW_REQUIREMENTS = ("mlflow-skinny[gateway]==3.17.2", "numpy", "aiohttp", "gunicorn")

NPM_TIMEOUT_S = 300
PIP_TIMEOUT_S = 900
BIFROST_NOTE = (
    "Bifrost not measured: its npm launcher downloads the Go binary at run time, and this "
    "machine reaches only package registries."
)


class PeerUnavailable(Exception):
    """A peer cannot be installed or configured here; the message says why."""


@dataclass(frozen=True)
class Peer:
    """An installed peer, configured against the emulator: how to start it, how to call it."""

    name: str
    version: str
    model: str  # the request's "model": what this peer routes on
    make_spec: Callable[[], LaunchSpec]  # a fresh port per start
    note: str  # how it ran, for the report
    headers: dict[str, str] = field(default_factory=dict)  # on top of the shared headers
    stream_end: bytes = DONE


def install(log: Callable[[str], None]) -> tuple[dict[str, Path], list[str]]:
    """Install every peer that can be; (installed homes by name, one reason per skipped)."""
    homes: dict[str, Path] = {}
    skipped: list[str] = []
    for name, installer in ((PORTKEY, install_portkey), (MLFLOW, install_mlflow)):
        try:
            homes[name] = installer(log)
        except (PeerUnavailable, OSError) as exc:
            skipped.append(f"{name} skipped: {exc}")
            log(f"{name} skipped: {exc}")
    return homes, skipped


def configure(
    name: str, home: Path, workdir: Path, emulator_port: int, workers: int | None
) -> Peer:
    """Both peers call the emulator's OpenAI path (`/v1`, provider "openai" there)."""
    api_base = f"http://127.0.0.1:{emulator_port}/v1"
    if name == PORTKEY:
        return portkey_peer(home, api_base)
    return mlflow_peer(home, workdir / "mlflow" / "config.yaml", api_base, workers)


# --- Portkey --------------------------------------------------------------------------------


def install_portkey(log: Callable[[str], None], home: Path = CACHE_DIR / "portkey") -> Path:
    """npm-install the pinned gateway and @hono/node-server into `home`, then apply Portkey's
    one-line fix to the latter; every step is skipped when already done."""
    for tool in ("node", "npm"):
        if shutil.which(tool) is None:
            raise PeerUnavailable(f"`{tool}` not found on PATH")
    if not _portkey_installed(home):
        log(f"installing @portkey-ai/gateway@{PORTKEY_VERSION} into {home}")
        home.mkdir(parents=True, exist_ok=True)
        pins = {
            "@portkey-ai/gateway": PORTKEY_VERSION,
            "@hono/node-server": HONO_NODE_SERVER_VERSION,
        }
        package = {
            "name": "bench-peer-portkey",
            "private": True,
            "dependencies": pins,
            # Also for the copies that @portkey-ai/gateway and @hono/node-ws depend on.
            "overrides": {"@hono/node-server": HONO_NODE_SERVER_VERSION},
        }
        (home / "package.json").write_text(json.dumps(package, indent=2) + "\n")
        _run(["npm", "install", "--no-audit", "--no-fund"], home, NPM_TIMEOUT_S)
        if not _portkey_installed(home):
            raise PeerUnavailable(f"npm install in {home} did not install the pinned versions")
    for index_mjs in _hono_copies(home):
        _patch_hono(index_mjs)
    return home


def portkey_peer(home: Path, api_base: str) -> Peer:
    """`--headless`: no log-viewer UI and no log stream for it, as in production. Portkey forwards
    the client's Authorization header to the provider; the emulator accepts any key."""
    script = home / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"

    def make_spec() -> LaunchSpec:
        port = free_port()
        argv = ["node", str(script), f"--port={port}", "--headless"]
        return LaunchSpec(name=PORTKEY, argv=argv, env=base_env(), port=port, ready_path="/")

    version = f"@portkey-ai/gateway {PORTKEY_VERSION}"
    note = (
        f"Portkey ({version}, @hono/node-server {HONO_NODE_SERVER_VERSION} with Portkey's "
        f"await fix, node {_node_version()}): one node process (it has no workers option), "
        "`--headless`, headers `x-portkey-provider: openai` and `x-portkey-custom-host` set "
        "to the emulator. By design its stream reader sleeps 25 ms before forwarding the "
        "first event of every stream, so its stream latency at c=1 includes those 25 ms."
    )
    headers = {"x-portkey-provider": "openai", "x-portkey-custom-host": api_base}
    return Peer(PORTKEY, version, UPSTREAM_MODEL, make_spec, note, headers)


def _portkey_installed(home: Path) -> bool:
    modules = home / "node_modules"
    copies = list(_hono_copies(home))
    return (
        _npm_version(modules / "@portkey-ai" / "gateway") == PORTKEY_VERSION
        and bool(copies)
        and all(_npm_version(c.parents[1]) == HONO_NODE_SERVER_VERSION for c in copies)
    )


def _hono_copies(home: Path) -> list[Path]:
    """Every installed @hono/node-server's ESM entry (npm may nest a second copy)."""
    return sorted((home / "node_modules").glob("**/@hono/node-server/dist/index.mjs"))


def _patch_hono(index_mjs: Path) -> None:
    """Portkey's patches/@hono+node-server+1.13.5.patch: await the response so that errors
    while streaming it reach the handler's catch."""
    text = index_mjs.read_text(encoding="utf-8")
    if text.count(_HONO_UNAWAITED) == 1:
        index_mjs.write_text(text.replace(_HONO_UNAWAITED, _HONO_AWAITED), encoding="utf-8")
        text = index_mjs.read_text(encoding="utf-8")
    if _HONO_UNAWAITED in text or text.count(_HONO_AWAITED) != 1:
        raise PeerUnavailable(f"could not apply Portkey's await fix to {index_mjs}")


def _npm_version(package_dir: Path) -> str | None:
    try:
        return json.loads((package_dir / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


# --- MLflow ---------------------------------------------------------------------------------


def install_mlflow(log: Callable[[str], None], venv: Path = CACHE_DIR / "mlflow-venv") -> Path:
    """A venv of its own: MLflow's pins must not move the project's LiteLLM dependencies."""
    stamp = venv / ".installed"
    wanted = "\n".join(MLFLOW_REQUIREMENTS)
    if _read(stamp) == wanted and (venv / "bin" / "mlflow").exists():
        return venv
    log(f"installing {' '.join(MLFLOW_REQUIREMENTS)} into {venv}")
    if not (venv / "bin" / "python").exists():
        _run([_base_python(), "-m", "venv", str(venv)], venv.parent, PIP_TIMEOUT_S)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", "--upgrade"]
    _run([*pip, "pip"], venv, PIP_TIMEOUT_S)
    _run([*pip, *MLFLOW_REQUIREMENTS], venv, PIP_TIMEOUT_S)
    stamp.write_text(wanted)
    return venv


def mlflow_peer(venv: Path, config_path: Path, api_base: str, workers: int | None) -> Peer:
    """`mlflow gateway start` (gunicorn + uvicorn workers) with one chat endpoint named like
    our virtual model, called on its OpenAI-compatible /v1/chat/completions. One worker unless
    --workers says otherwise (its default is 2), so every proxy gets the same process count."""
    endpoint = {
        "name": VIRTUAL_MODEL,
        "endpoint_type": "llm/v1/chat",
        "model": {
            "provider": "openai",
            "name": UPSTREAM_MODEL,
            "config": {"openai_api_key": PROVIDER_KEY, "openai_api_base": api_base},
        },
    }
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(yaml.safe_dump({"endpoints": [endpoint]}, sort_keys=False))
    env = {
        **base_env(),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        # The emulator is on 127.0.0.1; allow it should this version guard upstream addresses.
        "MLFLOW_GATEWAY_API_BASE_ALLOW_PRIVATE_IPS": "true",
    }

    def make_spec() -> LaunchSpec:
        port = free_port()
        argv = [str(venv / "bin" / "mlflow"), "gateway", "start", "--config-path", str(config_path)]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers or 1)]
        return LaunchSpec(name=MLFLOW, argv=argv, env=env, port=port, ready_path="/health")

    version = f"mlflow-skinny {_venv_version(venv, 'mlflow-skinny')}"
    note = (
        f"MLflow ({version}): `mlflow gateway start` (the CLI with its config watcher, a "
        f"gunicorn master and {workers or 1} uvicorn worker(s), all counted in its CPU and "
        f"RSS), one `openai` chat endpoint named `{VIRTUAL_MODEL}`, called on its "
        "OpenAI-compatible /v1/chat/completions. Its streams end without `data: [DONE]`: "
        "one counts as complete once the usage chunk arrived."
    )
    # Its streams end after the usage chunk, without `data: [DONE]`.
    return Peer(MLFLOW, version, VIRTUAL_MODEL, make_spec, note, stream_end=b'"total_tokens":')


def _base_python() -> str:
    """The interpreter the project venv was made from: a venv inside a venv works, but it
    would tie the cache to this checkout's .venv."""
    return getattr(sys, "_base_executable", None) or sys.executable


def _node_version() -> str:
    try:
        result = subprocess.run(
            ["node", "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return result.stdout.strip() or "unknown"


def _venv_version(venv: Path, distribution: str) -> str:
    result = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"from importlib.metadata import version; print(version({distribution!r}))",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


# --- shared ---------------------------------------------------------------------------------


def _run(argv: list[str], cwd: Path, timeout: float) -> None:
    """Run an install step; any failure becomes PeerUnavailable with the output's tail."""
    cwd.mkdir(parents=True, exist_ok=True)
    try:
        result = subprocess.run(
            argv, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise PeerUnavailable(f"`{' '.join(argv)}` failed: {exc}") from exc
    if result.returncode != 0:
        reason = " | ".join(_error_lines(result.stdout + result.stderr))
        raise PeerUnavailable(f"`{' '.join(argv)}` exited {result.returncode}: {reason}")


def _error_lines(output: str, keep: int = 4) -> list[str]:
    """The first error lines (npm prints its cause first, then a stack), else the tail."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() and " at " not in line]
    return errors[:keep] or lines[-keep:]


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None
