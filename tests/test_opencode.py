"""The real OpenCode (npm `opencode-ai`) completing a tool-using task through the gateway, in
chat mode, in Responses mode, and through a chain whose first provider is rate-limited so the
answer comes in Gemini's wire format."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, run_cli, write_config
from tests.opencode_cli import opencode_binary, run_opencode

PROMPT = "create a file hello.txt containing hi"


@pytest.fixture(scope="module")
def binary() -> Path:
    return opencode_binary()


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("opencode")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                "oc-model": {"context_window": 131072, "max_output_tokens": 8192},
                "fault-429-oc": {"context_window": 131072},
            },
        },
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": {"oc-gemini": {"context_window": 1048576}},
        },
    }
    virtual = {
        "coding-elite": {
            "description": "agentic coding",
            "candidates": ["groq/fault-429-oc", "groq/oc-model"],
        },
        "coding-gemini": {"candidates": ["groq/fault-429-oc", "gemini/oc-gemini"]},
    }
    config = write_config(root / "config", providers, virtual)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def opencode_config(gw: GatewayProcess, variant: str, model: str) -> dict:
    """The config `gateway opencode-config` prints, as a user would paste it."""
    result = run_cli(
        "opencode-config",
        "--config-dir",
        str(gw.config_dir),
        "--base-url",
        gw.url,
        "--variant",
        variant,
    )
    assert result.returncode == 0, result.stderr
    config = json.loads(result.stdout)
    config["model"] = f"gateway/{model}"
    return config


def assert_wrote_hello(workdir: Path, events: list[dict]) -> None:
    assert (workdir / "hello.txt").read_text() == "hi"
    tools = [e["part"] for e in events if e["type"] == "tool_use"]
    assert tools and tools[0]["tool"] == "write"
    assert tools[0]["state"]["status"] == "completed"
    finishes = [e["part"] for e in events if e["type"] == "step_finish"]
    assert finishes[0]["reason"] == "tool-calls"
    assert all(f["tokens"]["input"] > 0 for f in finishes)  # usage reached OpenCode
    assert any(e["type"] == "text" for e in events)


@pytest.mark.parametrize("variant", ["chat", "responses"])
def test_opencode_writes_a_file_through_coding_elite(binary, gw, emulator, tmp_path, variant):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(model="oc-model")
    events = run_opencode(binary, workdir, opencode_config(gw, variant, "coding-elite"), PROMPT)
    assert_wrote_hello(workdir, events)
    assert emulator.count(model="oc-model") - before >= 2  # the tool call, then the answer


@pytest.mark.parametrize("variant", ["chat", "responses"])
def test_opencode_through_a_rate_limited_chain_to_gemini(binary, gw, emulator, tmp_path, variant):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="gemini", model="oc-gemini")
    config = opencode_config(gw, variant, "coding-gemini")
    events = run_opencode(binary, workdir, config, PROMPT)
    assert_wrote_hello(workdir, events)
    assert emulator.count(provider="gemini", model="oc-gemini") - before >= 2
    opencode_calls = [r for r in emulator.requests if r.model == "fault-429-oc"]
    assert opencode_calls and all(r.status == 429 for r in opencode_calls)
