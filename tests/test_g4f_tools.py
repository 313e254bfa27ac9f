"""G4F keeps an agent's tools: through g4f's own client code, pointed at the emulator, tools
go natively to providers that take them and are described in the prompt for the others; an
answer that is not the call the request needed fails over, never reaches the agent as prose."""

from __future__ import annotations

import json

import httpx
import openai
import pytest

from gateway.engine.g4f_tools import checked_tool_calls, merge_fragments
from gateway.routing.failures import UpstreamFailure
from tests.conftest import provider_env, tool_spec
from tests.gateway_process import GatewayProcess, write_config

WRITE = tool_spec("write")
ASK = [{"role": "user", "content": "create hello.txt containing hi"}]


@pytest.fixture(scope="module")
def g4f_gateway(emulator, tmp_path_factory):
    root = tmp_path_factory.mktemp("g4f-tools")
    base = emulator.base_url + "/v1"
    providers = {
        # an OpenAI-compatible server: g4f passes `tools` as they are
        "g4fnative": {"type": "g4f", "api_base": base, "models": ["gpt-4"]},
        # a g4f provider without native tools: g4f describes them in the prompt
        "g4femu": {
            "type": "g4f",
            "api_base": base,
            "g4f_tools": "emulated",
            "models": ["gpt-4", "badtoolcall-1", "proser-1", "proser-2"],
        },
    }
    virtual = {
        "broken-then-native": {"candidates": ["g4femu/badtoolcall-1", "g4fnative/gpt-4"]},
        "prose-then-emulated": {"candidates": ["g4femu/proser-1", "g4femu/gpt-4"]},
    }
    config = write_config(root / "config", providers, virtual, routing={"cooldown_seconds": 1})
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as gw:
        yield gw


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


