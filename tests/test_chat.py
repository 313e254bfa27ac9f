"""Chat completions through the running gateway, per provider type, stream and non-stream."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.conftest import tool_spec

PROVIDER_MODELS = [
    ("groq/llama-3.3-70b-versatile", "groq"),
    ("gemini/gemini-3-pro", "gemini"),
    ("github/openai/gpt-4.1", "github"),
    ("cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast", "cloudflare"),
    ("mybox/some-model", "openai"),
    ("g4f/gpt-4", "openai"),
    # engine: litellm, LiteLLM's Router making the call:
    ("routedgroq/routed-model", "groq"),
    ("routedgem/routed-gemini", "gemini"),
    ("routedbox/routed-box", "openai"),
]


@pytest.mark.parametrize(
    ("model", "engine"),
    [
        ("groq/llama-3.3-70b-versatile", "free-llm-gateway/"),
        ("routedgroq/routed-model", "litellm/"),
    ],
)
def test_engine_setting_picks_who_sends_the_call(client, emulator, model, engine):
    """`engine: native` (the default) is the gateway's own client; `engine: litellm` is
    LiteLLM's Router (each says who it is in its user agent)."""
    emulator.clear()
    client.chat.completions.create(model=model, messages=[{"role": "user", "content": "hi"}])
    sent = next(r for r in emulator.requests if r.model == model.split("/", 1)[1])
    assert engine in sent.headers.get("user-agent", "").lower()


def test_virtual_model_answers_from_first_candidate(client):
    raw = client.chat.completions.with_raw_response.create(
        model="coding-elite", messages=[{"role": "user", "content": "hi"}]
    )
    completion = raw.parse()
    assert completion.model == "groq/llama-3.3-70b-versatile"
    assert completion.choices[0].message.content == "Hello from groq:llama-3.3-70b-versatile."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage.total_tokens > 0
    assert raw.headers["x-gateway-virtual-model"] == "coding-elite"
    assert raw.headers["x-gateway-served-by"] == "groq/llama-3.3-70b-versatile"
    assert raw.headers["x-gateway-attempt"] == "1"


@pytest.mark.parametrize(("model", "wire"), PROVIDER_MODELS)
def test_each_provider_type_direct(client, emulator, model, wire):
    upstream_model = model.split("/", 1)[1]
    completion = client.chat.completions.create(
        model=model, messages=[{"role": "user", "content": "echo: ping " + wire}]
    )
    assert completion.model == model
    assert completion.choices[0].message.content == "ping " + wire
    assert emulator.count(model=upstream_model) >= 1


@pytest.mark.parametrize(("model", "wire"), PROVIDER_MODELS)
def test_each_provider_type_streams(client, model, wire):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "echo: one two three four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    assert {c.model for c in chunks} == {model}
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert any(c.usage and c.usage.completion_tokens > 0 for c in chunks)


@pytest.mark.parametrize(
    "model",
    [
        "groq/llama-3.3-70b-versatile",
        "gemini/gemini-3-pro",
        "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast",
    ],
)
def test_tool_calls_non_stream(client, model):
    completion = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "create hello.txt"}],
        tools=[tool_spec()],
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    call = choice.message.tool_calls[0]
    assert call.function.name == "write"
    assert json.loads(call.function.arguments) == {"filePath": "hello.txt", "content": "hi"}
    assert call.id


@pytest.mark.parametrize("model", ["coding-elite", "gemini/gemini-3-pro", "mybox/some-model"])
def test_tool_calls_stream_and_tool_result_turn(client, model):
    stream = client.chat.completions.create(
        model=model,
        messages=[{"role": "user", "content": "create hello.txt"}],
        tools=[tool_spec()],
        stream=True,
    )
    name, arguments, call_id, finish = "", "", None, None
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        for call in delta.tool_calls or []:
            call_id = call.id or call_id
            name += call.function.name or ""
            arguments += call.function.arguments or ""
        finish = chunk.choices[0].finish_reason or finish
    assert finish == "tool_calls"
    assert name == "write"
    assert json.loads(arguments) == {"filePath": "hello.txt", "content": "hi"}
    assert call_id

    follow_up = client.chat.completions.create(
        model=model,
        tools=[tool_spec()],
        messages=[
            {"role": "user", "content": "create hello.txt"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "write", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "wrote hello.txt"},
        ],
    )
    assert follow_up.choices[0].message.content == "Done: wrote hello.txt"
    assert follow_up.choices[0].finish_reason == "stop"


def test_models_lists_virtual_models_first(gateway):
    data = httpx.get(gateway.url + "/v1/models").json()["data"]
    ids = [m["id"] for m in data]
    assert ids[0] == "coding-elite"
    assert data[0]["description"] == "Best agentic coding model that is up right now"
    virtual = [m for m in data if m["owned_by"] == "gateway"]
    assert [m["id"] for m in data[: len(virtual)]] == [m["id"] for m in virtual]
    assert "groq/llama-3.3-70b-versatile" in ids
    assert "nokey/m1" not in ids  # providers without a key are not offered directly
    assert "off/m2" not in ids


def test_responses_api_non_stream(client):
    response = client.responses.create(
        model="coding-elite",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "echo: hello there"}]}],
        instructions="be brief",
        store=False,
    )
    assert response.output_text == "hello there"
    assert response.model == "groq/llama-3.3-70b-versatile"
    assert response.usage.output_tokens > 0


def test_responses_api_stream(client):
    events = list(
        client.responses.create(
            model="gemini/gemini-3-pro", input="echo: streamed words here", stream=True
        )
    )
    types = [e.type for e in events]
    assert types[0] == "response.created"
    assert "response.output_text.delta" in types
    assert types[-1] == "response.completed"
    completed = events[-1].response
    assert completed.output_text == "streamed words here"
    assert completed.usage.output_tokens > 0


def test_responses_api_falls_back(client):
    response = client.responses.create(model="chain-429-plain", input="echo: via fallback")
    assert response.output_text == "via fallback"
    assert response.model == "github/openai/gpt-4.1"
