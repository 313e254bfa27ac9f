"""The Responses API as Codex and the AI SDK use it: `namespace` and `custom` tools come back in
their own shapes, and stored responses serve `previous_response_id` and `item_reference`,
across a restart too; `store: false` keeps nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from openai import OpenAI

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config
from tests.test_responses import events_of, user

NAMESPACE_TOOL = {
    "type": "namespace",
    "name": "multi_agent_v1",
    "description": "Agents working alongside you.",
    "tools": [
        {
            "type": "function",
            "name": "wait_agent",
            "description": "Wait for an agent",
            "parameters": {
                "type": "object",
                "properties": {"agent_id": {"type": "string"}},
                "required": ["agent_id"],
            },
        }
    ],
}
CUSTOM_TOOL = {
    "type": "custom",
    "name": "apply_patch",
    "description": "Apply a patch to files.",
    "format": {"type": "grammar", "syntax": "lark", "definition": "start: /.+/"},
}


@pytest.mark.parametrize("stream", [False, True])
def test_namespace_tool_call_comes_back_with_its_namespace(gateway, stream):
    body = {"model": "mybox/some-model", "input": [user("wait for agent 7")]}
    body["tools"] = [NAMESPACE_TOOL]
    if stream:
        events = events_of(gateway, {**body, "stream": True})
        added = next(e for n, e in events if n == "response.output_item.added")["item"]
        assert added["name"] == "wait_agent" and added["namespace"] == "multi_agent_v1"
        output = events[-1][1]["response"]["output"]
    else:
        response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
        output = response.json()["output"]
    call = next(item for item in output if item["type"] == "function_call")
    assert call["name"] == "wait_agent"
    assert call["namespace"] == "multi_agent_v1"
    assert json.loads(call["arguments"]) == {"agent_id": "x"}


def test_a_namespace_call_sent_back_reaches_the_upstream_flattened(gateway, emulator):
    emulator.clear()
    body = {
        "model": "mybox/some-model",
        "tools": [NAMESPACE_TOOL],
        "input": [
            user("wait for agent 7"),
            {
                "type": "function_call",
                "call_id": "call_9",
                "namespace": "multi_agent_v1",
                "name": "wait_agent",
                "arguments": '{"agent_id":"7"}',
            },
            {"type": "function_call_output", "call_id": "call_9", "output": "agent 7 is done"},
        ],
    }
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.json()["output_text"].startswith("Done: agent 7 is done")
    upstream = next(r for r in emulator.requests if r.model == "some-model").body
    assert upstream["messages"][1]["tool_calls"][0]["function"]["name"] == (
        "multi_agent_v1__wait_agent"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_custom_tool_call_comes_back_as_custom_tool_call(gateway, stream):
    body = {"model": "coding-elite", "input": [user("patch it")], "tools": [CUSTOM_TOOL]}
    if stream:
        events = events_of(gateway, {**body, "stream": True})
        names = [n for n, _ in events]
        assert "response.function_call_arguments.delta" not in names
        delta = next(e for n, e in events if n == "response.custom_tool_call_input.delta")
        done = next(e for n, e in events if n == "response.custom_tool_call_input.done")
        assert delta["delta"] == "hi" and done["input"] == "hi"
        assert names.index("response.custom_tool_call_input.done") < names.index(
            "response.completed"
        )
        output = events[-1][1]["response"]["output"]
    else:
        output = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30).json()["output"]
    call = next(item for item in output if item["type"] == "custom_tool_call")
    assert call["name"] == "apply_patch"
    assert call["input"] == "hi"  # the raw input, not {"content": ...}
    assert call["call_id"] and call["status"] == "completed"


def test_custom_tool_round_trip(gateway, emulator):
    emulator.clear()
    body = {
        "model": "mybox/some-model",
        "tools": [CUSTOM_TOOL],
        "input": [
            user("patch it"),
            {"type": "custom_tool_call", "call_id": "c1", "name": "apply_patch", "input": "PATCH"},
            {"type": "custom_tool_call_output", "call_id": "c1", "output": "patched"},
        ],
    }
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    assert response.json()["output_text"].startswith("Done: patched")


# -- stored responses ----------------------------------------------------------------------


def test_previous_response_id_continues_the_conversation(gateway, emulator):
    client = OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    first = client.responses.create(
        model="mybox/some-model", input="echo: the answer is 42", instructions="Be brief."
    )
    assert first.store is True
    emulator.clear()
    second = client.responses.create(
        model="mybox/some-model", input="echo: and again", previous_response_id=first.id
    )
    assert second.previous_response_id == first.id
    assert second.output_text == "and again"
    messages = next(r for r in emulator.requests if r.model == "some-model").body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user"]
    assert messages[1]["content"] == "the answer is 42"
    # A third turn follows the whole chain back.
    emulator.clear()
    client.responses.create(
        model="mybox/some-model", input="echo: third", previous_response_id=second.id
    )
    messages = next(r for r in emulator.requests if r.model == "some-model").body["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant", "user"]


def test_previous_response_id_after_a_stream(gateway, emulator):
    events = events_of(
        gateway, {"model": "mybox/some-model", "input": "echo: streamed", "stream": True}
    )
    response_id = events[-1][1]["response"]["id"]
    emulator.clear()
    body = {"model": "mybox/some-model", "input": "echo: next", "previous_response_id": response_id}
    assert httpx.post(gateway.url + "/v1/responses", json=body, timeout=30).status_code == 200
    messages = next(r for r in emulator.requests if r.model == "some-model").body["messages"]
    assert messages[1] == {"role": "assistant", "content": "streamed"}


def test_item_reference_to_an_earlier_output_item(gateway, emulator):
    """The AI SDK's default second turn: earlier output sent as references to its ids."""
    first = httpx.post(
        gateway.url + "/v1/responses",
        json={"model": "mybox/some-model", "input": [user("echo: remembered")]},
        timeout=30,
    ).json()
    item_id = first["output"][0]["id"]
    emulator.clear()
    body = {
        "model": "mybox/some-model",
        "input": [
            user("echo: remembered"),
            {"type": "item_reference", "id": item_id},
            user("echo: what did you say?"),
        ],
    }
    response = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30)
    assert response.status_code == 200, response.text
    messages = next(r for r in emulator.requests if r.model == "some-model").body["messages"]
    assert messages[1]["role"] == "assistant"
    assert messages[1]["content"] in ("remembered", [{"type": "text", "text": "remembered"}])


