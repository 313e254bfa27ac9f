"""The OpenAI Responses API's response object and stream events, built from a chat answer.

`/v1/responses` is served by the same chains as chat completions, with the same failover,
including an answer continued on another provider after the first died mid-stream. LiteLLM
has a chat-to-Responses converter, but it reads from its own single-upstream stream wrapper,
so it cannot follow an answer from one provider to the next; this builder reads the gateway's
seamless chunk stream instead. The event sequence is the one OpenAI sends (and
`@ai-sdk/openai` parses): `response.created`, `response.in_progress`, per output item
`output_item.added` … deltas … `output_item.done`, then `response.completed` (or
`response.incomplete`) carrying the usage.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from gateway.search.grounding import SEARCH_MARKER, SearchRun, citations

Event = dict[str, Any]
Item = dict[str, Any]

# Request fields the response object echoes, with the value OpenAI reports when absent.
_ECHOED_DEFAULTS: dict[str, Any] = {
    "instructions": None,
    "max_output_tokens": None,
    "metadata": {},
    "parallel_tool_calls": True,
    "reasoning": {"effort": None, "summary": None},
    "temperature": None,
    "text": {"format": {"type": "text"}},
    "tool_choice": "auto",
    "tools": [],
    "top_p": None,
    "truncation": "disabled",
    "user": None,
}

# Chat finish reasons that leave a Responses answer incomplete, and the reason reported.
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def echoed_fields(body: dict[str, Any], stored: bool = False) -> dict[str, Any]:
    """What the response object repeats of the request; `stored` says whether the gateway
    keeps it (for `previous_response_id` and `item_reference`)."""
    echoed = {
        key: body[key] if body.get(key) is not None else default
        for key, default in _ECHOED_DEFAULTS.items()
    }
    echoed["store"] = stored
    echoed["previous_response_id"] = body.get("previous_response_id")
    return echoed


@dataclass(frozen=True)
class ToolNaming:
    """How the chat tool names of an answer map back to the request's Responses tools.

    The request's `namespace` tools reach chat models flattened (`ns__name`) and its
    `custom` (freeform) tools as functions taking one `content` string; a call to either
    must come back in the Responses API's own terms: a `function_call` with `namespace` and
    the short name, or a `custom_tool_call` with the raw `input`.
    """

    namespaced: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    custom: frozenset[str] = frozenset()

    def function(self, name: str) -> tuple[str, str | None]:
        """(short name, namespace) of a chat function name."""
        if name in self.namespaced:
            namespace, short = self.namespaced[name]
            return short, namespace
        return name, None


def custom_tool_input(arguments: str) -> str:
    """A custom tool's raw input from the `{"content": ...}` arguments it was called with."""
    try:
        value = orjson.loads(arguments)
    except orjson.JSONDecodeError:
        return arguments
    if isinstance(value, dict) and isinstance(value.get("content"), str):
        return value["content"]
    return arguments


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


def responses_usage(usage: dict[str, Any] | None) -> dict[str, Any]:
    """Chat usage in the Responses API's terms."""
    usage = usage or {}
    prompt = usage.get("prompt_tokens") or 0
    completion = usage.get("completion_tokens") or 0
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens") or 0
    reasoning = (usage.get("completion_tokens_details") or {}).get("reasoning_tokens") or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": prompt + completion,
    }


@dataclass(frozen=True)
class _TextItemKind:
    """An output item with one part that grows by text deltas: a message's `output_text`, or
    a reasoning item's `summary_text`. Both follow the same event pattern under other names."""

    id_prefix: str
    fields: dict[str, Any]  # the item's fields besides its id, while in progress
    parts_key: str  # the item's list of parts
    part_type: str
    part_event: str  # `<part_event>.added` / `.done`
    text_event: str  # `<text_event>.delta` / `.done`
    index_key: str  # the part's index field in those events
    part_extra: dict[str, Any]  # more fields of a part
    text_extra: dict[str, Any]  # more fields of the text events

    def part(self, text: str) -> dict[str, Any]:
        return {"type": self.part_type, "text": text, **self.part_extra}


