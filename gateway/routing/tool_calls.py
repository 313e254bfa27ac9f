"""Streamed tool calls put back together: OpenAI sends each call in fragments (the first of an
index carries the id and name, the rest pieces of the arguments)."""

from __future__ import annotations

import json
from typing import Any


def merge_fragments(calls: dict[int, dict[str, Any]], fragments: list[Any]) -> None:
    """Fold streamed tool-call fragments (OpenAI deltas: the first of each index carries the
    id and name, the rest pieces of the arguments) into whole calls, by index."""
    for position, fragment in enumerate(fragments):
        fragment = as_dict(fragment)
        index = fragment.get("index")
        if not isinstance(index, int):
            index = position
        call = calls.setdefault(
            index, {"id": None, "type": "function", "function": {"name": None, "arguments": ""}}
        )
        if fragment.get("id"):
            call["id"] = fragment["id"]
        function = as_dict(fragment.get("function"))
        if function.get("name"):
            call["function"]["name"] = function["name"]
        arguments = function.get("arguments")
        if isinstance(arguments, str):
            call["function"]["arguments"] += arguments
        elif arguments is not None:
            call["function"]["arguments"] += json.dumps(arguments)


def as_dict(value: Any) -> dict[str, Any]:
    """A tool call (or its function) as a dict, whether given as one or as a pydantic model."""
    if isinstance(value, dict):
        return value
    if hasattr(value, "model_dump"):
        return value.model_dump()
    return {}
