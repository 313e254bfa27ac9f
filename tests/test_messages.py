"""`/v1/messages`: Anthropic's Messages API over the chains, driven by Anthropic's own SDK
(what Claude Code uses) and by raw HTTP where the wire itself is the point."""

from __future__ import annotations

import json

import anthropic
import httpx
import pytest

WRITE_TOOL = {
    "name": "write",
    "description": "Write a file",
    "input_schema": {
        "type": "object",
        "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}},
        "required": ["filePath", "content"],
    },
}

# What Claude Code adds for Anthropic's own servers: accepted, dropped or mapped.
CLAUDE_CODE_EXTRAS = {
    "thinking": {"type": "adaptive"},
    "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
    "output_config": {"effort": "medium"},
    "metadata": {"user_id": "user_0123_account__session_4567"},
}
BETA_HEADERS = {
    "anthropic-beta": "claude-code-20250219,interleaved-thinking-2025-05-14,"
    "context-management-2025-06-27",
    "anthropic-version": "2023-06-01",
}


def user(text: str) -> dict:
    return {"role": "user", "content": text}


def sse_events(gateway, body: dict, headers: dict | None = None) -> list[dict]:
    """The `data:` payloads of a streamed Messages answer; `event:` must name each one."""
    with httpx.stream(
        "POST",
        gateway.url + "/v1/messages?beta=true",
        json={**body, "stream": True},
        headers=headers or {},
        timeout=30,
    ) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        lines = list(response.iter_lines())
    events, name = [], None
    for line in lines:
        if line.startswith("event: "):
            name = line[7:]
        elif line.startswith("data: "):
            data = json.loads(line[6:])
            assert data["type"] == name
            events.append(data)
    return events


def assert_well_formed(events: list[dict]) -> None:
    """message_start first, message_stop last, every block started, stopped, in order."""
    assert events[0]["type"] == "message_start"
    assert events[-1]["type"] == "message_stop"
    assert events[-2]["type"] == "message_delta"
    open_blocks: set[int] = set()
    seen: list[int] = []
    for event in events:
        if event["type"] == "content_block_start":
            assert not open_blocks, "blocks stream one after the other"
            open_blocks.add(event["index"])
            seen.append(event["index"])
        elif event["type"] == "content_block_delta":
            assert event["index"] in open_blocks
        elif event["type"] == "content_block_stop":
            open_blocks.remove(event["index"])
    assert not open_blocks
    assert seen == list(range(len(seen)))


def test_text_answer_with_the_sdk(anthropic_client, gateway):
    raw = anthropic_client.messages.with_raw_response.create(
        model="coding-elite", max_tokens=256, messages=[user("echo: hello there")]
    )
    message = raw.parse()
    assert message.type == "message" and message.role == "assistant"
    assert message.content[0].type == "text"
    assert message.content[0].text == "hello there"
    assert message.stop_reason == "end_turn"
    assert message.model == "groq/llama-3.3-70b-versatile"
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0
    assert raw.headers["x-gateway-virtual-model"] == "coding-elite"
    assert raw.headers["x-gateway-served-by"] == "groq/llama-3.3-70b-versatile"


def test_streamed_text_with_the_sdk(anthropic_client):
    with anthropic_client.messages.stream(
        model="coding-elite", max_tokens=256, messages=[user("echo: one two three four")]
    ) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == "one two three four"
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens > 0


def test_stream_event_sequence(gateway):
    events = sse_events(
        gateway, {"model": "coding-elite", "max_tokens": 100, "messages": [user("echo: a b c")]}
    )
    assert_well_formed(events)
    start = events[0]["message"]
    assert start["role"] == "assistant" and start["content"] == []
    deltas = [e["delta"]["text"] for e in events if e["type"] == "content_block_delta"]
    assert "".join(deltas) == "a b c"
    assert events[-2]["delta"]["stop_reason"] == "end_turn"
    assert events[-2]["usage"]["output_tokens"] > 0