MESSAGE = _TextItemKind(
    id_prefix="msg",
    fields={"type": "message", "status": "in_progress", "role": "assistant", "content": []},
    parts_key="content",
    part_type="output_text",
    part_event="response.content_part",
    text_event="response.output_text",
    index_key="content_index",
    part_extra={"annotations": [], "logprobs": []},
    text_extra={"logprobs": []},
)
REASONING = _TextItemKind(
    id_prefix="rs",
    fields={"type": "reasoning", "summary": []},
    parts_key="summary",
    part_type="summary_text",
    part_event="response.reasoning_summary_part",
    text_event="response.reasoning_summary_text",
    index_key="summary_index",
    part_extra={},
    text_extra={},
)


@dataclass
class _OpenItem:
    """A text-like output item still receiving deltas."""

    kind: _TextItemKind
    item: Item
    output_index: int
    parts: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(self.parts)

    @property
    def where(self) -> dict[str, Any]:
        """The fields that locate this item's part in an event."""
        return {
            "item_id": self.item["id"],
            "output_index": self.output_index,
            self.kind.index_key: 0,
        }


@dataclass
class _ToolCall:
    """A function (or custom tool) call being streamed; announced once its name is known."""

    item: Item
    output_index: int | None = None
    pending_arguments: str = ""
    custom: bool = False  # a custom tool's input arrives whole, when the call is done


