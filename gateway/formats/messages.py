"""Anthropic's Messages API: the `message` object and its stream events, built from a chat
answer.

`/v1/messages` is served by the same chains as chat completions, an answer continued on
another provider after the first died mid-stream included. LiteLLM's adapter converts the
request (gateway/litellm_glue/anthropic_request.py), but its stream translation reads one
upstream's stream wrapper and cannot follow an answer from one provider to the next, so this
builder reads the gateway's seamless chunk stream instead. The event sequence is Anthropic's:
`message_start`, per content block `content_block_start` ... deltas ... `content_block_stop`
(`text_delta`, `thinking_delta` then `signature_delta`, `input_json_delta`), then
`message_delta` with the `stop_reason` and usage, and `message_stop`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.search.grounding import FUNCTION_NAME, SEARCH_MARKER, SearchRun

Event = dict[str, Any]

# Chat finish reasons in Anthropic's words.
STOP_REASONS = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}


def new_message_id() -> str:
    return f"msg_{uuid.uuid4().hex[:24]}"


def anthropic_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Chat usage in the Messages API's terms (cached prompt tokens are read from cache)."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    return {
        "input_tokens": max(0, prompt - cached),
        "output_tokens": usage.get("completion_tokens") or 0,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": cached,
    }


@dataclass
class _Block:
    """One content block being streamed."""

    index: int
    kind: str  # "text" | "thinking" | "tool_use" | "server_tool_use" | "web_search_tool_result"
    parts: list[str] = field(default_factory=list)
    search: SearchRun | None = None
    tool_id: str | None = None
    name: str = ""
    announced: bool = False
    stopped: bool = False

    @property
    def text(self) -> str:
        return "".join(self.parts)


class MessageBuilder:
    """Turns one chat answer's chunks into Messages API stream events, in order.

    `start` gives `message_start`, `feed` the events for each chat chunk dict, `finish` the
    closing `message_delta` and `message_stop`, `fail` the `error` event of an answer that
    broke off. `message()` is the whole message object (non-stream requests).
    """

    def __init__(self, model: str, tool_names: dict[str, str] | None = None) -> None:
        self.id = new_message_id()
        self.model = model
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self.blocks: list[_Block] = []
        self._open: _Block | None = None  # the text or thinking block receiving deltas
        self._calls: dict[int, _Block] = {}  # streamed tool calls by their chat index
        # Tool names LiteLLM's adapter shortened for OpenAI's 64-character limit.
        self._tool_names = tool_names or {}
        self.searches = 0  # web searches the gateway ran (usage.server_tool_use)

    # -- the stream's three phases -------------------------------------------------------

    def start(self) -> list[Event]:
        message = self._message_head()
        message["usage"] = anthropic_usage(None)
        return [{"type": "message_start", "message": message}]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if SEARCH_MARKER in chunk:
            return self._search(chunk[SEARCH_MARKER])
        if chunk.get("model"):
            self.model = chunk["model"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[Event] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # Anthropic has no `n`
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._text_delta("thinking", delta["reasoning_content"])
            if delta.get("content"):
                events += self._text_delta("text", delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._tool_call_delta(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        events = self._close_open() + self._close_calls()
        usage = self._usage()
        events.append(
            {
                "type": "message_delta",
                "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
                "usage": usage,
            }
        )
        events.append({"type": "message_stop"})
        return events

    def fail(self, error_type: str, message: str) -> list[Event]:
        """An answer that broke off ends with an `error` event, never `message_stop`."""
        return [{"type": "error", "error": {"type": error_type, "message": message}}]

    @property
    def stop_reason(self) -> str:
        if any(block.kind == "tool_use" for block in self.blocks):
            return "tool_use"
        return STOP_REASONS.get(self.finish_reason or "stop", "end_turn")

    # -- the whole message -----------------------------------------------------------------

    def message(self) -> dict[str, Any]:
        """The message object as it stands (call after the last `feed`)."""
        message = self._message_head()
        message["content"] = [self._content(block) for block in self.blocks]
        message["stop_reason"] = self.stop_reason
        message["usage"] = self._usage()
        return message

    def _usage(self) -> dict[str, Any]:
        usage = anthropic_usage(self.usage)
        if self.searches:
            usage["server_tool_use"] = {"web_search_requests": self.searches}
        return usage

    def _message_head(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
        }

    def _content(self, block: _Block) -> dict[str, Any]:
        if block.search is not None:
            return _search_block(block)
        if block.kind == "text":
            return {"type": "text", "text": block.text}
        if block.kind == "thinking":
            return {"type": "thinking", "thinking": block.text, "signature": ""}
        return {
            "type": "tool_use",
            "id": block.tool_id,
            "name": block.name,
            "input": tool_input(block.text),
        }

    # -- content blocks --------------------------------------------------------------------

    def _search(self, run: SearchRun) -> list[Event]:
        """A search the gateway ran for the model, as Anthropic's server tool reports one: a
        `server_tool_use` block with the query, then its `web_search_tool_result`."""
        events = self._close_open() + self._close_calls()
        if run.error_code != "max_uses_exceeded":
            self.searches += 1
        use = self._new_block("server_tool_use")
        use.tool_id, use.search = f"srvtoolu_{run.id}", run
        result = self._new_block("web_search_tool_result")
        result.tool_id, result.search = use.tool_id, run
        head = {"type": "server_tool_use", "id": use.tool_id, "name": FUNCTION_NAME, "input": {}}
        query = orjson.dumps({"query": run.query}).decode()
        events += [
            {"type": "content_block_start", "index": use.index, "content_block": head},
            {
                "type": "content_block_delta",
                "index": use.index,
                "delta": {"type": "input_json_delta", "partial_json": query},
            },
            {"type": "content_block_stop", "index": use.index},
            {
                "type": "content_block_start",
                "index": result.index,
                "content_block": _search_block(result),
            },
            {"type": "content_block_stop", "index": result.index},
        ]
        return events

    def _text_delta(self, kind: str, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open is not None and self._open.kind != kind:
            events += self._close_open()
        if self._open is None:
            events += self._close_calls()  # text after a tool call opens a new block
            block = self._open = self._new_block(kind)
            empty = {"type": "text", "text": ""}
            if kind == "thinking":
                empty = {"type": "thinking", "thinking": "", "signature": ""}
            events.append(
                {"type": "content_block_start", "index": block.index, "content_block": empty}
            )
        self._open.parts.append(text)
        delta = (
            {"type": "thinking_delta", "thinking": text}
            if kind == "thinking"
            else {"type": "text_delta", "text": text}
        )
        events.append({"type": "content_block_delta", "index": self._open.index, "delta": delta})
        return events

    def _close_open(self) -> list[Event]:
        closing, self._open = self._open, None
        if closing is None:
            return []
        events: list[Event] = []
        if closing.kind == "thinking":
            # No upstream here signs its reasoning; clients expect the delta all the same.
            events.append(
                {
                    "type": "content_block_delta",
                    "index": closing.index,
                    "delta": {"type": "signature_delta", "signature": ""},
                }
            )
        events.append({"type": "content_block_stop", "index": closing.index})
        return events

    def _tool_call_delta(self, delta: dict[str, Any]) -> list[Event]:
        events = self._close_open()
        function = delta.get("function") or {}
        position = delta.get("index", len(self._calls))
        call = self._calls.get(position)
        if call is None:
            call = self._calls[position] = _Block(index=-1, kind="tool_use")
            call.tool_id = delta.get("id") or f"toolu_{uuid.uuid4().hex[:24]}"
        elif delta.get("id") and not call.announced:
            call.tool_id = delta["id"]
        arguments = function.get("arguments") or ""
        if not call.announced:
            call.name += function.get("name") or ""
            call.parts.append(arguments)
            if not call.name:
                return events  # a block is announced with its name
            call.name = self._tool_names.get(call.name, call.name)
            events += self._stop_calls()  # blocks stream one after the other
            call.index = len(self.blocks)
            call.announced = True
            self.blocks.append(call)
            events.append(
                {
                    "type": "content_block_start",
                    "index": call.index,
                    "content_block": {
                        "type": "tool_use",
                        "id": call.tool_id,
                        "name": call.name,
                        "input": {},
                    },
                }
            )
            arguments = call.text
        else:
            call.parts.append(arguments)
        if arguments:
            events.append(
                {
                    "type": "content_block_delta",
                    "index": call.index,
                    "delta": {"type": "input_json_delta", "partial_json": arguments},
                }
            )
        return events

    def _stop_calls(self) -> list[Event]:
        events: list[Event] = []
        for call in self._calls.values():
            if call.announced and not call.stopped:
                call.stopped = True
                events.append({"type": "content_block_stop", "index": call.index})
        return events

    def _close_calls(self) -> list[Event]:
        events = self._stop_calls()
        self._calls.clear()
        return events

    def _new_block(self, kind: str) -> _Block:
        block = _Block(index=len(self.blocks), kind=kind)
        self.blocks.append(block)
        return block


def _search_block(block: _Block) -> dict[str, Any]:
    run = block.search
    assert run is not None
    if block.kind == "server_tool_use":
        return {
            "type": "server_tool_use",
            "id": block.tool_id,
            "name": FUNCTION_NAME,
            "input": {"query": run.query},
        }
    content: Any
    if run.error:
        content = {"type": "web_search_tool_result_error", "error_code": run.error_code}
    else:
        content = [
            {
                "type": "web_search_result",
                "url": result["url"],
                "title": result["title"],
                # Anthropic's results carry the page text encrypted for its own models; the
                # gateway has the snippet in the clear, which is what it gave the model.
                "encrypted_content": result.get("snippet", ""),
                "page_age": result.get("date"),
            }
            for result in run.results
        ]
    return {"type": "web_search_tool_result", "tool_use_id": block.tool_id, "content": content}


def tool_input(arguments: str) -> dict[str, Any]:
    """A tool call's JSON arguments as the object Anthropic's `input` must be."""
    if not arguments.strip():
        return {}
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def message_from_completion(
    completion: dict[str, Any],
    tool_names: dict[str, str] | None = None,
    searches: list[SearchRun] = (),
) -> dict[str, Any]:
    """A whole chat completion as a Messages API message object (non-stream requests),
    after the web searches made for it."""
    builder = MessageBuilder(completion.get("model") or "", tool_names)
    for run in searches:
        builder.feed({SEARCH_MARKER: run})
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        calls = [
            {**call, "index": position}
            for position, call in enumerate(message.get("tool_calls") or ())
        ]
        builder.feed(
            {
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": {
                            "reasoning_content": message.get("reasoning_content"),
                            "content": message.get("content"),
                            "tool_calls": calls,
                        },
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
                "usage": completion.get("usage"),
            }
        )
    return builder.message()
