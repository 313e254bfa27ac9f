"""The legacy completions API's `text_completion` objects, built from a chat answer.

`/v1/completions` sends its prompt through the chat chain as one user message; the answer
comes back as `choices[].text` (with the prompt in front when `echo` is set), streamed or
whole, in OpenAI's `text_completion` shape.
"""

from __future__ import annotations

import time
import uuid
from typing import Any


def completion_id() -> str:
    return f"cmpl-{uuid.uuid4().hex}"


def text_completion(
    chat_completions: list[dict[str, Any]], echoes: list[str], completion_id_: str
) -> dict[str, Any]:
    """Whole chat completions (one per prompt) as one `text_completion` object."""
    choices = []
    usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
    model = ""
    for index, (completion, echo) in enumerate(zip(chat_completions, echoes, strict=True)):
        model = completion.get("model") or model
        choice = (completion.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        choices.append(
            {
                "text": echo + (message.get("content") or ""),
                "index": index,
                "logprobs": None,
                "finish_reason": choice.get("finish_reason") or "stop",
            }
        )
        for key in usage:
            usage[key] += (completion.get("usage") or {}).get(key) or 0
    return {
        "id": completion_id_,
        "object": "text_completion",
        "created": int(time.time()),
        "model": model,
        "choices": choices,
        "usage": usage,
    }


class TextChunks:
    """Chat chunks of one answer as `text_completion` stream chunks."""

    def __init__(self, echo: str) -> None:
        self.id = completion_id()
        self.created = int(time.time())
        self._echo = echo

    def first(self, model: str) -> dict[str, Any] | None:
        """The echoed prompt, as the stream's first chunk (when `echo` asked for it)."""
        if not self._echo:
            return None
        return self._chunk(model, [self._choice(self._echo, None)])

    def feed(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        model = chunk.get("model") or ""
        if chunk.get("usage") and not chunk.get("choices"):
            out = self._chunk(model, [])
            out["usage"] = chunk["usage"]
            return out
        choices = []
        for choice in chunk.get("choices") or ():
            if choice.get("index", 0) != 0:
                continue
            text = (choice.get("delta") or {}).get("content") or ""
            finish = choice.get("finish_reason")
            if text or finish:
                choices.append(self._choice(text, finish))
        return self._chunk(model, choices) if choices else None

    def _choice(self, text: str, finish_reason: str | None) -> dict[str, Any]:
        return {"text": text, "index": 0, "logprobs": None, "finish_reason": finish_reason}

    def _chunk(self, model: str, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "text_completion",
            "created": self.created,
            "model": model,
            "choices": choices,
        }
