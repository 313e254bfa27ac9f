"""Install and run the real Claude Code CLI (npm `@anthropic-ai/claude-code`) for end-to-end
tests: `claude -p` speaks Anthropic's Messages API (`POST /v1/messages?beta=true`, streamed) to
`ANTHROPIC_BASE_URL`."""

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

CLAUDE_CODE_VERSION = "2.1.332"  # what npm gave on 2026-12-01 (the field notes saw 2.1.197)
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "free-llm-gateway"
API_KEY = "sk-ant-test-gateway-key"  # sent as `x-api-key`; the test gateways are open


def claude_binary() -> Path:
    """`claude`, installed once into a cache shared by test runs (npm, no global install).
    Skipped where node/npm are missing, except in CI where that fails."""
    install_dir = CACHE / f"claude-code-{CLAUDE_CODE_VERSION}"
    binary = install_dir / "node_modules" / ".bin" / "claude"
    if binary.exists():
        return binary
    if shutil.which("npm") is None or shutil.which("node") is None:
        message = "node/npm not installed: cannot run the real Claude Code"
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
            f"@anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}",
        ],
        cwd=install_dir,
        check=True,
        capture_output=True,
        timeout=600,
    )
    return binary


@dataclass
class ClaudeRun:
    """One `claude -p --output-format stream-json --verbose` run: its exit status, the JSON
    events it printed, and the raw output for assertion messages."""

    returncode: int
    events: list[dict[str, Any]]
    stdout: str
    stderr: str

    def tail(self, chars: int = 3000) -> str:
        """Exit status, the final result (where Claude Code says what went wrong, e.g.
        `API Error: 400 ...`), and the ends of stderr and stdout."""
        results = [event for event in self.events if event.get("type") == "result"]
        summary = results[-1].get("result") if results else "(no result event)"
        err, out = self.stderr[-chars:], self.stdout[-chars:]
        return f"exit {self.returncode}: {summary}\nstderr:\n{err}\nstdout:\n{out}"

    def tool_uses(self) -> list[dict[str, Any]]:
        """The `tool_use` blocks of the main agent's turns, in order."""
        return [
            block
            for event in self.events
            if event.get("type") == "assistant" and not event.get("parent_tool_use_id")
            for block in event["message"].get("content") or []
            if block.get("type") == "tool_use"
        ]

    def tool_results(self) -> list[dict[str, Any]]:
        return [
            block
            for event in self.events
            if event.get("type") == "user" and not event.get("parent_tool_use_id")
            for block in event["message"].get("content") or []
            if isinstance(block, dict) and block.get("type") == "tool_result"
        ]

    def result(self) -> dict[str, Any]:
        """The final `result` event (`subtype` "success" when the run completed)."""
        results = [event for event in self.events if event.get("type") == "result"]
        assert results, "Claude Code printed no result event\n" + self.tail()
        return results[-1]


def run_claude(
    binary: Path, workdir: Path, base_url: str, model: str, prompt: str, timeout: float = 180
) -> ClaudeRun:
    """`claude -p <prompt>` in `workdir` against the gateway at `base_url` (no `/v1`), with a
    scratch HOME, config dir and TMPDIR so nothing from the user's setup leaks in."""
    scratch = workdir.parent / (workdir.name + "-claude")
    home, config_dir, tmp = scratch / "home", scratch / "config", scratch / "tmp"
    for directory in (home, config_dir, tmp):
        directory.mkdir(parents=True, exist_ok=True)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(home),
        "TMPDIR": str(tmp),
        "CLAUDE_CONFIG_DIR": str(config_dir),
        # What `gateway agent-config claude-code` tells users to export (side requests go to
        # the "haiku" model: the same one here, since the test catalog has no coding-fast).
        **agent_exports(base_url, model),
        "ANTHROPIC_API_KEY": API_KEY,
        "DISABLE_TELEMETRY": "1",
        "DISABLE_AUTOUPDATER": "1",
        # It retries 5xx and connection errors 10 times with backoff (minutes); a broken
        # gateway should fail the test fast instead.
        "CLAUDE_CODE_MAX_RETRIES": "2",
    }
    command = [
        str(binary),
        *("-p", prompt),
        *("--model", model),
        *("--permission-mode", "acceptEdits"),
        *("--allowedTools", "Write Bash WebSearch"),
        *("--output-format", "stream-json", "--verbose"),
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
        pytest.fail(f"Claude Code did not finish in {timeout}s\nstderr:\n{err}\nstdout:\n{out}")
    return ClaudeRun(result.returncode, _json_lines(result.stdout), result.stdout, result.stderr)


def agent_exports(base_url: str, model: str) -> dict[str, str]:
    """The `export NAME=value` lines of `gateway agent-config claude-code`."""
    text = agent_config("claude-code", Catalog(), base_url, model=model, has_key=False)
    exports = {}
    for line in text.splitlines():
        if line.startswith("export "):
            name, _, value = line.removeprefix("export ").partition("=")
            exports[name] = value.strip('"')
    return exports


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
