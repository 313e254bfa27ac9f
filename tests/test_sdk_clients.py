"""The SDK clients of the README's "Agents" section, installed for real and run against a
gateway whose `coding-elite` starts with an emulated Groq model:

- the Vercel AI SDK: a two-turn Responses conversation whose second turn points at the first
  answer with an `item_reference` (the SDK's default), a streamed call, a tool round trip, and
  the chat-completions variant (`@ai-sdk/openai-compatible`);
- the OpenAI Agents SDK: an agent with a `function_tool`, on `OpenAIResponsesModel` and on
  `OpenAIChatCompletionsModel`, streamed, and through a rate-limited chain to Gemini;
- `llm`: configured from `gateway agent-config llm`, a prompt and a tool call.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import provider_env
from tests.emulators.replies import content_text
from tests.gateway_process import GatewayProcess, run_cli, write_config
from tests.sdk_clients import (
    API_KEY,
    ClientRun,
    agents_python,
    ai_sdk_dir,
    llm_python,
    run_agents_sdk,
    run_ai_sdk,
    run_llm,
)

MODEL = "sdk-model"  # coding-elite's first candidate: only this module's gateway calls it
GEMINI_MODEL = "sdk-gemini"
TOOL_RESULT = "wrote 2 bytes to hello.txt"  # what the clients' `write` tools return
TOOL_ANSWER = f"Done: {TOOL_RESULT}"  # the emulator's answer to the tool result


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("sdk-clients")
    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                MODEL: {"context_window": 131072, "max_output_tokens": 8192},
                "fault-429-sdk": {"context_window": 131072},
            },
        },
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": {GEMINI_MODEL: {"context_window": 1048576}},
        },
    }
    virtual = {
        "coding-elite": {
            "description": "agentic coding",
            "candidates": [f"groq/{MODEL}", f"gemini/{GEMINI_MODEL}"],
        },
        "coding-gemini": {"candidates": ["groq/fault-429-sdk", f"gemini/{GEMINI_MODEL}"]},
    }
    config = write_config(root / "config", providers, virtual)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def upstream_messages(emulator, marker: str) -> list[dict[str, Any]]:
    """The chat messages of the last upstream call to MODEL whose last message holds
    `marker`, each as {"role", "text"}."""
    for request in reversed(emulator.requests):
        if request.model != MODEL or not isinstance(request.body, dict):
            continue
        messages = request.body.get("messages") or []
        if messages and marker in content_text(messages[-1].get("content")):
            return [
                {"role": m.get("role"), "text": content_text(m.get("content"))} for m in messages
            ]
    return []


def assert_ok(run: ClientRun) -> dict[str, Any]:
    assert run.returncode == 0 and run.payload.get("ok"), run.tail()
    return run.result


# --- Vercel AI SDK ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ai_sdk() -> Path:
    return ai_sdk_dir()


def test_ai_sdk_responses_second_turn_sends_item_reference(ai_sdk, gw, emulator):
    run = run_ai_sdk(ai_sdk, "responses-two-turns", gw.url, "coding-elite")
    first, second = assert_ok(run)["turns"]
    assert first["text"] == "first answer" and second["text"] == "second answer", run.tail()
    assert first["modelId"] == f"groq/{MODEL}", run.tail()
    assert second["usage"]["inputTokens"] > 0, run.tail()
    # What the SDK sent: the first answer as a reference to the stored output item.
    urls = [s["url"] for s in run.payload["sent"]]
    assert len(urls) == 2 and all(u.endswith("/v1/responses") for u in urls), run.tail()
    sent = [s["body"] for s in run.payload["sent"]]
    references = [item for item in sent[1]["input"] if item.get("type") == "item_reference"]
    assert len(references) == 1 and references[0]["id"].startswith("msg_"), run.tail()
    # What the upstream got: the referenced answer replayed as the assistant's turn.
    messages = upstream_messages(emulator, "echo: second answer")
    assert [m["role"] for m in messages] == ["user", "assistant", "user"], messages
    assert messages[0]["text"] == "echo: first answer", messages
    assert messages[1]["text"] == "first answer", messages


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_ai_sdk_stream_text(ai_sdk, gw, api):
    run = run_ai_sdk(ai_sdk, f"{api}-stream", gw.url, "coding-elite")
    result = assert_ok(run)
    assert result["text"] == "streamed answer", run.tail()
    assert len(result["chunks"]) >= 2, run.tail()  # it did stream, word by word
    assert result["finishReason"] == "stop", run.tail()
    assert result["usage"]["inputTokens"] > 0 and result["usage"]["outputTokens"] > 0, run.tail()
    assert run.payload["sent"][0]["body"]["stream"] is True, run.tail()


def test_ai_sdk_chat_two_turns(ai_sdk, gw, emulator):
    run = run_ai_sdk(ai_sdk, "chat-two-turns", gw.url, "coding-elite")
    first, second = assert_ok(run)["turns"]
    assert first["text"] == "first answer" and second["text"] == "second answer", run.tail()
    assert run.payload["sent"][1]["url"].endswith("/v1/chat/completions"), run.tail()
    messages = upstream_messages(emulator, "echo: second answer")
    texts = [m["text"] for m in messages]
    assert texts == ["echo: first answer", "first answer", "echo: second answer"], messages


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_ai_sdk_tool_round_trip(ai_sdk, gw, api):
    run = run_ai_sdk(ai_sdk, f"{api}-tools", gw.url, "coding-elite")
    result = assert_ok(run)
    first, last = result["steps"][0], result["steps"][-1]
    assert first["finishReason"] == "tool-calls", run.tail()
    assert first["toolCalls"] == [
        {"toolName": "write", "input": {"filePath": "hello.txt", "content": "hi"}}
    ], run.tail()
    assert first["toolResults"][0]["output"] == "wrote 2 bytes to hello.txt", run.tail()
    assert last["finishReason"] == "stop" and result["text"] == TOOL_ANSWER, run.tail()


# --- OpenAI Agents SDK -----------------------------------------------------------------------


AGENT_RUNS = {
    # scenario@model: the emulated model that answers it
    "responses-tool@coding-elite": MODEL,
    "chat-tool@coding-elite": MODEL,
    "responses-tool@coding-gemini": GEMINI_MODEL,  # after a 429 from the first candidate
    "responses-stream@coding-elite": MODEL,
    "chat-stream@coding-elite": MODEL,
}


@pytest.fixture(scope="module")
def agent_runs(gw, tmp_path_factory) -> ClientRun:
    """Every run of AGENT_RUNS, made by one process (importing the SDK takes seconds)."""
    python = agents_python()
    workdir = tmp_path_factory.mktemp("agents-sdk")
    return run_agents_sdk(python, workdir, gw.url, list(AGENT_RUNS))


def agent_run(runs: ClientRun, spec: str) -> dict[str, Any]:
    outcome = runs.result.get(spec)
    assert outcome is not None, runs.tail()
    assert outcome["ok"], f"{spec}:\n{outcome.get('error')}\n{runs.tail(1000)}"
    return outcome


@pytest.mark.parametrize("spec", [s for s in AGENT_RUNS if "-tool@" in s])
def test_agents_sdk_function_tool(agent_runs, emulator, spec):
    result = agent_run(agent_runs, spec)
    # The tool ran with the model's arguments, and the run ended on the model's answer to it.
    assert result["tool_calls"] == [{"filePath": "hello.txt", "content": "hi"}], result
    assert result["final_output"] == TOOL_ANSWER, result
    kinds = [item["type"] for item in result["items"]]
    assert kinds == ["tool_call_item", "tool_call_output_item", "message_output_item"], result
    assert len(result["usage"]) == 2, result
    assert all(u["input_tokens"] > 0 for u in result["usage"]), result
    # Both model calls reached the model that answers this chain, the second with the result.
    calls = [
        str(r.body)
        for r in emulator.requests
        if r.model == AGENT_RUNS[spec] and f"[{spec}]" in str(r.body)
    ]
    assert len(calls) == 2 and TOOL_RESULT in calls[1], calls


def test_agents_sdk_rate_limited_first_candidate(agent_runs, emulator):
    agent_run(agent_runs, "responses-tool@coding-gemini")
    limited = [r for r in emulator.requests if r.model == "fault-429-sdk"]
    assert limited and all(r.status == 429 for r in limited), agent_runs.tail()


@pytest.mark.parametrize("api", ["responses", "chat"])
def test_agents_sdk_streamed(agent_runs, api):
    result = agent_run(agent_runs, f"{api}-stream@coding-elite")
    expected = f"hello from the agents sdk {api}"
    assert result["final_output"] == expected, result
    assert "".join(result["deltas"]) == expected and len(result["deltas"]) >= 2, result


# --- llm -------------------------------------------------------------------------------------

WRITE_FUNCTION = '''
def write(filePath: str, content: str) -> str:
    """Write a file."""
    import pathlib
    pathlib.Path(filePath).write_text(content)
    return f"wrote {len(content)} bytes to {filePath}"
'''


@pytest.fixture(scope="module")
def llm(gw, tmp_path_factory) -> tuple[Path, Path]:
    """llm's python and a user directory configured as the README says:
    `gateway agent-config llm` as extra-openai-models.yaml, and `llm keys set gateway`."""
    python = llm_python()
    user_dir = tmp_path_factory.mktemp("llm-user")
    config = run_cli(
        "agent-config", "llm", "--config-dir", str(gw.config_dir), "--base-url", gw.url
    )
    assert config.returncode == 0, config.stderr
    (user_dir / "extra-openai-models.yaml").write_text(config.stdout)
    keys = run_llm(python, user_dir, user_dir, "keys", "set", "gateway", "--value", API_KEY)
    assert keys.returncode == 0, keys.tail()
    return python, user_dir


@pytest.mark.parametrize("stream", [True, False])
def test_llm_prompt(llm, tmp_path, stream):
    python, user_dir = llm
    flags = [] if stream else ["--no-stream"]
    run = run_llm(python, user_dir, tmp_path, "-m", "coding-elite", *flags, "echo: hi from llm")
    assert run.returncode == 0 and run.stdout.strip() == "hi from llm", run.tail()


def test_llm_tool_call(llm, tmp_path):
    python, user_dir = llm
    run = run_llm(
        python,
        user_dir,
        tmp_path,
        *("-m", "coding-elite", "--functions", WRITE_FUNCTION, "--td"),
        "create a file hello.txt containing hi",
    )
    assert run.returncode == 0, run.tail()
    assert (tmp_path / "hello.txt").read_text() == "hi", run.tail()
    assert "Tool call: write(" in run.stdout + run.stderr, run.tail()
    assert run.stdout.strip().endswith(TOOL_ANSWER), run.tail()
