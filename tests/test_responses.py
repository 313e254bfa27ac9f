"""`/v1/responses` as OpenCode's Responses client (`@ai-sdk/openai`) uses it, per provider type."""

from __future__ import annotations

import json

import httpx
import pytest
from openai import OpenAI

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
    assert text == "Done: Wrote file successfully."
    assert data["model"] == model
    assert data["usage"]["output_tokens"] > 0


@pytest.mark.parametrize("model", EVERY_TYPE)
def test_streamed_text_from_every_provider_type(gateway, model):
    events = events_of(gateway, request(model, [user("echo: a b c")], stream=True))
    assert events[-1][0] == "response.completed"
    text = "".join(d["delta"] for n, d in events if n == "response.output_text.delta")
    assert text == events[-1][1]["response"]["output"][-1]["content"][0]["text"]
    assert text if model.startswith("g4f/") else text == "a b c"
    assert events[-1][1]["response"]["model"] == model
    assert events[-1][1]["response"]["usage"]["output_tokens"] > 0


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


def test_event_stream_is_internally_consistent(gateway):
    """Every item opened is closed, `.done` repeats what the deltas said, and the completed
    response holds exactly the items that were streamed."""
    body = request("coding-elite", [user("create hello.txt")], tools=[WRITE_TOOL], stream=True)
    for events in (events_of(gateway, body), events_of(gateway, {**body, "tools": None})):
        assert [d["sequence_number"] for _, d in events] == list(range(len(events)))
        added = {
            d["output_index"]: d["item"] for n, d in events if n == "response.output_item.added"
        }
        done = {d["output_index"]: d["item"] for n, d in events if n == "response.output_item.done"}
        assert added and added.keys() == done.keys()
        assert all(added[i]["id"] == done[i]["id"] for i in added)
        for index, item in done.items():
            if item["type"] == "message":
                deltas = "".join(
                    d["delta"]
                    for n, d in events
                    if n == "response.output_text.delta" and d["output_index"] == index
                )
                assert item["content"][0]["text"] == deltas and deltas
            else:
                deltas = "".join(
                    d["delta"]
                    for n, d in events
                    if n == "response.function_call_arguments.delta" and d["output_index"] == index
                )
                assert item["arguments"] == deltas and json.loads(deltas)
                assert item["status"] == "completed"
        completed = events[-1][1]["response"]
        assert completed["status"] == "completed"
        assert completed["output"] == [done[i] for i in sorted(done)]
        usage = completed["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"] > 0


def test_openai_sdk_reads_the_stream_and_the_final_response(gateway):
    """The `openai` SDK's stream helper checks that each delta belongs to an announced item."""
    client = OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    with client.responses.stream(
        model="coding-elite", input="echo: the quick brown fox", instructions="Be brief."
    ) as stream:
        deltas = [e.delta for e in stream if e.type == "response.output_text.delta"]
        final = stream.get_final_response()
    assert "".join(deltas) == final.output_text == "the quick brown fox"
    assert final.status == "completed" and final.usage.output_tokens > 0

    with client.responses.stream(
        model="coding-elite", input=[user("create hello.txt")], tools=[WRITE_TOOL]
    ) as stream:
        final = stream.get_final_response()
    (call,) = [item for item in final.output if item.type == "function_call"]
    assert call.name == "write" and json.loads(call.arguments)["filePath"] == "hello.txt"


@pytest.mark.parametrize("model", ["coding-elite", "gemini/gemini-3-pro"])
def test_non_stream_response_object(gateway, model):
    client = OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0)
    body = request(model, [user("echo: one two")], tools=[WRITE_TOOL], tool_choice="none")
    body["input"] = "echo: one two"
    response = client.responses.create(**body)
    assert response.output_text == "one two"
    assert response.status == "completed" and response.object == "response"
    assert response.id.startswith("resp_") and response.output[0].id.startswith("msg_")
    # The request's settings are echoed; nothing is stored.
    assert response.instructions == "You are an agent."
    assert response.max_output_tokens == 1024 and response.store is False
    assert response.tools[0].name == "write" and response.tool_choice == "none"
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens


def test_request_reaches_the_upstream_as_chat(gateway, emulator):
    """`instructions` becomes the system message, `function_call`/`function_call_output` the
    tool-call history, `max_output_tokens` the token limit, `tool_choice` a chat tool choice;
    `store`, `prompt_cache_key` and `include` stay at the gateway."""
    items = [
        user("create hello.txt"),
        {"type": "function_call", "call_id": "call_9", "name": "write", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_9", "output": "Wrote it."},
    ]
    body = request(
        "mybox/some-model",
        items,
        tools=[WRITE_TOOL],
        tool_choice={"type": "function", "name": "write"},
        include=["reasoning.encrypted_content"],
    )
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    sent = [r for r in emulator.requests if r.model == "some-model"][-1].body
    assert sent["messages"][0] == {"role": "system", "content": "You are an agent."}
    assert [m["role"] for m in sent["messages"]] == ["system", "user", "assistant", "tool"]
    assert sent["messages"][2]["tool_calls"][0]["id"] == "call_9"
    assert sent["messages"][3]["tool_call_id"] == "call_9"
    assert sent["tool_choice"] == {"type": "function", "function": {"name": "write"}}
    assert sent["tools"][0]["function"]["name"] == "write"
    assert 1024 in (sent.get("max_tokens"), sent.get("max_completion_tokens"))
    for kept in ("store", "prompt_cache_key", "include", "input", "instructions"):
        assert kept not in sent


def test_reasoning_is_streamed_as_a_reasoning_item_and_not_sent_back(gateway, emulator):
    events = events_of(gateway, request("mybox/thinker", [user("echo: fine")], stream=True))
    names = [n for n, _ in events]
    thought = "".join(d["delta"] for n, d in events if n == "response.reasoning_summary_text.delta")
    assert thought == "Let me think it over."
    assert names.index("response.reasoning_summary_text.delta") < names.index(
        "response.output_text.delta"
    )
    output = events[-1][1]["response"]["output"]
    assert [item["type"] for item in output] == ["reasoning", "message"]
    assert output[0]["summary"] == [{"type": "summary_text", "text": thought}]

    # OpenCode sends the reasoning item back next turn; the upstream must not get it.
    items = [
        user("echo: fine"),
        {"type": "reasoning", "id": output[0]["id"], "summary": output[0]["summary"]},
        {"role": "assistant", "content": [{"type": "output_text", "text": "fine"}]},
        user("echo: again"),
    ]
    response = httpx.post(
        gateway.url + "/v1/responses", json=request("mybox/thinker", items), timeout=30
    )
    assert response.status_code == 200, response.text
    assert [item["type"] for item in response.json()["output"]] == ["reasoning", "message"]
    assert response.json()["output_text"] == "again"


@pytest.mark.parametrize(
    ("input_items", "param"),
    [
        ([{"type": "bogus"}], "input[0]"),
        ([1, 2], "input[0]"),
        ([{"role": "user", "content": 5}], "input"),
        ([user("hi"), "text"], "input[1]"),
        ([user("hi"), {"content": "no role"}], "input[1]"),
        ([], "input"),
    ],
)
def test_unreadable_input_is_a_400(gateway, input_items, param):
    body = request("coding-elite", input_items)
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error" and error["param"] == param
    assert error["code"] == ("missing_input" if not input_items else "invalid_input")
    health = httpx.post(gateway.url + "/v1/responses", json=request("coding-elite", "hi"))
    assert health.status_code == 200