class ResponseBuilder:
    """Turns one chat answer's chunks into Responses API events, in order.

    Feed it OpenAI chat chunk dicts (`feed`); `start` gives the opening events, `finish` the
    closing ones with the final response, `fail` the ending of an answer that broke off.
    """

    def __init__(
        self,
        echoed: dict[str, Any],
        model: str,
        created_at: int | None = None,
        tool_naming: ToolNaming | None = None,
    ) -> None:
        self.id = new_id("resp")
        self.tool_naming = tool_naming or ToolNaming()
        self.created_at = created_at or int(time.time())
        self.model = model
        self.echoed = echoed
        self.output: list[Item] = []
        self.usage: dict[str, Any] | None = None
        self.finish_reason: str | None = None
        self._sequence = 0
        self._open_text: _OpenItem | None = None  # a message or reasoning item
        self._calls: dict[int, _ToolCall] = {}
        self.searches: list[SearchRun] = []  # the gateway's web searches, for citations

    # -- the stream's three phases -------------------------------------------------------

    def start(self) -> list[Event]:
        response = self.response("in_progress")
        return [
            self._event("response.created", response=response),
            self._event("response.in_progress", response=response),
        ]

    def feed(self, chunk: dict[str, Any]) -> list[Event]:
        if SEARCH_MARKER in chunk:
            return self._search_call(chunk[SEARCH_MARKER])
        if chunk.get("model"):
            self.model = chunk["model"]
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        events: list[Event] = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue  # n > 1 has no Responses equivalent
            delta = choice.get("delta") or {}
            if delta.get("reasoning_content"):
                events += self._text_delta(REASONING, delta["reasoning_content"])
            if delta.get("content"):
                events += self._text_delta(MESSAGE, delta["content"])
            for call in delta.get("tool_calls") or ():
                events += self._tool_call_delta(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]
        return events

    def finish(self) -> list[Event]:
        """Close every open item and end with `response.completed` (or `.incomplete`)."""
        events = self._close_text() + self._close_tool_calls()
        incomplete = _INCOMPLETE_REASONS.get(self.finish_reason or "")
        response = self.response("incomplete" if incomplete else "completed")
        response["usage"] = responses_usage(self.usage)
        if incomplete:
            response["incomplete_details"] = {"reason": incomplete}
            events.append(self._event("response.incomplete", response=response))
        else:
            events.append(self._event("response.completed", response=response))
        return events

    def fail(self, code: str, message: str) -> list[Event]:
        """End an answer that broke off: an `error` event, then `response.failed`."""
        error = {"code": code, "message": message}
        response = self.response("failed")
        response["error"] = error
        if self.usage:
            response["usage"] = responses_usage(self.usage)
        return [
            # OpenAI puts the fields at the top level; `@ai-sdk/openai` reads an `error`
            # object. Both are given so either kind of client sees why.
            self._event(
                "error",
                code=code,
                message=message,
                param=None,
                error={"type": "server_error", **error, "param": None},
            ),
            self._event("response.failed", response=response),
        ]

    def response(self, status: str) -> dict[str, Any]:
        """The response object as it stands."""
        return {
            "id": self.id,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "model": self.model,
            "output": [_snapshot(item) for item in self.output],
            "usage": None,
            **self.echoed,
        }

    # -- output items ----------------------------------------------------------------------

    def _text_delta(self, kind: _TextItemKind, text: str) -> list[Event]:
        events: list[Event] = []
        if self._open_text is not None and self._open_text.kind is not kind:
            events += self._close_text()  # reasoning ends where the answer starts
        if self._open_text is None:
            item = {"id": new_id(kind.id_prefix), **_snapshot(kind.fields)}
            self.output.append(item)
            opened = self._open_text = _OpenItem(kind, item, len(self.output) - 1)
            events += [
                self._event(
                    "response.output_item.added",
                    output_index=opened.output_index,
                    item=_snapshot(item),
                ),
                self._event(f"{kind.part_event}.added", **opened.where, part=kind.part("")),
            ]
        self._open_text.parts.append(text)
        events.append(
            self._event(
                f"{kind.text_event}.delta", **self._open_text.where, delta=text, **kind.text_extra
            )
        )
        return events

    def _close_text(self) -> list[Event]:
        closing, self._open_text = self._open_text, None
        if closing is None:
            return []
        kind, item = closing.kind, closing.item
        part = kind.part(closing.text)
        events: list[Event] = []
        if kind is MESSAGE and self.searches:
            part["annotations"] = [
                {"type": "url_citation", **citation}
                for citation in citations(closing.text, self.searches)
            ]
            events += [
                self._event(
                    "response.output_text.annotation.added",
                    **closing.where,
                    annotation_index=index,
                    annotation=annotation,
                )
                for index, annotation in enumerate(part["annotations"])
            ]
        item[kind.parts_key] = [part]
        if "status" in item:
            item["status"] = "completed"
        events += [
            self._event(
                f"{kind.text_event}.done", **closing.where, text=closing.text, **kind.text_extra
            ),
            self._event(f"{kind.part_event}.done", **closing.where, part=part),
            self._event(
                "response.output_item.done",
                output_index=closing.output_index,
                item=_snapshot(item),
            ),
        ]
        return events

    def _search_call(self, run: SearchRun) -> list[Event]:
        """A search the gateway ran for the model: a `web_search_call` item, as OpenAI's
        hosted tool reports one (`failed` when the search could not be made)."""
        events = self._close_text() + self._close_tool_calls()
        self.searches.append(run)
        item: Item = {
            "id": f"ws_{run.id}",
            "type": "web_search_call",
            "status": "in_progress",
            "action": {"type": "search", "query": run.query},
        }
        output_index = len(self.output)
        self.output.append(item)
        where = {"output_index": output_index, "item_id": item["id"]}
        events += [
            self._event(
                "response.output_item.added", output_index=output_index, item=_snapshot(item)
            ),
            self._event("response.web_search_call.in_progress", **where),
            self._event("response.web_search_call.searching", **where),
        ]
        item["status"] = "failed" if run.error else "completed"
        item["action"] = {
            "type": "search",
            "query": run.query,
            "sources": [{"type": "url", "url": r["url"]} for r in run.results],
        }
        if not run.error:
            events.append(self._event("response.web_search_call.completed", **where))
        events.append(
            self._event(
                "response.output_item.done", output_index=output_index, item=_snapshot(item)
            )
        )
        return events

    def _tool_call_delta(self, delta: dict[str, Any]) -> list[Event]:
        events = self._close_text()
        function = delta.get("function") or {}
        index = delta.get("index", len(self._calls))
        call = self._calls.get(index)
        if call is None:
            call = self._calls[index] = _ToolCall(
                {
                    "id": new_id("fc"),
                    "type": "function_call",
                    "status": "in_progress",
                    "call_id": delta.get("id") or new_id("call"),
                    "name": "",
                    "arguments": "",
                }
            )
        arguments = function.get("arguments") or ""
        if call.output_index is None:
            call.item["name"] += function.get("name") or ""
            call.pending_arguments += arguments
            if not call.item["name"]:
                return events  # a call is announced with its name
            arguments, call.pending_arguments = call.pending_arguments, ""
            self._name_call(call)
            call.output_index = len(self.output)
            self.output.append(call.item)
            events.append(self._event("response.output_item.added", **self._where_item(call)))
        if call.custom:
            call.pending_arguments += arguments
            return events
        if arguments:
            call.item["arguments"] += arguments
            events.append(
                self._event(
                    "response.function_call_arguments.delta",
                    item_id=call.item["id"],
                    output_index=call.output_index,
                    delta=arguments,
                )
            )
        return events

    def _name_call(self, call: _ToolCall) -> None:
        """Give a call its Responses identity: a custom tool call, or a function call with
        its namespace restored."""
        name = call.item["name"]
        if name in self.tool_naming.custom:
            call.custom = True
            call.item = {
                "id": new_id("ctc"),
                "type": "custom_tool_call",
                "status": "in_progress",
                "call_id": call.item["call_id"],
                "name": name,
                "input": "",
            }
            return
        short, namespace = self.tool_naming.function(name)
        call.item["name"] = short
        if namespace is not None:
            call.item["namespace"] = namespace

    def _close_tool_calls(self) -> list[Event]:
        events: list[Event] = []
        for index in sorted(self._calls):
            call = self._calls[index]
            if call.output_index is None:
                continue  # never named: nothing a client could run
            call.item["status"] = "completed"
            where = {"item_id": call.item["id"], "output_index": call.output_index}
            if call.custom:
                call.item["input"] = custom_tool_input(call.pending_arguments)
                events += [
                    self._event(
                        "response.custom_tool_call_input.delta",
                        **where,
                        delta=call.item["input"],
                    ),
                    self._event(
                        "response.custom_tool_call_input.done", **where, input=call.item["input"]
                    ),
                ]
            else:
                events.append(
                    self._event(
                        "response.function_call_arguments.done",
                        **where,
                        arguments=call.item["arguments"],
                    )
                )
            events.append(self._event("response.output_item.done", **self._where_item(call)))
        self._calls.clear()
        return events

    # -- plumbing --------------------------------------------------------------------------

    @staticmethod
    def _where_item(call: _ToolCall) -> dict[str, Any]:
        return {"output_index": call.output_index, "item": _snapshot(call.item)}

    def _event(self, event_type: str, **fields: Any) -> Event:
        event = {"type": event_type, **fields, "sequence_number": self._sequence}
        self._sequence += 1
        return event