@pytest.mark.parametrize(
    "model", ["coding-elite", "gemini/gemini-3-pro", "mybox/some-model", "g4f/gpt-4"]
)
def test_tool_use_round_trip(anthropic_client, model):
    first = anthropic_client.messages.create(
        model=model,
        max_tokens=512,
        tools=[WRITE_TOOL],
        tool_choice={"type": "auto"},
        messages=[user("create hello.txt containing hi")],
    )
    assert first.stop_reason == "tool_use"
    call = next(block for block in first.content if block.type == "tool_use")
    assert call.name == "write"
    assert call.input == {"filePath": "hello.txt", "content": "hi"}
    assert call.id
    second = anthropic_client.messages.create(
        model=model,
        max_tokens=512,
        tools=[WRITE_TOOL],
        messages=[
            user("create hello.txt containing hi"),
            {"role": "assistant", "content": [block.model_dump() for block in first.content]},
            {
                "role": "user",
                "content": [
                    {"type": "tool_result", "tool_use_id": call.id, "content": "Wrote hello.txt"}
                ],
            },
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text.startswith("Done: ")


@pytest.mark.parametrize("model", ["coding-elite", "gemini/gemini-3-pro"])
def test_streamed_tool_use(gateway, anthropic_client, model):
    body = {
        "model": model,
        "max_tokens": 512,
        "tools": [WRITE_TOOL],
        "messages": [user("create hello.txt")],
    }
    events = sse_events(gateway, body)
    assert_well_formed(events)
    starts = [e for e in events if e["type"] == "content_block_start"]
    tool = next(e["content_block"] for e in starts if e["content_block"]["type"] == "tool_use")
    assert tool["name"] == "write" and tool["input"] == {} and tool["id"]
    partial = "".join(
        e["delta"]["partial_json"]
        for e in events
        if e["type"] == "content_block_delta" and e["delta"]["type"] == "input_json_delta"
    )
    assert json.loads(partial) == {"filePath": "hello.txt", "content": "hi"}
    assert events[-2]["delta"]["stop_reason"] == "tool_use"
    with anthropic_client.messages.stream(**body) as stream:
        final = stream.get_final_message()
    assert final.content[-1].input == {"filePath": "hello.txt", "content": "hi"}


def test_claude_code_fields_are_accepted(anthropic_client, gateway, emulator):
    """System blocks with cache_control, thinking, context_management, output_config,
    metadata and beta headers: accepted, never a 400; nothing Anthropic-only goes upstream."""
    emulator.clear()
    raw = anthropic_client.messages.with_raw_response.create(
        model="coding-elite",
        max_tokens=32000,
        system=[
            {"type": "text", "text": "You are an agent.", "cache_control": {"type": "ephemeral"}}
        ],
        messages=[
            {
                "role": "user",
                "content": [
                    {
                        "type": "text",
                        "text": "echo: accepted",
                        "cache_control": {"type": "ephemeral"},
                    }
                ],
            }
        ],
        extra_body=CLAUDE_CODE_EXTRAS,
        extra_headers=BETA_HEADERS,
    )
    assert raw.parse().content[0].text == "accepted"
    upstream = next(r for r in emulator.requests if r.model == "llama-3.3-70b-versatile")
    body = upstream.body
    for field in ("thinking", "context_management", "output_config", "metadata", "user"):
        assert field not in body
    assert body["messages"][0] == {"role": "system", "content": "You are an agent."}
    assert "cache_control" not in json.dumps(body)


def test_a_system_message_inside_messages_reaches_the_upstream(anthropic_client, emulator):
    """Claude Code states its working directory in a `system` message among the others."""
    emulator.clear()
    message = anthropic_client.messages.create(
        model="mybox/some-model",
        max_tokens=50,
        messages=[
            user("echo: fine"),
            {"role": "system", "content": "Primary working directory: /home/user/project"},
        ],
    )
    assert message.content[0].type == "text"
    body = next(r for r in emulator.requests if r.model == "some-model").body
    assert "Primary working directory: /home/user/project" in json.dumps(body)


def test_system_as_string_and_stop_sequences(anthropic_client, emulator):
    emulator.clear()
    anthropic_client.messages.create(
        model="mybox/some-model",
        max_tokens=50,
        system="Be brief.",
        stop_sequences=["END"],
        extra_body={"temperature": 0.2},
        messages=[user("hi")],
    )
    body = next(r for r in emulator.requests if r.model == "some-model").body
    assert body["messages"][0] == {"role": "system", "content": "Be brief."}
    assert body["stop"] == ["END"]
    assert body["max_tokens"] == 50 and body["temperature"] == 0.2


def test_tool_choice_any_and_named(anthropic_client, emulator):
    for choice, expected in (
        ({"type": "any"}, "required"),
        ({"type": "tool", "name": "write"}, {"type": "function", "function": {"name": "write"}}),
        (
            {"type": "auto", "disable_parallel_tool_use": True},
            "auto",
        ),
    ):
        emulator.clear()
        anthropic_client.messages.create(
            model="mybox/some-model",
            max_tokens=50,
            tools=[WRITE_TOOL],
            tool_choice=choice,
            messages=[user("create hello.txt")],
        )
        body = next(r for r in emulator.requests if r.model == "some-model").body
        assert body["tool_choice"] == expected
        if choice.get("disable_parallel_tool_use"):
            assert body["parallel_tool_calls"] is False


def test_thinking_is_streamed_as_a_thinking_block(gateway, anthropic_client):
    events = sse_events(
        gateway, {"model": "mybox/thinker", "max_tokens": 100, "messages": [user("echo: yes")]}
    )
    assert_well_formed(events)
    kinds = [e["content_block"]["type"] for e in events if e["type"] == "content_block_start"]
    assert kinds == ["thinking", "text"]
    deltas = [e["delta"]["type"] for e in events if e["type"] == "content_block_delta"]
    assert deltas.index("signature_delta") < deltas.index("text_delta")
    message = anthropic_client.messages.create(
        model="mybox/thinker", max_tokens=100, messages=[user("echo: yes")]
    )
    assert [b.type for b in message.content] == ["thinking", "text"]
    assert message.content[0].thinking and message.content[1].text == "yes"


def test_echoed_thinking_blocks_do_not_reach_the_upstream(anthropic_client, emulator):
    emulator.clear()
    anthropic_client.messages.create(
        model="mybox/some-model",
        max_tokens=50,
        messages=[
            user("first"),
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "earlier thoughts", "signature": ""},
                    {"type": "text", "text": "earlier answer"},
                ],
            },
            user("echo: second"),
        ],
    )
    body = next(r for r in emulator.requests if r.model == "some-model").body
    assert "earlier thoughts" not in json.dumps(body)


