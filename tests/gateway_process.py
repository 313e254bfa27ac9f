"""Run the real gateway (`python -m gateway run`) as a subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """`python -m gateway ARGS` with a bare environment (no developer .env)."""
    base_env = {"PATH": "/usr/bin:/bin", "GATEWAY_DOTENV": "/nonexistent/.env", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        cwd=REPO,
        env=base_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def write_config(
    directory: Path,
    providers: dict[str, Any],
    virtual_models: dict[str, Any],
    *,
    search: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    providers_file: dict[str, Any] = {"providers": providers}
    if search:
        providers_file["search"] = search
    (directory / "providers.yaml").write_text(yaml.safe_dump(providers_file, sort_keys=False))
    (directory / "virtual_models.yaml").write_text(
        yaml.safe_dump({"virtual_models": virtual_models, **extra}, sort_keys=False)
    )
    return directory


class GatewayProcess:
    """`with GatewayProcess(config_dir, env) as gw: httpx.get(gw.url + "/v1/models")`."""

    def __init__(
        self,
        config_dir: Path,
        data_dir: Path,
        env: dict[str, str] | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config_dir = config_dir
        self.data_dir = data_dir
        self.log_path = data_dir / "gateway.log"
        self.env = {
            **os.environ,
            "GATEWAY_DOTENV": str(data_dir / "no.env"),  # never read a developer's .env
            "GATEWAY_DATA_DIR": str(data_dir),
            "GATEWAY_LOG_LEVEL": "INFO",
            **(env or {}),
        }
        if "PROXY_API_KEY" not in (env or {}):
            self.env.pop("PROXY_API_KEY", None)  # open unless a test asks for a key
        self.startup_timeout = startup_timeout
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> GatewayProcess:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("wb")
        self.process = subprocess.Popen(
            [
                *(sys.executable, "-m", "gateway", "run"),
                *("--port", str(self.port), "--config-dir", str(self.config_dir)),
            ],
            cwd=REPO,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gateway exited early:\n{self.log()}")
            try:
                if httpx.get(self.url + "/health/liveliness", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"gateway did not start in {self.startup_timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> GatewayProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
