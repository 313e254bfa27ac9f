"""`/v1/responses` as OpenCode's Responses client (`@ai-sdk/openai`) uses it, per provider type."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import tool_spec
from tests.test_opencode_shapes import EVERY_TYPE

# The chat tests' `write` tool (its schema carries `$schema`, like OpenCode's), in the
# Responses API's flat shape.
WRITE_TOOL = {"type": "function", **tool_spec()["function"], "strict": False}


def request(model: str, input_items, **extra) -> dict:
    return {
        "model": model,
        "input": input_items,
        "instructions": "You are an agent.",
        "store": False,
        "prompt_cache_key": "ses_123",
        "max_output_tokens": 1024,
        **extra,
    }


def user(text: str) -> dict:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def events_of(gateway, body: dict) -> list[tuple[str, dict]]:
    with httpx.stream("POST", gateway.url + "/v1/responses", json=body, timeout=30) as r:
        assert r.status_code == 200, r.read()
        lines = list(r.iter_lines())
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            assert data["type"] == name  # `event:` matches the JSON type
            events.append((name, data))
    return events


@pytest.mark.parametrize("model", EVERY_TYPE[:5])
def test_streamed_function_call(gateway, model):
    body = request(
        model, [user("create hello.txt")], tools=[WRITE_TOOL], tool_choice="auto", stream=True
    )
    events = events_of(gateway, body)
    names = [n for n, _ in events]
    assert names[0] == "response.created"
    assert "response.output_item.added" in names
    assert "response.function_call_arguments.delta" in names
    assert names[-1] == "response.completed"
    completed = events[-1][1]["response"]
    call = next(item for item in completed["output"] if item["type"] == "function_call")
    assert call["name"] == "write" and call["call_id"]
    assert json.loads(call["arguments"]) == {"filePath": "hello.txt", "content": "hi"}
    assert completed["usage"]["input_tokens"] > 0


@pytest.mark.parametrize("model", EVERY_TYPE)
def test_function_call_output_turn(gateway, model):
    items = [
        user("create hello.txt"),
        {
            "type": "function_call",
            "call_id": "call_1",
            "name": "write",
            "arguments": '{"filePath":"hello.txt","content":"hi"}',
        },
        {"type": "function_call_output", "call_id": "call_1", "output": "Wrote file successfully."},
    ]
    body = request(model, items, tools=[WRITE_TOOL])
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    data = response.json()
    text = "".join(
        part["text"]
        for item in data["output"]
        if item["type"] == "message"
        for part in item["content"]
        if part["type"] == "output_text"
    )
    if model.startswith("g4f/"):
        assert text
    else:
        assert text == "Done: Wrote file successfully."
    assert data["model"] == model
    assert data["usage"]["output_tokens"] > 0


def test_streamed_text_has_the_full_event_sequence(gateway):
    events = events_of(gateway, request("coding-elite", [user("echo: a b c")], stream=True))
    names = [n for n, _ in events]
    for expected in (
        "response.created",
        "response.output_item.added",
        "response.output_text.delta",
        "response.output_item.done",
        "response.completed",
    ):
        assert expected in names
    deltas = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert deltas == "a b c"
