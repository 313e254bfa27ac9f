"""Install and run the real SDK clients of the README's "Agents" section for end-to-end tests:
the Vercel AI SDK (npm `ai`, `@ai-sdk/openai`, `@ai-sdk/openai-compatible`), the OpenAI Agents
SDK (PyPI `openai-agents`, in a venv of its own: it needs `openai` 3, the project pins its own)
and Simon Willison's `llm` (PyPI, own venv).

Each installs once into ~/.cache/free-llm-gateway (into a scratch directory renamed into place,
so an interrupted install is never taken for a finished one), is skipped where node/npm or
the package registry are unavailable, and fails instead when GATEWAY_REQUIRE_SERVICES=1 (CI).
The scripts the clients run live in tests/clients/.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

# The versions the field notes were written against (shared/notes/agent-clients.md).
AI_VERSION = "6.0.326"
AI_SDK_OPENAI_VERSION = "3.0.141"
AI_SDK_COMPATIBLE_VERSION = "2.0.92"
OPENAI_AGENTS_VERSION = "0.24.0"
OPENAI_FOR_AGENTS_VERSION = "3.57.0"  # what pip picked for openai-agents 0.24.0
LLM_VERSION = "0.36"

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "free-llm-gateway"
CLIENTS = Path(__file__).resolve().parent / "clients"
INSTALL_TIMEOUT = 600
RUN_TIMEOUT = 60
API_KEY = "not-needed"  # the test gateways are open


def _unavailable(message: str) -> None:
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (required in CI)")
    pytest.skip(message)


def _install_once(target: Path, install: Callable[[Path], None], what: str) -> Path:
    """`target`, made by `install(scratch)` in a scratch directory that is renamed to `target`
    only once the install finished (so a half-done install is redone, not used)."""
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    scratch = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir()
    try:
        install(scratch)
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        _unavailable(f"cannot install {what}: {_text(exc.stderr)[-2000:] or exc}")
    except subprocess.TimeoutExpired:
        shutil.rmtree(scratch, ignore_errors=True)
        _unavailable(f"installing {what} took over {INSTALL_TIMEOUT}s")
    try:
        scratch.rename(target)
    except OSError:  # another test run finished the same install first
        shutil.rmtree(scratch, ignore_errors=True)
    return target


def _run_install(command: list[str], cwd: Path) -> None:
    subprocess.run(
        command, cwd=cwd, check=True, capture_output=True, text=True, timeout=INSTALL_TIMEOUT
    )


# --- Vercel AI SDK ---------------------------------------------------------------------------


def ai_sdk_dir() -> Path:
    """A directory whose node_modules holds the AI SDK packages."""
    if shutil.which("npm") is None or shutil.which("node") is None:
        _unavailable("node/npm not installed: cannot run the Vercel AI SDK")
    packages = [
        f"ai@{AI_VERSION}",
        f"@ai-sdk/openai@{AI_SDK_OPENAI_VERSION}",
        f"@ai-sdk/openai-compatible@{AI_SDK_COMPATIBLE_VERSION}",
    ]

    def install(scratch: Path) -> None:
        (scratch / "package.json").write_text('{"private": true}\n')
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
        _run_install([*npm, *packages], scratch)

    return _install_once(CACHE / f"ai-sdk-{AI_VERSION}", install, "the Vercel AI SDK")


# --- OpenAI Agents SDK and llm: a venv each --------------------------------------------------


def _venv(name: str, requirements: list[str], what: str) -> Path:
    """The python of a venv under the cache holding `requirements`."""

    def install(scratch: Path) -> None:
        _run_install([sys.executable, "-m", "venv", str(scratch)], scratch)
        pip = [str(scratch / "bin" / "python"), "-m", "pip", "install", "--quiet"]
        _run_install([*pip, "--disable-pip-version-check", *requirements], scratch)

    # The venv's python is a symlink to the base interpreter, so the renamed venv still works
    # for `python -m ...` and scripts (only its console-script shebangs name the scratch path).
    return _install_once(CACHE / name, install, what) / "bin" / "python"


def agents_python() -> Path:
    return _venv(
        f"openai-agents-{OPENAI_AGENTS_VERSION}",
        [f"openai-agents=={OPENAI_AGENTS_VERSION}", f"openai=={OPENAI_FOR_AGENTS_VERSION}"],
        "the OpenAI Agents SDK",
    )


def llm_python() -> Path:
    return _venv(f"llm-{LLM_VERSION}", [f"llm=={LLM_VERSION}"], "llm")


# --- running them ----------------------------------------------------------------------------


@dataclass
class ClientRun:
    """One client run: exit status, the JSON object its script printed last (if any), and the
    raw output for assertion messages."""

    command: list[str]
    returncode: int
    stdout: str
    stderr: str

    @property
    def payload(self) -> dict[str, Any]:
        for line in reversed(self.stdout.splitlines()):
            if line.startswith("{"):
                with contextlib.suppress(json.JSONDecodeError):
                    return json.loads(line)
        return {}

    @property
    def result(self) -> dict[str, Any]:
        return self.payload.get("result") or {}

    def tail(self, chars: int = 3000) -> str:
        err, out = self.stderr[-chars:], self.stdout[-chars:]
        return f"$ {' '.join(self.command)}\nexit {self.returncode}\nstderr:\n{err}\nstdout:\n{out}"


def run_client(
    command: list[str],
    cwd: Path,
    env: dict[str, str] | None = None,
    timeout: float = RUN_TIMEOUT,
) -> ClientRun:
    """`command` with a minimal environment (no OPENAI_API_KEY or proxy settings from the
    developer's shell), failing the test with the output's tail on a timeout."""
    base = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(cwd),
        "NO_PROXY": "127.0.0.1,localhost",
        "no_proxy": "127.0.0.1,localhost",
    }
    try:
        result = subprocess.run(
            command,
            cwd=cwd,
            env={**base, **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except subprocess.TimeoutExpired as exc:
        out, err = _text(exc.stdout)[-3000:], _text(exc.stderr)[-3000:]
        pytest.fail(f"{command[:3]} did not finish in {timeout}s\nstderr:\n{err}\nstdout:\n{out}")
    return ClientRun(command, result.returncode, result.stdout, result.stderr)


def run_ai_sdk(install_dir: Path, scenario: str, base_url: str, model: str) -> ClientRun:
    """tests/clients/ai_sdk.mjs SCENARIO against the gateway at `base_url` (no `/v1`). The
    script is copied next to the SDK's node_modules so its imports resolve there."""
    script = install_dir / "ai_sdk.mjs"
    shutil.copyfile(CLIENTS / "ai_sdk.mjs", script)
    return run_client(["node", str(script), scenario, base_url + "/v1", model], cwd=install_dir)


def run_agents_sdk(python: Path, workdir: Path, base_url: str, runs: list[str]) -> ClientRun:
    """tests/clients/openai_agents_run.py in the Agents SDK's venv: each of `runs`
    (`SCENARIO@MODEL`) in one process, since importing the SDK takes seconds."""
    script = str(CLIENTS / "openai_agents_run.py")
    return run_client([str(python), script, base_url + "/v1", *runs], cwd=workdir, timeout=120)


def run_llm(python: Path, user_dir: Path, workdir: Path, *args: str) -> ClientRun:
    """`llm ARGS` with its configuration (keys, extra-openai-models.yaml, logs) in `user_dir`."""
    env = {"LLM_USER_PATH": str(user_dir)}
    return run_client([str(python), "-m", "llm", *args], cwd=workdir, env=env)


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode(errors="replace")
    return output or ""
