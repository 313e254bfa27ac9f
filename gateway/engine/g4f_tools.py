"""Tool calls through g4f: what to hand g4f's client, and the check of what comes back.

g4f already does the two halves of the work: providers that take OpenAI `tools` natively
(`supports_native_tools`: PollinationsAI, any OpenAI-compatible `api_base`) get them as they
are, and for the others its `ToolSupportProvider` describes the tools in the prompt and parses
a JSON tool call out of the answer. What g4f does not do is refuse an answer that is not the
call the request needed: an unparseable attempt, or prose when `tool_choice` required a call,
comes back as text. An agent that asked for a tool must never get that, so the answer is
checked here and a bad one is an upstream failure: the chain moves on to the next candidate.
"""

from __future__ import annotations

import json
import re
from typing import Any

from gateway.routing.failures import FailureKind, UpstreamFailure
from gateway.routing.tool_calls import as_dict as _as_dict
from gateway.routing.tool_calls import merge_fragments

__all__ = ["checked_tool_calls", "merge_fragments", "tool_kwargs"]

# The start of an answer that tried to be a tool call (JSON, a fenced block, g4f's own
# `[Tool call: ...]` text, a <tool_call> tag) without becoming one.
_ATTEMPT = re.compile(
    r"^\s*(?:```|\{|\[\s*\{|\[\s*tool\s*call|<tool_call>|<function_call>)", re.IGNORECASE
)
_TOOL_WORDS = re.compile(r"tool_calls?|\"name\"|\"arguments\"|function_call|tool\s*call", re.I)


def tool_kwargs(params: dict[str, Any], emulated: bool) -> dict[str, Any]:
    """The tool arguments for g4f's client (none when the request offers no tools)."""
    tools = params.get("tools")
    if not tools:
        return {}
    kwargs: dict[str, Any] = {"tools": tools}
    for key in ("tool_choice", "parallel_tool_calls"):
        if params.get(key) is not None:
            kwargs[key] = params[key]
    if emulated:
        kwargs["tool_emulation"] = True  # g4f's prompt-based tools, even where it has native
    return kwargs


def checked_tool_calls(
    params: dict[str, Any], content: str, calls: list[Any]
) -> list[dict[str, Any]]:
    """The answer's tool calls in OpenAI's shape, or an `UpstreamFailure` when the answer is
    not what the request allows: a call to a tool it did not offer, arguments that are not a
    JSON object, an attempt at a call that could not be parsed, or no call where `tool_choice`
    required one. Requests without tools pass through."""
    tools = params.get("tools") or []
    if not tools:
        return []
    offered = {(t.get("function") or {}).get("name") for t in tools if isinstance(t, dict)}
    choice = params.get("tool_choice")
    forced = _forced_name(choice)
    checked = []
    for number, call in enumerate(calls):
        call = _as_dict(call)
        function = _as_dict(call.get("function"))
        name = function.get("name")
        if name not in offered:
            raise _bad_answer(f"it called {name!r}, which the request did not offer")
        if forced and name != forced:
            raise _bad_answer(f"it called {name!r} where tool_choice required {forced!r}")
        arguments = function.get("arguments")
        if not isinstance(arguments, str):
            arguments = json.dumps(arguments if arguments is not None else {})
        try:
            parsed = json.loads(arguments or "{}")
        except ValueError:
            raise _bad_answer(f"the arguments of {name!r} are not JSON") from None
        if not isinstance(parsed, dict):
            raise _bad_answer(f"the arguments of {name!r} are not a JSON object")
        checked.append(
            {
                "id": call.get("id") or f"call_{number}",
                "type": "function",
                "function": {"name": name, "arguments": arguments or "{}"},
            }
        )
    if checked:
        if choice == "none":
            raise _bad_answer("it called a tool where tool_choice was none")
        return checked
    if choice == "required" or forced:
        raise _bad_answer("it answered in text where tool_choice required a tool call")
    if choice != "none" and _ATTEMPT.match(content or "") and _TOOL_WORDS.search(content):
        raise _bad_answer("its tool call could not be parsed")
    return []


def _forced_name(choice: Any) -> str | None:
    if isinstance(choice, dict):
        return (_as_dict(choice.get("function"))).get("name") or choice.get("name")
    return None


def _bad_answer(why: str) -> UpstreamFailure:
    # A bad answer is the provider's, not the request's: fail over (a 502, as a gateway
    # reports an upstream that answered nonsense).
    return UpstreamFailure(FailureKind.SERVER_ERROR, f"g4f: not a usable tool call: {why}", 502)
