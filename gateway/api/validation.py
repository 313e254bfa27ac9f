"""The OpenAI chat parameters the gateway forwards, checked for type and shape before any
upstream sees them.

A malformed parameter (`"tools": "tools"`, `"response_format": "json"`) is the caller's
mistake: it gets a 400 naming the parameter at once, instead of reaching a provider (or
LiteLLM's mapping), failing there, and making a healthy route look broken. Values are checked
loosely (a provider decides what it accepts); types and shapes strictly.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.api.errors import APIError

Check = Callable[[Any], str | None]  # None when fine, else what is wrong


def _number(low: float, high: float) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "must be a number"
        if not low <= value <= high:
            return f"must be between {low:g} and {high:g}"
        return None

    return check


def _integer(low: int, high: int | None = None) -> Check:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be an integer"
        if value < low or (high is not None and value > high):
            return f"must be at least {low}" if high is None else f"must be {low}-{high}"
        return None

    return check


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _stop(value: Any) -> str | None:
    if isinstance(value, str):
        return None
    if isinstance(value, list) and all(isinstance(v, str) for v in value) and len(value) <= 16:
        return None
    return "must be a string or an array of strings"


def _object(value: Any) -> str | None:
    return None if isinstance(value, dict) else "must be an object"


def _tools(value: Any) -> str | None:
    if not isinstance(value, list):
        return "must be an array of tools"
    for index, tool in enumerate(value):
        if not isinstance(tool, dict):
            return f"[{index}] must be an object"
        kind = tool.get("type", "function")
        if kind != "function":
            continue  # provider-native tools are the provider's to judge
        function = tool.get("function")
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            return f"[{index}].function must be an object with a string 'name'"
        if function.get("name") == "":
            return f"[{index}].function.name must not be empty"
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, dict):
            return f"[{index}].function.parameters must be a JSON-schema object"
    return None


def _tool_choice(value: Any) -> str | None:
    if value in ("none", "auto", "required"):
        return None
    if isinstance(value, dict):
        function = value.get("function")
        named = isinstance(function, dict) and isinstance(function.get("name"), str)
        if value.get("type") == "function" and named:
            return None
        if value.get("type") in ("auto", "none", "required", "allowed_tools"):
            return None
    return "must be 'none', 'auto', 'required' or {'type': 'function', 'function': {'name': ...}}"


_RESPONSE_FORMATS = ("text", "json_object", "json_schema")


def _response_format(value: Any) -> str | None:
    if not isinstance(value, dict) or value.get("type") not in _RESPONSE_FORMATS:
        return "must be an object whose 'type' is 'text', 'json_object' or 'json_schema'"
    if value["type"] == "json_schema":
        schema = value.get("json_schema")
        if not isinstance(schema, dict) or not isinstance(schema.get("name", ""), str):
            return "with type 'json_schema' needs a 'json_schema' object"
    return None


def _functions(value: Any) -> str | None:
    if not isinstance(value, list) or not all(
        isinstance(f, dict) and isinstance(f.get("name"), str) for f in value
    ):
        return "must be an array of objects with a string 'name'"
    return None


def _function_call(value: Any) -> str | None:
    if value in ("none", "auto") or (
        isinstance(value, dict) and isinstance(value.get("name"), str)
    ):
        return None
    return "must be 'none', 'auto' or {'name': ...}"


def _logit_bias(value: Any) -> str | None:
    if isinstance(value, dict) and all(
        isinstance(v, int | float) and not isinstance(v, bool) for v in value.values()
    ):
        return None
    return "must be an object of token ids to numbers"


CHECKS: dict[str, Check] = {
    "frequency_penalty": _number(-2, 2),
    "function_call": _function_call,
    "functions": _functions,
    "logit_bias": _logit_bias,
    "logprobs": _boolean,
    "max_completion_tokens": _integer(1),
    "max_tokens": _integer(1),
    "n": _integer(1, 128),
    "parallel_tool_calls": _boolean,
    "presence_penalty": _number(-2, 2),
    "reasoning_effort": _string,
    "response_format": _response_format,
    "seed": _integer(-(2**63), 2**63 - 1),
    "stop": _stop,
    "stream": _boolean,
    "stream_options": _object,
    "temperature": _number(0, 2),
    "tool_choice": _tool_choice,
    "tools": _tools,
    "top_logprobs": _integer(0, 20),
    "top_p": _number(0, 1),
    "user": _string,
}


def validate_chat_params(params: dict[str, Any]) -> None:
    """Raise a 400 naming the first malformed parameter (null means "not set")."""
    for name, value in params.items():
        check = CHECKS.get(name)
        if check is None or value is None:
            continue
        if (problem := check(value)) is not None:
            message = f"{name}{problem}." if problem.startswith("[") else f"'{name}' {problem}."
            raise APIError(400, message, code="invalid_parameter", param=name)


MESSAGE_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def validate_messages(messages: object) -> list[dict[str, Any]]:
    """Chat `messages`: a non-empty array of objects with a known role and a content that is
    a string, an array of parts, or null."""
    if messages is None:
        raise APIError(400, "'messages' is required.", code="missing_messages", param="messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(
            400, "'messages' must be a non-empty array.", code="invalid_messages", param="messages"
        )
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise APIError(
                400,
                f"{where} must be an object with a string 'role'.",
                code="invalid_messages",
                param=where,
            )
        if message["role"] not in MESSAGE_ROLES:
            raise APIError(
                400,
                f"{where}.role must be one of {', '.join(sorted(MESSAGE_ROLES))}.",
                code="invalid_messages",
                param=where,
            )
        content = message.get("content")
        if content is not None and not isinstance(content, str | list):
            raise APIError(
                400,
                f"{where}.content must be a string, an array of content parts, or null.",
                code="invalid_messages",
                param=where,
            )
        if isinstance(content, list) and not all(isinstance(part, dict) for part in content):
            raise APIError(
                400,
                f"{where}.content parts must be objects.",
                code="invalid_messages",
                param=where,
            )
        calls = message.get("tool_calls")
        if calls is not None and not (
            isinstance(calls, list) and all(isinstance(call, dict) for call in calls)
        ):
            raise APIError(
                400,
                f"{where}.tool_calls must be an array of objects.",
                code="invalid_messages",
                param=where,
            )
    return messages