def test_failover_to_gemini(anthropic_client):
    raw = anthropic_client.messages.with_raw_response.create(
        model="chain-429", max_tokens=100, messages=[user("echo: via gemini")]
    )
    assert raw.parse().content[0].text == "via gemini"
    assert raw.headers["x-gateway-served-by"] == "gemini/gemini-3-pro"
    assert int(raw.headers["x-gateway-candidate"]) == 2


def test_count_tokens_calls_no_provider(anthropic_client, emulator):
    emulator.clear()
    result = anthropic_client.messages.count_tokens(
        model="coding-elite",
        system="You are an agent.",
        tools=[WRITE_TOOL],
        messages=[user("how many tokens is this sentence?")],
    )
    assert result.input_tokens > 10
    assert emulator.requests == []


# -- errors, in Anthropic's shape ---------------------------------------------------------


def test_unknown_model_is_not_found_error(anthropic_client):
    with pytest.raises(anthropic.NotFoundError) as caught:
        anthropic_client.messages.create(
            model="no-such-model", max_tokens=10, messages=[user("hi")]
        )
    assert caught.value.body["type"] == "error"
    assert caught.value.body["error"]["type"] == "not_found_error"


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"model": "coding-elite", "max_tokens": 10}, "messages"),
        ({"model": "coding-elite", "messages": [{"role": "tool", "content": "x"}]}, "messages"),
        ({"model": "coding-elite", "messages": [{"role": "user", "content": 5}]}, "messages"),
        (
            {"model": "coding-elite", "messages": [user("x")], "system": [{"type": "image"}]},
            "system",
        ),
        (
            {
                "model": "coding-elite",
                "messages": [user("x")],
                "tools": [{"type": "bash_20250124", "name": "bash"}],
            },
            "tools",
        ),
    ],
)
def test_bad_requests_are_invalid_request_errors(gateway, body, param):
    response = httpx.post(gateway.url + "/v1/messages", json=body, timeout=10)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "error"
    assert error["error"]["type"] == "invalid_request_error"
    assert param in error["error"]["message"]


def test_invalid_json_is_an_anthropic_error(gateway):
    response = httpx.post(gateway.url + "/v1/messages", content=b"{oops", timeout=10)
    assert response.status_code == 400
    assert response.json()["error"]["type"] == "invalid_request_error"


def test_rate_limited_chain_is_429_with_retry_after(anthropic_client):
    # Twice: the second time every candidate is resting after its rate limit.
    for _ in range(2):
        with pytest.raises(anthropic.RateLimitError) as caught:
            anthropic_client.messages.create(model="exhausted", max_tokens=10, messages=[user("x")])
        response = caught.value.response
        assert int(response.headers["retry-after"]) >= 1
        assert caught.value.body["error"]["type"] == "rate_limit_error"


def test_failing_chain_is_529_overloaded(anthropic_client):
    with pytest.raises(anthropic.InternalServerError) as caught:
        anthropic_client.messages.create(
            model="groq/fault-500", max_tokens=10, messages=[user("x")]
        )
    assert caught.value.status_code == 529
    assert caught.value.body["error"]["type"] == "overloaded_error"
    assert "retry-after" in caught.value.response.headers


def test_embedding_model_is_refused_on_messages(anthropic_client):
    with pytest.raises(anthropic.BadRequestError) as caught:
        anthropic_client.messages.create(model="embeddings", max_tokens=10, messages=[user("x")])
    assert "/v1/embeddings" in caught.value.body["error"]["message"]
