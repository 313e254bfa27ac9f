"""What OpenCode sends and needs, per provider type: echoed reasoning, tool history without
tools, usage even when the upstream gives none, tool-call deltas with ids."""

from __future__ import annotations

import json

import httpx
import pytest

from gateway.adapt import adapt_messages
from tests.conftest import tool_spec

EVERY_TYPE = [
    "groq/llama-3.3-70b-versatile",
    "gemini/gemini-3-pro",
    "github/openai/gpt-4.1",
    "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    "mybox/some-model",
    "g4f/gpt-4",
]

HISTORY = [
    {"role": "system", "content": "You are an agent."},
    {"role": "user", "content": "create hello.txt"},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": "I should call write.",
        "tool_calls": [
            {
                "id": "call_9",
                "type": "function",
                "function": {
                    "name": "write",
                    "arguments": '{"filePath":"hello.txt","content":"hi"}',
                },
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_9", "content": "Wrote file successfully."},
]


def sse(gateway, body: dict) -> list[dict]:
    with httpx.stream("POST", gateway.url + "/v1/chat/completions", json=body, timeout=30) as r:
        assert r.status_code == 200, r.read()
        return [
            json.loads(line[6:])
            for line in r.iter_lines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]


@pytest.mark.parametrize("model", EVERY_TYPE)
def test_echoed_reasoning_and_tool_history_are_accepted(gateway, model):
    body = {"model": model, "messages": HISTORY, "tools": [tool_spec()], "stream": True}
    events = sse(gateway, body)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "Done: Wrote file successfully."


@pytest.mark.parametrize("model", EVERY_TYPE)
def test_tool_history_without_tools_is_accepted(gateway, model):
    """After compaction OpenCode may send the history without `tools` (strict upstreams 400)."""
    body = {
        "model": model,
        "messages": [*HISTORY, {"role": "user", "content": "echo: summary done"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse(gateway, body)
    text = "".join(e["choices"][0]["delta"].get("content") or "" for e in events if e["choices"])
    assert text == "summary done"
    assert not any(e["choices"] and e["choices"][0]["delta"].get("tool_calls") for e in events)


@pytest.mark.parametrize("model", ["groq/fault-noUsage-x", "mybox/fault-noUsage-y"])
def test_usage_chunk_even_when_the_upstream_sends_none(gateway, emulator, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "echo: count these words"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse(gateway, body)
    final = events[-1]
    assert final["choices"] == []
    assert final["usage"]["completion_tokens"] > 0 and final["usage"]["prompt_tokens"] > 0


@pytest.mark.parametrize("model", EVERY_TYPE[:5])
def test_streamed_tool_call_has_id_and_tool_calls_finish(gateway, model):
    body = {
        "model": model,
        "messages": [{"role": "user", "content": "create hello.txt"}],
        "tools": [tool_spec()],
        "tool_choice": "auto",
        "stream": True,
        "stream_options": {"include_usage": True},
    }
    events = sse(gateway, body)
    deltas = [
        c for e in events if e["choices"] for c in e["choices"][0]["delta"].get("tool_calls") or []
    ]
    assert deltas[0]["id"] and deltas[0]["function"]["name"] == "write"
    finishes = [e["choices"][0].get("finish_reason") for e in events if e["choices"]]
    assert [f for f in finishes if f] == ["tool_calls"]
    assert events[-1]["usage"]["total_tokens"] > 0


def test_adapt_leaves_clean_conversations_untouched():
    messages = [{"role": "user", "content": "hi"}]
    assert adapt_messages(messages, has_tools=False) is messages


def test_adapt_rewrites_tool_history_as_text_without_inventing_tools():
    adapted = adapt_messages(HISTORY, has_tools=False)
    assert adapted[2] == {
        "role": "assistant",
        "content": '[called tool write with {"filePath":"hello.txt","content":"hi"}]',
    }
    assert adapted[3] == {
        "role": "user",
        "content": "[result of tool write]\nWrote file successfully.",
    }
    assert HISTORY[2]["reasoning_content"]  # the client's list is not modified
