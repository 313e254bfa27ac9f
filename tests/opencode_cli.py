"""Install and run the real OpenCode CLI (npm `opencode-ai`) for end-to-end tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

OPENCODE_VERSION = "1.18.33"  # the version the field notes were written against
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "free-llm-gateway"


def opencode_binary() -> Path:
    """`opencode`, installed once into a cache shared by test runs (npm, no global install).
    Skipped where node/npm are missing, except in CI where that fails."""
    install_dir = CACHE / f"opencode-{OPENCODE_VERSION}"
    binary = install_dir / "node_modules" / ".bin" / "opencode"
    if binary.exists():
        return binary
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = "node/npm not installed: cannot run the real OpenCode"
        if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (required in CI)")
        pytest.skip(message)
    install_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            "npm",
            "install",
            "--no-audit",
            "--no-fund",
            "--loglevel=error",
            f"opencode-ai@{OPENCODE_VERSION}",
        ],
        cwd=install_dir,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return binary


def run_opencode(
    binary: Path, workdir: Path, config: dict, prompt: str, timeout: float = 180
) -> list[dict]:
    """`opencode run --format json <prompt>` in `workdir`; the JSON events it printed."""
    home = workdir.parent / (workdir.name + "-home")
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "OPENCODE_CONFIG_CONTENT": json.dumps(config),
        "OPENCODE_DISABLE_MODELS_FETCH": "1",
        "OPENCODE_DISABLE_AUTOUPDATE": "1",
        "OPENCODE_DISABLE_LSP_DOWNLOAD": "1",
        "OPENCODE_DISABLE_SHARE": "1",
    }
    result = subprocess.run(
        [str(binary), "run", "--format", "json", *prompt.split()],
        cwd=workdir,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
