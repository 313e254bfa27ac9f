"""An Anthropic Messages request as the chat request it stands for, converted by LiteLLM.

LiteLLM's Anthropic adapter knows the Messages API's blocks (text, image, document,
`tool_use`, `tool_result`, `thinking`), `system` as a string or blocks, `tool_choice`,
`stop_sequences`, `thinking` / `output_config` (as `reasoning_effort`) and structured output;
the gateway reuses it rather than keep a copy. What it cannot serve is refused with the
offending field named; what Claude Code adds for Anthropic's own servers (cache-control
markers, `context_management`, `metadata`, beta headers) is dropped.
"""

from __future__ import annotations

from typing import Any

from litellm.llms.anthropic.messages.adapters.transformation import (
    LiteLLMAnthropicMessagesAdapter,
)

_ADAPTER = LiteLLMAnthropicMessagesAdapter()
# Claude Code puts mid-conversation notes (its working directory, ...) in `system` messages;
# LiteLLM's adapter turns them into user turns marked as operator notes.
ROLES = frozenset({"user", "assistant", "system"})
# Anthropic server tools the gateway runs itself (see gateway/search); others are refused.
WEB_SEARCH_TOOL_PREFIX = "web_search"
_SEARCH_BLOCKS = frozenset({"server_tool_use", "web_search_tool_result"})


class InvalidMessagesRequest(ValueError):
    """The request could not be read as a conversation (the message says what was wrong)."""

    def __init__(self, message: str, param: str = "messages") -> None:
        super().__init__(message)
        self.param = param


def chat_request(
    body: dict[str, Any], model: str
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    """The chat `messages`, the other chat parameters, and the tool names LiteLLM shortened
    (shortened name -> the caller's name) for an Anthropic Messages `body`."""
    _check_messages(body.get("messages"))
    _check_system(body.get("system"))
    tools = _checked_tools(body.get("tools"))
    request = {**body, "model": model, "messages": _searches_as_text(body["messages"])}
    if tools is None:
        request.pop("tools", None)
    else:
        request["tools"] = tools
    try:
        converted, tool_names = _ADAPTER.translate_anthropic_to_openai(request)
    except Exception as exc:  # the adapter raises whatever its parsing hits
        raise InvalidMessagesRequest(f"the request could not be read: {exc}") from None
    converted = dict(converted)
    messages = converted.pop("messages", None)
    if not isinstance(messages, list) or not messages:
        raise InvalidMessagesRequest("'messages' holds no message")
    choice = body.get("tool_choice")
    if isinstance(choice, dict) and choice.get("disable_parallel_tool_use") is True:
        converted["parallel_tool_calls"] = False
    return [dict(message) for message in messages], converted, dict(tool_names)


def _searches_as_text(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Earlier web searches in the history (`server_tool_use` and `web_search_tool_result`
    blocks, which LiteLLM's adapter drops) as text, so the model still sees what it found."""
    converted = []
    for message in messages:
        content = message.get("content")
        if not isinstance(content, list) or not any(
            isinstance(b, dict) and b.get("type") in _SEARCH_BLOCKS for b in content
        ):
            converted.append(message)
            continue
        blocks = []
        for block in content:
            kind = block.get("type") if isinstance(block, dict) else None
            if kind == "server_tool_use":
                query = (block.get("input") or {}).get("query", "")
                blocks.append({"type": "text", "text": f"[searched the web for: {query}]\n"})
            elif kind == "web_search_tool_result":
                results = block.get("content")
                lines = (
                    [
                        f"- {r.get('title', '')} {r.get('url', '')}"
                        for r in results
                        if isinstance(r, dict)
                    ]
                    if isinstance(results, list)
                    else ["(the search failed)"]
                )
                blocks.append({"type": "text", "text": "\n".join(lines) + "\n"})
            else:
                blocks.append(block)
        converted.append({**message, "content": blocks})
    return converted


def web_search_tools(body: dict[str, Any]) -> list[dict[str, Any]]:
    """The request's Anthropic web-search server tools (`web_search_20250305`, ...)."""
    return [
        tool
        for tool in body.get("tools") or ()
        if isinstance(tool, dict) and str(tool.get("type", "")).startswith(WEB_SEARCH_TOOL_PREFIX)
    ]


def _check_messages(messages: object) -> None:
    if not isinstance(messages, list) or not messages:
        raise InvalidMessagesRequest("'messages' is required (a non-empty array).")
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or role not in ROLES:
            raise InvalidMessagesRequest(
                f"{where} must be an object with 'role' 'user', 'assistant' or 'system'.", where
            )
        content = message.get("content")
        if not isinstance(content, str | list):
            raise InvalidMessagesRequest(
                f"{where}.content must be a string or an array of content blocks.", where
            )
        if isinstance(content, list):
            for position, block in enumerate(content):
                if not isinstance(block, dict) or not isinstance(block.get("type"), str):
                    raise InvalidMessagesRequest(
                        f"{where}.content[{position}] must be a block with a 'type'.",
                        f"{where}.content[{position}]",
                    )


def _check_system(system: object) -> None:
    if system is None or isinstance(system, str):
        return
    if not isinstance(system, list) or not all(
        isinstance(block, dict) and block.get("type") == "text" for block in system
    ):
        raise InvalidMessagesRequest(
            "'system' must be a string or an array of text blocks.", "system"
        )


def _checked_tools(tools: object) -> list[dict[str, Any]] | None:
    """The client tools to convert; server tools the gateway cannot run are refused, web
    search is left to the gateway's own search (not converted)."""
    if tools is None:
        return None
    if not isinstance(tools, list):
        raise InvalidMessagesRequest("'tools' must be an array.", "tools")
    client_tools = []
    for index, tool in enumerate(tools):
        where = f"tools[{index}]"
        if not isinstance(tool, dict):
            raise InvalidMessagesRequest(f"{where} must be an object.", where)
        kind = str(tool.get("type") or "custom")
        if kind.startswith(WEB_SEARCH_TOOL_PREFIX):
            continue
        if kind != "custom" or not isinstance(tool.get("name"), str):
            raise InvalidMessagesRequest(
                f"{where} is Anthropic's server tool {kind!r}, which no upstream here can "
                "run; send client tools ({'name', 'description', 'input_schema'}) instead.",
                where,
            )
        if not isinstance(tool.get("input_schema", {}), dict):
            raise InvalidMessagesRequest(f"{where}.input_schema must be an object.", where)
        client_tools.append(tool)
    return client_tools or None