def response_from_completion(
    completion: dict[str, Any],
    echoed: dict[str, Any],
    tool_naming: ToolNaming | None = None,
    searches: list[SearchRun] = (),
) -> dict[str, Any]:
    """A whole chat completion as a Responses API response object (non-stream requests),
    after the web searches made for it."""
    builder = ResponseBuilder(
        echoed, completion.get("model") or "", completion.get("created"), tool_naming
    )
    for run in searches:
        builder.feed({SEARCH_MARKER: run})
    for choice in completion.get("choices") or ():
        message = choice.get("message") or {}
        calls = [
            {**call, "index": position}
            for position, call in enumerate(message.get("tool_calls") or ())
        ]
        delta = {
            "reasoning_content": message.get("reasoning_content"),
            "content": message.get("content"),
            "tool_calls": calls,
        }
        builder.feed(
            {
                "choices": [
                    {
                        "index": choice.get("index", 0),
                        "delta": delta,
                        "finish_reason": choice.get("finish_reason"),
                    }
                ],
                "usage": completion.get("usage"),
            }
        )
    response = builder.finish()[-1]["response"]
    # The SDKs' `output_text` convenience, precomputed for clients without one.
    response["output_text"] = "".join(
        part["text"]
        for item in response["output"]
        if item["type"] == "message"
        for part in item["content"]
    )
    return response


def _snapshot(item: Item) -> Item:
    """A copy to put in an event, so later changes to the item do not leak into it."""
    return {key: list(value) if isinstance(value, list) else value for key, value in item.items()}
