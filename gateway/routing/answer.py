"""Chat answers as OpenAI chunk dicts: what has been said so far, and the whole answer
assembled from its chunks (for non-stream requests served from an upstream stream)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

Chunk = dict[str, Any]


def carries_output(chunk: Chunk) -> bool:
    """True once an upstream has produced something beyond a bare role announcement."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if (
            delta.get("content")
            or delta.get("tool_calls")
            or delta.get("reasoning_content")
            or choice.get("finish_reason")
        ):
            return True
    return False


def blocked_by_content_filter(chunk: Chunk) -> bool:
    """An answer that is nothing but a content-filter finish: the prompt itself was refused
    (Gemini blocks a prompt this way, with HTTP 200 and no candidates)."""
    for choice in chunk.get("choices") or ():
        delta = choice.get("delta") or {}
        if choice.get("finish_reason") == "content_filter" and not (
            delta.get("content") or delta.get("tool_calls")
        ):
            return True
    return False


def estimate_tokens(text: str) -> int:
    """A rough count for text whose upstream never reported usage (a stream cut mid-answer)."""
    return (len(text) + 3) // 4


@dataclass
class AnswerProgress:
    """What one answer (possibly spread over several upstreams) has said so far."""

    text: list[str] = field(default_factory=list)
    tool_calls: dict[int, dict[str, Any]] = field(default_factory=dict)
    reasoning: list[str] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, Any] | None = None
    first: Chunk | None = None
    first_token_at: float | None = None  # time.monotonic() of the first token

    def observe(self, chunk: Chunk) -> None:
        if self.first is None:
            self.first = chunk
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            if delta.get("content"):
                self.text.append(delta["content"])
            if delta.get("reasoning_content"):
                self.reasoning.append(delta["reasoning_content"])
            for call in delta.get("tool_calls") or ():
                self._merge_tool_call(call)
            if choice.get("finish_reason"):
                self.finish_reason = choice["finish_reason"]

    @property
    def content(self) -> str:
        return "".join(self.text)

    @property
    def started_tool_calls(self) -> bool:
        return bool(self.tool_calls)

    def _merge_tool_call(self, call: dict[str, Any]) -> None:
        slot = self.tool_calls.setdefault(
            call.get("index", len(self.tool_calls)),
            {"id": None, "type": "function", "function": {"name": "", "arguments": ""}},
        )
        if call.get("id"):
            slot["id"] = call["id"]
        function = call.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""

    def completion(self, model: str) -> dict[str, Any]:
        """The whole answer as a `chat.completion` object."""
        first = self.first or {}
        message: dict[str, Any] = {"role": "assistant", "content": self.content or None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        completion: dict[str, Any] = {
            "id": first.get("id"),
            "object": "chat.completion",
            "created": first.get("created"),
            "model": model,
            "choices": [
                {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}
            ],
        }
        if self.usage:
            completion["usage"] = self.usage
        return completion


class OverlapTrimmer:
    """Drops a continuation's repeat of the prefill it was given.

    Asked to continue after an assistant prefill, most models append; some restate the
    answer from the top. Text is held back only while it could still be such a repeat.
    """

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._held = ""
        self._done = not prefix

    def feed(self, text: str) -> str:
        if self._done:
            return text
        self._held += text
        if self._prefix.startswith(self._held):
            if len(self._held) < len(self._prefix):
                return ""
            self._done = True
            return ""
        self._done = True
        if self._held.startswith(self._prefix):
            return self._held[len(self._prefix) :]
        return self._held

    def flush(self) -> str:
        """Text still held when the continuation ended (it was a strict prefix: no repeat)."""
        held, self._held, self._done = ("" if self._done else self._held), "", True
        return held
