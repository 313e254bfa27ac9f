"""The real Codex CLI (npm `@openai/codex`) completing a tool-using task through the gateway's
Responses API: through `coding-elite`, through a chain whose first provider is rate-limited so
the answer comes in Gemini's wire format, and searching the web (Codex offers the Responses
`web_search` tool, which the gateway runs with its search chain)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.codex_cli import CodexRun, codex_binary, run_codex
from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

PROMPT = "Create a file hello.txt containing hi"


@pytest.fixture(scope="module")
def binary() -> Path:
    return codex_binary()


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("codex")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                "cx-model": {"context_window": 131072, "max_output_tokens": 8192},
                "fault-429-cx": {"context_window": 131072},
            },
        },
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": {"cx-gemini": {"context_window": 1048576}},
        },
    }
    virtual = {
        "coding-elite": {
            "description": "agentic coding",
            "candidates": ["groq/cx-model", "gemini/cx-gemini"],
        },
        "coding-gemini": {"candidates": ["groq/fault-429-cx", "gemini/cx-gemini"]},
    }
    search = {"duckduckgo": {"type": "duckduckgo"}}
    config = write_config(root / "config", providers, virtual, search=search)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def assert_wrote_hello(workdir: Path, run: CodexRun) -> None:
    assert run.returncode == 0, run.tail()
    hello = workdir / "hello.txt"
    assert hello.exists() and hello.read_text() == "hi", run.tail()
    # The emulated model called `exec_command` with a command that writes the file.
    commands = run.items("command_execution")
    assert commands, run.tail()
    assert "hello.txt" in commands[0]["command"], run.tail()
    assert commands[0]["status"] == "completed" and commands[0]["exit_code"] == 0, run.tail()
    assert run.items("agent_message"), run.tail()  # the answer after the tool result
    assert not run.of_type("turn.failed") and not run.of_type("error"), run.tail()
    turns = run.of_type("turn.completed")
    assert turns and turns[-1]["usage"]["input_tokens"] > 0, run.tail()


def test_codex_writes_a_file_through_coding_elite(binary, gw, emulator, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="groq", model="cx-model")
    run = run_codex(binary, workdir, gw.url, "coding-elite", PROMPT)
    assert_wrote_hello(workdir, run)
    assert emulator.count(provider="groq", model="cx-model") - before >= 2


def test_codex_through_a_rate_limited_chain_to_gemini(binary, gw, emulator, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="gemini", model="cx-gemini")
    run = run_codex(binary, workdir, gw.url, "coding-gemini", PROMPT)
    assert_wrote_hello(workdir, run)
    assert emulator.count(provider="gemini", model="cx-gemini") - before >= 2
    limited = [r for r in emulator.requests if r.model == "fault-429-cx"]
    assert limited and all(r.status == 429 for r in limited)


def test_codex_searches_the_web_through_the_gateway(binary, gw, emulator, tmp_path):
    """The model calls the search the gateway offers in place of Codex's hosted `web_search`
    tool; the gateway searches (the emulator's DuckDuckGo) and streams a `web_search_call`
    item, which Codex shows as its own web search, then the answer citing the result."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    searches_before = emulator.count(provider="duckduckgo")
    run = run_codex(binary, workdir, gw.url, "coding-elite", "search the web for gateway news")
    assert run.returncode == 0, run.tail()
    assert not run.of_type("turn.failed") and not run.of_type("error"), run.tail()
    searches = run.items("web_search")
    assert [search["query"] for search in searches] == ["gateway news"], run.tail()
    assert emulator.count(provider="duckduckgo") - searches_before == 1
    messages = run.items("agent_message")
    assert messages and "https://example.com/duckduckgo/1" in messages[-1]["text"], run.tail()
    assert not run.items("command_execution"), run.tail()