@pytest.mark.parametrize("model", ["g4fnative/gpt-4", "g4femu/gpt-4"])
def test_tool_calls_come_back_as_tool_calls(g4f_gateway, emulator, model):
    completion = _client(g4f_gateway).chat.completions.create(
        model=model, messages=ASK, tools=[WRITE]
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.function.name == "write"
    assert json.loads(call.function.arguments) == {"filePath": "hello.txt", "content": "hi"}
    upstream = emulator.requests[-1].body
    if model.startswith("g4fnative"):  # natively: the tools as sent
        assert upstream["tools"][0]["function"]["name"] == "write"
    else:  # emulated: described in the prompt, no `tools` upstream
        assert "tools" not in upstream
        assert "Tool `write`" in upstream["messages"][0]["content"]


@pytest.mark.parametrize("model", ["g4fnative/gpt-4", "g4femu/gpt-4"])
def test_streamed_tool_calls(g4f_gateway, model):
    stream = _client(g4f_gateway).chat.completions.create(
        model=model, messages=ASK, tools=[WRITE], stream=True
    )
    chunks = list(stream)
    calls = [c for ch in chunks for c in (ch.choices[0].delta.tool_calls or []) if ch.choices]
    assert calls and calls[0].function.name == "write" and calls[0].id
    arguments = "".join(c.function.arguments or "" for c in calls)
    assert json.loads(arguments) == {"filePath": "hello.txt", "content": "hi"}
    finishes = [ch.choices[0].finish_reason for ch in chunks if ch.choices]
    assert finishes[-1] == "tool_calls"
    assert finishes.count("tool_calls") == 1  # g4f's extra closing chunk is not passed on
    texts = [ch.choices[0].delta.content for ch in chunks if ch.choices]
    assert not any(texts)


@pytest.mark.parametrize("model", ["g4fnative/gpt-4", "g4femu/gpt-4"])
def test_tool_history_is_preserved(g4f_gateway, emulator, model):
    history = [
        *ASK,
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "write", "arguments": '{"filePath":"hello.txt"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_9", "content": "Wrote file successfully."},
    ]
    completion = _client(g4f_gateway).chat.completions.create(
        model=model, messages=history, tools=[WRITE]
    )
    assert completion.choices[0].message.content == "Done: Wrote file successfully."
    upstream = emulator.requests[-1].body
    if model.startswith("g4fnative"):
        assert upstream["messages"][1]["tool_calls"][0]["id"] == "call_9"
        assert "reasoning_content" not in upstream["messages"][1]  # strict servers refuse it
        assert upstream["messages"][2]["role"] == "tool"
    else:
        text = upstream["messages"][-1]["content"]
        assert "[Tool call: write] (id=call_9)" in text and "Wrote file successfully." in text


def test_an_unparseable_call_fails_over(g4f_gateway, emulator):
    before = emulator.count(model="badtoolcall-1")
    raw = _client(g4f_gateway).chat.completions.with_raw_response.create(
        model="broken-then-native", messages=ASK, tools=[WRITE]
    )
    completion = raw.parse()
    assert raw.headers["x-gateway-served-by"] == "g4fnative/gpt-4"
    assert completion.choices[0].message.tool_calls[0].function.name == "write"
    assert emulator.count(model="badtoolcall-1") > before  # it was asked, and failed
    stats = httpx.get(g4f_gateway.url + "/stats", timeout=10).json()
    hour = stats["providers"]["g4femu"]["models"]["g4femu/badtoolcall-1"]["hour"]
    assert hour["outcomes"]["server_error"] >= 1


def test_an_unparseable_streamed_call_fails_over(g4f_gateway):
    stream = _client(g4f_gateway).chat.completions.create(
        model="broken-then-native", messages=ASK, tools=[WRITE], stream=True
    )
    chunks = list(stream)
    assert {ch.model for ch in chunks} == {"g4fnative/gpt-4"}
    names = [
        c.function.name for ch in chunks if ch.choices for c in ch.choices[0].delta.tool_calls or ()
    ]
    assert names == ["write"]


def test_prose_where_a_call_is_required_fails_over(g4f_gateway):
    raw = _client(g4f_gateway).chat.completions.with_raw_response.create(
        model="prose-then-emulated", messages=ASK, tools=[WRITE], tool_choice="required"
    )
    assert raw.headers["x-gateway-served-by"] == "g4femu/gpt-4"
    assert raw.parse().choices[0].message.tool_calls[0].function.name == "write"


def test_prose_is_a_fine_answer_when_the_model_may_choose(g4f_gateway):
    completion = _client(g4f_gateway).chat.completions.create(
        model="g4femu/proser-2", messages=ASK, tools=[WRITE], tool_choice="auto"
    )
    assert completion.choices[0].message.content.startswith("I would rather")
    assert completion.choices[0].finish_reason == "stop"


def test_tool_choice_none_answers_in_text(g4f_gateway):
    completion = _client(g4f_gateway).chat.completions.create(
        model="g4fnative/gpt-4",
        messages=[{"role": "user", "content": "echo: no tools today"}],
        tools=[WRITE],
        tool_choice="none",
    )
    assert completion.choices[0].message.content == "no tools today"
    assert not completion.choices[0].message.tool_calls


# -- the check itself --------------------------------------------------------------------


def _params(choice=None):
    return {"tools": [WRITE], **({"tool_choice": choice} if choice is not None else {})}


def _call(name="write", arguments='{"filePath": "a"}'):
    return {"id": "c", "type": "function", "function": {"name": name, "arguments": arguments}}


@pytest.mark.parametrize(
    ("params", "content", "calls", "why"),
    [
        (_params(), "", [_call("delete")], "which the request did not offer"),
        (_params(), "", [_call(arguments="{not json")], "are not JSON"),
        (_params(), "", [_call(arguments="[1]")], "not a JSON object"),
        (_params("required"), "Sure, I will write it.", [], "required a tool call"),
        (
            _params({"type": "function", "function": {"name": "write"}}),
            "ok",
            [],
            "required a tool call",
        ),
        (_params("none"), "", [_call()], "tool_choice was none"),
        (_params(), '{"tool_calls": [{"name": "write", "arguments": {', [], "could not be parsed"),
        (_params(), '```json\n{"name": "write", "arguments"', [], "could not be parsed"),
    ],
)
def test_bad_answers_are_failures(params, content, calls, why):
    with pytest.raises(UpstreamFailure) as failure:
        checked_tool_calls(params, content, calls)
    assert failure.value.fails_over and failure.value.status == 502
    assert why in failure.value.message


def test_good_answers_pass():
    assert checked_tool_calls(_params(), "plain text {braces} are fine", []) == []
    assert checked_tool_calls({}, '{"tool_calls": []}', []) == []  # no tools: nothing to check
    (call,) = checked_tool_calls(_params("required"), "", [_call(arguments=None)])
    assert call["function"] == {"name": "write", "arguments": "{}"}


def test_stream_fragments_merge_by_index():
    calls: dict = {}
    merge_fragments(
        calls, [{"index": 0, "id": "a", "function": {"name": "write", "arguments": ""}}]
    )
    merge_fragments(calls, [{"index": 0, "function": {"arguments": '{"filePath":'}}])
    merge_fragments(calls, [{"index": 0, "function": {"arguments": '"x"}'}}])
    merge_fragments(
        calls, [{"index": 1, "id": "b", "function": {"name": "write", "arguments": {}}}]
    )
    assert calls[0] == {
        "id": "a",
        "type": "function",
        "function": {"name": "write", "arguments": '{"filePath":"x"}'},
    }
    assert calls[1]["function"]["arguments"] == "{}"