def test_store_false_keeps_nothing(gateway):
    body = {"model": "mybox/some-model", "input": "echo: secret", "store": False}
    first = httpx.post(gateway.url + "/v1/responses", json=body, timeout=30).json()
    assert first["store"] is False
    assert httpx.get(f"{gateway.url}/v1/responses/{first['id']}").status_code == 404
    follow = httpx.post(
        gateway.url + "/v1/responses",
        json={"model": "mybox/some-model", "input": "x", "previous_response_id": first["id"]},
        timeout=30,
    )
    assert follow.status_code == 400
    assert follow.json()["error"]["code"] == "previous_response_not_found"
    reference = httpx.post(
        gateway.url + "/v1/responses",
        json={
            "model": "mybox/some-model",
            "input": [{"type": "item_reference", "id": first["output"][0]["id"]}],
        },
        timeout=30,
    )
    assert reference.status_code == 400
    assert reference.json()["error"]["param"] == "input[0]"


def test_get_and_delete_a_stored_response(gateway):
    client = OpenAI(base_url=gateway.url + "/v1", api_key="x", max_retries=0)
    created = client.responses.create(model="mybox/some-model", input="echo: keep me")
    fetched = client.responses.retrieve(created.id)
    assert fetched.output_text == "keep me"
    client.responses.delete(created.id)
    assert httpx.get(f"{gateway.url}/v1/responses/{created.id}").status_code == 404
    assert httpx.delete(f"{gateway.url}/v1/responses/{created.id}").status_code == 404


@pytest.fixture(scope="module")
def restartable(emulator, tmp_path_factory) -> Iterator[tuple]:
    root = tmp_path_factory.mktemp("stored")
    config = write_config(
        root / "config",
        {
            "mybox": {
                "type": "openai_compatible",
                "api_base": emulator.base_url + "/v1",
                "models": ["some-model"],
            }
        },
        {"coding-elite": {"candidates": ["mybox/some-model"]}},
    )
    yield config, root / "data"


def test_stored_responses_survive_a_restart(restartable, emulator):
    config, data = restartable
    env = provider_env(emulator)
    with GatewayProcess(config, data, env=env) as gw:
        first = httpx.post(
            gw.url + "/v1/responses",
            json={"model": "coding-elite", "input": "echo: before the restart"},
            timeout=30,
        ).json()
    with GatewayProcess(config, data, env=env) as gw:
        emulator.clear()
        body = {
            "model": "coding-elite",
            "input": "echo: after",
            "previous_response_id": first["id"],
        }
        assert httpx.post(gw.url + "/v1/responses", json=body, timeout=30).status_code == 200
        messages = next(r for r in emulator.requests if r.model == "some-model").body["messages"]
        assert messages[1]["content"] == "before the restart"


def test_retention_zero_stores_nothing(restartable, emulator):
    config, data = restartable
    env = {**provider_env(emulator), "GATEWAY_RESPONSES_RETENTION_DAYS": "0"}
    with GatewayProcess(config, data.parent / "data-nostore", env=env) as gw:
        first = httpx.post(
            gw.url + "/v1/responses", json={"model": "coding-elite", "input": "hi"}, timeout=30
        ).json()
        assert first["store"] is False
        assert httpx.get(f"{gw.url}/v1/responses/{first['id']}").status_code == 404
