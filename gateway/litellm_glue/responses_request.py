"""A Responses API request as the chat request it stands for, converted by LiteLLM.

LiteLLM's converter knows every `input` item type (messages, `function_call`,
`function_call_output`, reasoning, files and images), `instructions`, tool and `tool_choice`
shapes, `text.format` and `reasoning`; the gateway reuses it rather than keep a copy.
"""

from __future__ import annotations

from typing import Any

from litellm.responses.litellm_completion_transformation.custom_tools import (
    extract_custom_tool_names,
)
from litellm.responses.litellm_completion_transformation.transformation import (
    LiteLLMCompletionResponsesConfig,
)

from gateway.formats.responses import ToolNaming

# The request fields that describe the conversation; everything else is the server's business
# (`store`, `prompt_cache_key`, `include`, `stream`...) and is not converted.
_CONVERTED_FIELDS = (
    "context_management",
    "instructions",
    "max_output_tokens",
    "parallel_tool_calls",
    "reasoning",
    "safety_identifier",
    "temperature",
    "text",
    "tool_choice",
    "tools",
    "top_p",
    "user",
)

_CONVERTER = LiteLLMCompletionResponsesConfig


# The `input` item types the converter turns into chat messages. It skips any other type
# without a word, which would silently drop part of the conversation, so those are refused.
READABLE_ITEM_TYPES = frozenset(
    {
        "message",
        "function_call",
        "function_call_output",
        "custom_tool_call",
        "custom_tool_call_output",
        "computer_call_output",
        "reasoning",
        "web_search_call",
    }
)
MESSAGE_ROLES = frozenset({"user", "assistant", "system", "developer"})


class InvalidResponsesRequest(ValueError):
    """The request could not be read as a conversation (the message says what was wrong)."""

    def __init__(self, message: str, param: str = "input", code: str = "invalid_input") -> None:
        super().__init__(message)
        self.param = param
        self.code = code


def chat_request(body: dict[str, Any], model: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The chat `messages` and the other chat parameters for a Responses request `body`."""
    _check_input(body.get("input"))
    optional = {key: body[key] for key in _CONVERTED_FIELDS if body.get(key) is not None}
    try:
        request = _CONVERTER.transform_responses_api_request_to_chat_completion_request(
            model=model, input=body["input"], responses_api_request=optional, stream=True
        )
    except Exception as exc:  # the converter raises whatever its parsing hits
        raise InvalidResponsesRequest(f"'input' could not be read: {exc}") from None
    messages = request.pop("messages", None)
    if not isinstance(messages, list) or not messages:
        raise InvalidResponsesRequest(
            "'input' holds no message (expected items such as {'role': 'user', 'content': ...} "
            "or {'type': 'function_call_output', ...})"
        )
    return [dict(message) for message in messages], request


def _check_input(input_items: object) -> None:
    if isinstance(input_items, str) and input_items:
        return
    if not isinstance(input_items, list) or not input_items:
        raise InvalidResponsesRequest(
            "'input' is required (a string or a non-empty array).", code="missing_input"
        )
    for index, item in enumerate(input_items):
        where = f"input[{index}]"
        if not isinstance(item, dict):
            raise InvalidResponsesRequest(f"{where} must be an object.", where)
        kind = item.get("type", "message")
        if not isinstance(kind, str) or kind not in READABLE_ITEM_TYPES:
            raise InvalidResponsesRequest(
                f"{where} has type {kind!r}, which the gateway cannot serve; it reads "
                f"{', '.join(sorted(READABLE_ITEM_TYPES))}.",
                where,
            )
        role = item.get("role")
        if kind == "message" and (not isinstance(role, str) or role not in MESSAGE_ROLES):
            raise InvalidResponsesRequest(
                f"{where} is a message and needs a 'role' among "
                f"{', '.join(sorted(MESSAGE_ROLES))}.",
                where,
            )


def tool_naming(tools: object) -> ToolNaming:
    """How the converter renamed the request's namespace and custom tools (LiteLLM's own
    maps, so the names match what it sent upstream)."""
    if not isinstance(tools, list):
        return ToolNaming()
    request_tools = [tool for tool in tools if isinstance(tool, dict)]
    return ToolNaming(
        namespaced=dict(_CONVERTER.namespace_tool_name_map(request_tools)),
        custom=frozenset(extract_custom_tool_names(request_tools)),
    )
