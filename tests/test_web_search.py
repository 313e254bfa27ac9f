"""Web search for any model, in every API: `:online`, `web_search_options` and the `web` plugin
(a search before the answer), the Responses `web_search` tool and Anthropic's
`web_search_20250305` server tool (the model asks, the gateway searches), all served by the
`web-search` chain against the emulator's DuckDuckGo, Brave and Tavily."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import anthropic
import httpx
import openai
import pytest

from tests.conftest import provider_env, tool_spec
from tests.gateway_process import GatewayProcess, write_config

SEARCH = {
    "duckduckgo": {"type": "duckduckgo", "timeout": 2},
    "brave": {"type": "brave", "api_key_env": "BRAVE_API_KEY"},
    "tavily": {"type": "tavily", "api_key_env": "TAVILY_API_KEY"},
}
ROUTING = {
    "cooldown_seconds": 1,
    "rate_limit_cooldown_seconds": 1,
    "auth_error_cooldown_seconds": 1,
    "max_retry_after_seconds": 1,
}
DDG_1 = "https://example.com/duckduckgo/1"
ANTHROPIC_SEARCH = {"type": "web_search_20250305", "name": "web_search"}


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("web-search")
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m", "greedysearch"]},
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["g"]},
    }
    virtual = {"smart": {"candidates": ["groq/m", "gemini/g"]}}
    config = write_config(root / "config", providers, virtual, search=SEARCH, routing=ROUTING)
    with GatewayProcess(config, root / "data", env=provider_env(emulator)) as process:
        yield process


def rested() -> None:
    time.sleep(1.2)  # the previous test's search failures rest 1 s


def _chat_requests(emulator, model: str) -> list[dict]:
    return [r.body for r in emulator.requests if r.model == model and isinstance(r.body, dict)]


def _system_texts(body: dict) -> list[str]:
    return [m["content"] for m in body["messages"] if m["role"] == "system"]


def _client(gw: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="unused", max_retries=0)


# -- a search before the answer ---------------------------------------------------------------


def test_online_suffix_grounds_and_cites(gw, emulator):
    emulator.clear()
    raw = _client(gw).chat.completions.with_raw_response.create(
        model="smart:online", messages=[{"role": "user", "content": "what is new in rust"}]
    )
    completion = raw.parse()
    assert raw.headers["x-gateway-served-by"] == "groq/m"
    assert raw.headers["x-gateway-virtual-model"] == "smart"
    (upstream,) = _chat_requests(emulator, "m")
    # the results sit just before the question, in a system message
    assert [m["role"] for m in upstream["messages"]] == ["system", "user"]
    (grounding,) = _system_texts(upstream)
    assert 'Web search results for "what is new in rust":' in grounding
    assert grounding.count("https://example.com/duckduckgo/") == 5
    assert "cite every source you use" in grounding
    sent = [r for r in emulator.requests if r.provider == "duckduckgo"]
    assert sent[-1].body["q"] == "what is new in rust"
    message = completion.choices[0].message
    assert DDG_1 in message.content
    (annotation,) = message.annotations
    citation = annotation.url_citation
    assert annotation.type == "url_citation" and citation.url == DDG_1
    assert message.content[citation.start_index : citation.end_index] == DDG_1


def test_web_search_options_streamed(gw, emulator):
    emulator.clear()
    stream = _client(gw).chat.completions.create(
        model="groq/m",
        messages=[{"role": "user", "content": "python packaging"}],
        stream=True,
        stream_options={"include_usage": True},
        extra_body={"web_search_options": {"search_context_size": "low"}},
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert DDG_1 in text
    finishing = next(c for c in chunks if c.choices and c.choices[0].finish_reason)
    (annotation,) = finishing.choices[0].delta.model_extra["annotations"]
    assert text[annotation["url_citation"]["start_index"] :].startswith(DDG_1)
    assert chunks[-1].usage.completion_tokens > 0
    (upstream,) = _chat_requests(emulator, "m")
    assert _system_texts(upstream)[0].count("https://example.com/duckduckgo/") == 3  # "low"
    assert "web_search_options" not in upstream


def test_web_plugin_with_its_own_prompt(gw, emulator):
    emulator.clear()
    body = {
        "model": "groq/m",
        "messages": [{"role": "user", "content": "serde"}],
        "plugins": [{"id": "web", "max_results": 2, "search_prompt": "Fresh results:"}],
    }
    response = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30)
    assert response.status_code == 200, response.text
    (upstream,) = _chat_requests(emulator, "m")
    (grounding,) = _system_texts(upstream)
    assert grounding.startswith("Fresh results:")
    assert grounding.count("https://example.com/duckduckgo/") == 2
    assert "plugins" not in upstream


def test_a_failing_search_provider_fails_over(gw, emulator):
    rested()
    emulator.clear()
    completion = _client(gw).chat.completions.create(
        model="groq/m:online",
        messages=[{"role": "user", "content": "tokio duckduckgo-fault-429"}],
    )
    (upstream,) = _chat_requests(emulator, "m")
    assert "https://example.com/brave/1" in _system_texts(upstream)[0]
    assert "https://example.com/brave/1" in completion.choices[0].message.content


def test_with_every_search_provider_down_the_answer_still_comes(gw, emulator):
    rested()
    emulator.clear()
    query = "q duckduckgo-fault-500 brave-fault-500 tavily-fault-500"
    completion = _client(gw).chat.completions.create(
        model="groq/m:online", messages=[{"role": "user", "content": query}]
    )
    assert completion.choices[0].message.content.startswith("Hello from groq:m.")
    assert not completion.choices[0].message.annotations
    (upstream,) = _chat_requests(emulator, "m")
    assert (
        f'Web search for "{query}" failed (every search provider is unavailable)'
        in (_system_texts(upstream)[0])
    )


def test_search_is_recorded_in_telemetry(gw):
    stats = httpx.get(gw.url + "/stats", timeout=10).json()
    hour = stats["providers"]["duckduckgo"]["models"]["duckduckgo/search"]["hour"]
    assert hour["requests"] >= 3 and hour["outcomes"]["success"] >= 2


# -- the Responses web_search tool ----------------------------------------------------------


def test_responses_web_search_tool(gw, emulator):
    rested()
    emulator.clear()
    response = _client(gw).responses.create(
        model="smart",
        input="search the web for rust async runtimes",
        tools=[{"type": "web_search"}],
    )
    assert [item.type for item in response.output] == ["web_search_call", "message"]
    call = response.output[0]
    assert call.status == "completed"
    assert call.action.query == "rust async runtimes"
    assert call.action.sources[0].url == DDG_1
    text = response.output[1].content[0]
    assert DDG_1 in text.text
    (annotation,) = text.annotations
    assert annotation.type == "url_citation" and annotation.url == DDG_1
    assert text.text[annotation.start_index : annotation.end_index] == DDG_1
    assert response.tools[0].type == "web_search"  # echoed as the client sent it
    first, second = _chat_requests(emulator, "m")
    assert [t["function"]["name"] for t in first["tools"]] == ["web_search"]
    assert second["messages"][-1]["role"] == "tool"
    assert 'Web search results for "rust async runtimes"' in second["messages"][-1]["content"]
    sent = [r for r in emulator.requests if r.provider == "duckduckgo"]
    assert sent[-1].body["q"] == "rust async runtimes"


def test_a_tool_choice_forcing_the_search_holds_for_the_first_call_only(gw, emulator):
    """Choosing the hosted tool (Responses) or naming the server tool (Messages, as Claude
    Code's WebSearch does) forces one search; then the model answers."""
    rested()
    emulator.clear()
    response = _client(gw).responses.create(
        model="smart",
        input="search the web for zig allocators",
        tools=[{"type": "web_search_preview"}],
        tool_choice={"type": "web_search_preview"},
    )
    assert [item.type for item in response.output] == ["web_search_call", "message"]
    first, second = _chat_requests(emulator, "m")
    assert first["tool_choice"] == {"type": "function", "function": {"name": "web_search"}}
    assert "tool_choice" not in second
    rested()
    emulator.clear()
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    message = client.messages.create(
        model="smart",
        max_tokens=200,
        messages=[{"role": "user", "content": "search the web for zig allocators"}],
        tools=[{**ANTHROPIC_SEARCH, "max_uses": 8}],
        tool_choice={"type": "tool", "name": "web_search"},
    )
    kinds = [block.type for block in message.content]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text"], kinds
    first, second = _chat_requests(emulator, "m")
    assert first["tool_choice"] == {"type": "function", "function": {"name": "web_search"}}
    assert "tool_choice" not in second


def test_responses_web_search_streamed(gw):
    stream = _client(gw).responses.create(
        model="smart",
        input="search the web for zig comptime",
        tools=[{"type": "web_search_preview"}],
        stream=True,
    )
    events = list(stream)
    kinds = [e.type for e in events]
    for expected in (
        "response.web_search_call.in_progress",
        "response.web_search_call.searching",
        "response.web_search_call.completed",
        "response.output_text.annotation.added",
        "response.completed",
    ):
        assert expected in kinds, kinds
    assert kinds.index("response.web_search_call.completed") < kinds.index(
        "response.output_text.delta"
    )
    done = events[-1].response
    assert [item.type for item in done.output] == ["web_search_call", "message"]
    assert [e.sequence_number for e in events] == list(range(len(events)))


def test_responses_client_tools_still_work_beside_search(gw, emulator):
    emulator.clear()
    write = {
        "type": "function",
        "name": "write",
        "parameters": tool_spec()["function"]["parameters"],
    }
    response = _client(gw).responses.create(
        model="smart",
        input="create hello.txt containing hi",
        tools=[{"type": "web_search"}, write],
    )
    assert [item.type for item in response.output] == ["function_call"]
    assert response.output[0].name == "write"
    (upstream,) = _chat_requests(emulator, "m")
    assert {t["function"]["name"] for t in upstream["tools"]} == {"write", "web_search"}


# -- Anthropic's web search server tool -----------------------------------------------------


def test_messages_web_search_server_tool(gw):
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    message = client.messages.create(
        model="smart",
        max_tokens=200,
        tools=[ANTHROPIC_SEARCH],
        messages=[{"role": "user", "content": "search the web for deno 3 release"}],
    )
    kinds = [block.type for block in message.content]
    assert kinds == ["server_tool_use", "web_search_tool_result", "text"]
    use, result, text = message.content
    assert use.name == "web_search" and use.input == {"query": "deno 3 release"}
    assert result.tool_use_id == use.id
    assert result.content[0].url == DDG_1 and result.content[0].type == "web_search_result"
    assert DDG_1 in text.text
    assert message.stop_reason == "end_turn"
    assert message.usage.server_tool_use.web_search_requests == 1


def test_messages_web_search_streamed(gw):
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    with client.messages.stream(
        model="smart",
        max_tokens=200,
        tools=[ANTHROPIC_SEARCH],
        messages=[{"role": "user", "content": "search the web for bun 2"}],
    ) as stream:
        events = list(stream)
        final = stream.get_final_message()
    starts = [e.content_block.type for e in events if e.type == "content_block_start"]
    assert starts == ["server_tool_use", "web_search_tool_result", "text"]
    assert final.content[0].input == {"query": "bun 2"}
    assert DDG_1 in final.content[2].text


def test_max_uses_is_respected(gw, emulator):
    emulator.clear()
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    message = client.messages.create(
        model="groq/greedysearch",
        max_tokens=200,
        tools=[{**ANTHROPIC_SEARCH, "max_uses": 2}],
        messages=[{"role": "user", "content": "anything"}],
    )
    # the model would search forever; after two searches it is no longer offered the tool
    results = [b for b in message.content if b.type == "web_search_tool_result"]
    assert len(results) == 2 and all(isinstance(r.content, list) for r in results)
    assert message.usage.server_tool_use.web_search_requests == 2
    assert message.content[-1].type == "text"
    assert len([r for r in emulator.requests if r.provider == "duckduckgo"]) == 2
    last = _chat_requests(emulator, "greedysearch")[-1]
    assert "tools" not in last  # the budget spent, the search is no longer offered


def test_search_history_goes_back_as_text(gw, emulator):
    emulator.clear()
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    client.messages.create(
        model="groq/m",
        max_tokens=100,
        messages=[
            {"role": "user", "content": "search the web for x"},
            {
                "role": "assistant",
                "content": [
                    {
                        "type": "server_tool_use",
                        "id": "srvtoolu_1",
                        "name": "web_search",
                        "input": {"query": "x"},
                    },
                    {
                        "type": "web_search_tool_result",
                        "tool_use_id": "srvtoolu_1",
                        "content": [
                            {
                                "type": "web_search_result",
                                "url": "https://x.org/",
                                "title": "X",
                                "encrypted_content": "",
                                "page_age": None,
                            }
                        ],
                    },
                    {"type": "text", "text": "X is at https://x.org/."},
                ],
            },
            {"role": "user", "content": "thanks"},
        ],
    )
    (upstream,) = _chat_requests(emulator, "m")
    assistant = upstream["messages"][1]["content"]
    assert "[searched the web for: x]" in assistant and "X https://x.org/" in assistant


def test_online_on_messages_searches_first(gw):
    client = anthropic.Anthropic(base_url=gw.url, api_key="unused", max_retries=0)
    message = client.messages.create(
        model="smart:online",
        max_tokens=100,
        messages=[{"role": "user", "content": "elixir 2"}],
    )
    assert [b.type for b in message.content] == [
        "server_tool_use",
        "web_search_tool_result",
        "text",
    ]
    assert json.dumps(message.content[0].input) == '{"query": "elixir 2"}'
