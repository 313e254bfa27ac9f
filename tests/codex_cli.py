"""Install and run the real Codex CLI (npm `@openai/codex`) for end-to-end tests: `codex exec`
speaks the Responses API (`POST /v1/responses`, streamed) to the provider in its config."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gateway.agents import agent_config
from gateway.catalog import Catalog

CODEX_VERSION = "0.171.0"  # the version the field notes were written against
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "free-llm-gateway"
API_KEY = "sk-test-gateway-key"  # sent as a bearer token; the test gateways are open
API_KEY_ENV = "GATEWAY_API_KEY"


def codex_binary() -> Path:
    """`codex`, installed once into a cache shared by test runs (npm, no global install; the
    binary comes in a platform package). Skipped where node/npm are missing, except in CI
    where that fails."""
    install_dir = CACHE / f"codex-{CODEX_VERSION}"
    binary = install_dir / "node_modules" / ".bin" / "codex"
    if binary.exists():
        return binary
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = "node/npm not installed: cannot run the real Codex CLI"
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
            f"@openai/codex@{CODEX_VERSION}",
        ],
        cwd=install_dir,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return binary


def codex_config(base_url: str, model: str) -> str:
    """`$CODEX_HOME/config.toml` for the gateway at `base_url` (no `/v1`): exactly what
    `gateway agent-config codex` prints for users."""
    return agent_config("codex", Catalog(), base_url, model=model, has_key=False)


@dataclass
class CodexRun:
    """One `codex exec --json` run: its exit status, the JSON events it printed, and the raw
    output for assertion messages."""

    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    def tail(self, chars: int = 3000) -> str:
        err, out = self.stderr[-chars:], self.stdout[-chars:]
        return f"exit {self.returncode}\nstderr:\n{err}\nstdout:\n{out}"

    def items(self, kind: str) -> list[dict[str, Any]]:
        """The completed items of one type (`command_execution`, `agent_message`, ...)."""
        return [
            event["item"]
            for event in self.events
            if event.get("type") == "item.completed" and event["item"].get("type") == kind
        ]

    def of_type(self, kind: str) -> list[dict[str, Any]]:
        return [event for event in self.events if event.get("type") == kind]


def run_codex(
    binary: Path, workdir: Path, base_url: str, model: str, prompt: str, timeout: float = 180
) -> CodexRun:
    """`codex exec --json <prompt>` in `workdir` against the gateway at `base_url`, with a
    scratch HOME and CODEX_HOME so nothing from the user's setup leaks in."""
    scratch = workdir.parent / (workdir.name + "-codex")
    home, codex_home = scratch / "home", scratch / "codex-home"
    for directory in (home, codex_home):
        directory.mkdir(parents=True, exist_ok=True)
    (codex_home / "config.toml").write_text(codex_config(base_url, model))
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "CODEX_HOME": str(codex_home),
        API_KEY_ENV: API_KEY,
    }
    command = [
        str(binary),
        "exec",
        "--json",
        "--skip-git-repo-check",
        "--dangerously-bypass-approvals-and-sandbox",
        prompt,
    ]
    try:
        result = subprocess.run(
            command,
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out = _text(exc.stdout)[-3000:]
        err = _text(exc.stderr)[-3000:]
        pytest.fail(f"Codex did not finish in {timeout}s\nstderr:\n{err}\nstdout:\n{out}")
    return CodexRun(result.returncode, _json_lines(result.stdout), result.stdout, result.stderr)


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    events = []
    for line in stdout.splitlines():
        if line.startswith("{"):
            with contextlib.suppress(json.JSONDecodeError):
                events.append(json.loads(line))
    return events


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
