"""Prompt token counts without calling a provider (`/v1/messages/count_tokens`).

LiteLLM's counter uses the model's own tokenizer where it knows one and tiktoken's bundled
encoding otherwise; the gateway's offline defaults keep it from downloading any.
"""

from __future__ import annotations

from typing import Any

import litellm


def count_prompt_tokens(
    model: str, messages: list[dict[str, Any]], tools: list[dict[str, Any]] | None
) -> int:
    return int(litellm.token_counter(model=model, messages=messages, tools=tools or None))
