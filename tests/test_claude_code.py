"""The real Claude Code (npm `@anthropic-ai/claude-code`) completing a tool-using task through
the gateway's Anthropic Messages API: through `coding-elite`, through a chain whose first
provider is rate-limited so the answer comes in Gemini's wire format, with a direct
`provider/model` name, and searching the web (its WebSearch tool asks the API for Anthropic's
`web_search_20250305` server tool, which the gateway runs with its search chain)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.claude_cli import ClaudeRun, claude_binary, run_claude
from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

PROMPT = "Create a file hello.txt containing hi"


@pytest.fixture(scope="module")
def binary() -> Path:
    return claude_binary()


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("claude-code")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                "cc-model": {"context_window": 131072, "max_output_tokens": 8192},
                "fault-429-cc": {"context_window": 131072},
            },
        },
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": {"cc-gemini": {"context_window": 1048576}},
        },
    }
    virtual = {
        "coding-elite": {
            "description": "agentic coding",
            "candidates": ["groq/cc-model", "gemini/cc-gemini"],
        },
        "coding-gemini": {"candidates": ["groq/fault-429-cc", "gemini/cc-gemini"]},
    }
    search = {"duckduckgo": {"type": "duckduckgo"}}
    config = write_config(root / "config", providers, virtual, search=search)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def assert_wrote_hello(workdir: Path, run: ClaudeRun) -> None:
    assert run.returncode == 0, run.tail()
    hello = workdir / "hello.txt"
    assert hello.exists() and hello.read_text() == "hi", run.tail()
    uses = run.tool_uses()
    assert uses and uses[0]["name"] == "Write", run.tail()
    # Claude Code's Write wants an absolute path: the emulated model took it from the
    # "Primary working directory" its system prompt states.
    assert uses[0]["input"] == {"file_path": str(hello), "content": "hi"}, run.tail()
    results = run.tool_results()
    assert results and not results[0].get("is_error"), run.tail()
    result = run.result()
    assert result["subtype"] == "success" and not result["is_error"], run.tail()
    assert result["num_turns"] >= 2, run.tail()  # the tool call, then the answer
    assert result["usage"]["input_tokens"] > 0, run.tail()  # usage reached Claude Code


def test_claude_code_writes_a_file_through_coding_elite(binary, gw, emulator, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="groq", model="cc-model")
    run = run_claude(binary, workdir, gw.url, "coding-elite", PROMPT)
    assert_wrote_hello(workdir, run)
    assert emulator.count(provider="groq", model="cc-model") - before >= 2


def test_claude_code_through_a_rate_limited_chain_to_gemini(binary, gw, emulator, tmp_path):
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="gemini", model="cc-gemini")
    run = run_claude(binary, workdir, gw.url, "coding-gemini", PROMPT)
    assert_wrote_hello(workdir, run)
    assert emulator.count(provider="gemini", model="cc-gemini") - before >= 2
    limited = [r for r in emulator.requests if r.model == "fault-429-cc"]
    assert limited and all(r.status == 429 for r in limited)


def test_claude_code_with_a_direct_model_name(binary, gw, emulator, tmp_path):
    """The harness itself, without virtual models: `--model groq/cc-model`."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    before = emulator.count(provider="groq", model="cc-model")
    run = run_claude(binary, workdir, gw.url, "groq/cc-model", PROMPT)
    assert_wrote_hello(workdir, run)
    assert emulator.count(provider="groq", model="cc-model") - before >= 2


def test_claude_code_searches_the_web_through_the_gateway(binary, gw, emulator, tmp_path):
    """Claude Code's WebSearch tool sends its own request with the server tool and a
    `tool_choice` forcing it; the gateway searches (the emulator's DuckDuckGo), Claude Code
    reads the `server_tool_use` / `web_search_tool_result` blocks as search results and the
    model answers citing them."""
    workdir = tmp_path / "work"
    workdir.mkdir()
    searches_before = emulator.count(provider="duckduckgo")
    run = run_claude(binary, workdir, gw.url, "coding-elite", "search the web for gateway news")
    assert run.returncode == 0, run.tail()
    # WebSearch is one of Claude Code's deferred tools: loaded with ToolSearch, then called.
    uses = run.tool_uses()
    assert [use["name"] for use in uses] == ["ToolSearch", "WebSearch"], run.tail()
    assert uses[1]["input"]["query"] == "gateway news", run.tail()
    results = run.tool_results()
    assert len(results) == 2 and not results[1].get("is_error"), run.tail()
    found = str(results[1]["content"])
    assert 'Web search results for query: "gateway news"' in found, run.tail()
    assert "https://example.com/duckduckgo/1" in found, run.tail()  # the results reached it
    assert emulator.count(provider="duckduckgo") - searches_before == 1
    # The inner request searched once, then answered: no search loop on a forced choice.
    inner = [
        r.body
        for r in emulator.requests
        if r.model == "cc-model" and "Perform a web search" in json.dumps(r.body)
    ]
    assert len(inner) == 2, [json.dumps(b)[:300] for b in inner]
    assert "tool_choice" not in inner[1] or inner[1]["tool_choice"] == "auto", inner[1]
    result = run.result()
    assert result["subtype"] == "success" and not result["is_error"], run.tail()
    assert "https://example.com/duckduckgo/1" in result["result"], run.tail()
    assert result["modelUsage"]["coding-elite"]["webSearchRequests"] == 1, run.tail()
