"""Make an agent's conversation acceptable to strict upstreams, without the client noticing.

OpenCode echoes a previous answer's `reasoning_content` back in its assistant messages (Claude
Code its `thinking` blocks, which arrive here as `thinking_blocks`), and after compacting its
context it may send a tool-call history without the `tools` it used. Several OpenAI-style
upstreams refuse both (HTTP 400). The reasoning is the model's own past thinking, which no
upstream needs back, so it is dropped. A tool history without tools is
rewritten as plain text (the call and its result, in words) rather than by inventing a stub
tool, which a model could then call and the client would see.
"""

from __future__ import annotations

from typing import Any

Message = dict[str, Any]

_DROPPED_KEYS = ("reasoning_content", "reasoning", "thinking_blocks")


def adapt_messages(messages: list[Message], has_tools: bool) -> list[Message]:
    """The messages to send upstream; the input list is returned as is when nothing changes."""
    needs_text_tools = not has_tools and any(
        m.get("tool_calls") or m.get("role") in ("tool", "function") for m in messages
    )
    if (
        not needs_text_tools
        and not any(key in m for m in messages for key in _DROPPED_KEYS)
        and not any(_text_parts_only(m) for m in messages)
    ):
        return messages
    names: dict[str, str] = {}
    adapted = []
    for message in messages:
        message = {k: v for k, v in message.items() if k not in _DROPPED_KEYS}
        if _text_parts_only(message):
            separator = "" if message["role"] == "assistant" else "\n\n"
            message["content"] = separator.join(part["text"] for part in message["content"])
        if needs_text_tools:
            message = _as_text(message, names)
        adapted.append(message)
    return adapted


def _text_parts_only(message: Message) -> bool:
    """A system or assistant message whose content is an array of text parts (what the
    Responses and Messages APIs' blocks become): sent as one string, since several
    OpenAI-compatible servers accept nothing else there."""
    content = message.get("content")
    return (
        message.get("role") in ("system", "developer", "assistant")
        and isinstance(content, list)
        and bool(content)
        and all(
            isinstance(part, dict)
            and part.get("type") == "text"
            and isinstance(part.get("text"), str)
            for part in content
        )
    )


def _as_text(message: Message, names: dict[str, str]) -> Message:
    role = message.get("role")
    if role == "assistant" and message.get("tool_calls"):
        calls = []
        for call in message["tool_calls"]:
            function = call.get("function") or {}
            names[call.get("id", "")] = function.get("name", "tool")
            calls.append(f"[called tool {function.get('name')} with {function.get('arguments')}]")
        text = "\n".join(filter(None, [_text(message.get("content")), *calls]))
        return {"role": "assistant", "content": text}
    if role in ("tool", "function"):
        name = message.get("name") or names.get(message.get("tool_call_id", ""), "tool")
        return {
            "role": "user",
            "content": f"[result of tool {name}]\n{_text(message.get('content'))}",
        }
    return message


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if isinstance(part, dict))
    return ""
