"""What Claude Code and Codex really send (captured from the real CLIs by the agent tests,
tests/fixtures/), replayed over HTTP: every field they carry is accepted, and the answer is
the tool call the emulated model makes, in each API's shape."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

FIXTURES = Path(__file__).resolve().parent / "fixtures"
# Request headers that describe the original connection, not the request.
_HOP_HEADERS = {"host", "content-length", "connection", "accept-encoding", "transfer-encoding"}


def captured(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def replay(gateway, capture: dict) -> httpx.Response:
    headers = {k: v for k, v in capture["headers"].items() if k.lower() not in _HOP_HEADERS}
    return httpx.request(
        capture["method"],
        gateway.url + capture["path"],
        json=capture["body"],
        headers=headers,
        timeout=30,
    )


def sse_data(response: httpx.Response) -> list[dict]:
    return [
        json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")
    ]


def test_claude_code_request_is_served(gateway, emulator):
    emulator.clear()
    response = replay(gateway, captured("claude_code_request.json"))
    assert response.status_code == 200, response.text
    events = sse_data(response)
    assert events[0]["type"] == "message_start" and events[-1]["type"] == "message_stop"
    tool = next(
        e["content_block"]
        for e in events
        if e["type"] == "content_block_start" and e["content_block"]["type"] == "tool_use"
    )
    assert tool["name"] == "Write"
    partial = "".join(
        e["delta"].get("partial_json", "") for e in events if e["type"] == "content_block_delta"
    )
    assert json.loads(partial) == {"file_path": "/home/user/project/hello.txt", "content": "hi"}
    upstream = next(r for r in emulator.requests if r.model == "llama-3.3-70b-versatile").body
    names = {tool["function"]["name"] for tool in upstream["tools"]}
    assert {"Write", "Bash", "Read"} <= names
    for field in ("thinking", "context_management", "output_config", "metadata"):
        assert field not in upstream


def test_codex_request_is_served(gateway, emulator):
    emulator.clear()
    response = replay(gateway, captured("codex_request.json"))
    assert response.status_code == 200, response.text
    events = sse_data(response)
    assert events[-1]["type"] == "response.completed"
    output = events[-1]["response"]["output"]
    call = next(item for item in output if item["type"] == "function_call")
    assert call["name"] == "exec_command" and "namespace" not in call
    assert "printf hi > hello.txt" in json.loads(call["arguments"])["cmd"]
    assert events[-1]["response"]["store"] is False
    upstream = next(r for r in emulator.requests if r.model == "llama-3.3-70b-versatile").body
    names = {tool["function"]["name"] for tool in upstream["tools"]}
    assert "multi_agent_v1__wait_agent" in names and "exec_command" in names
