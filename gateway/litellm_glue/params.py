"""Which OpenAI parameters a provider takes, and their provider-specific form, from LiteLLM.

The gateway's engine sends requests itself, but LiteLLM knows each provider's quirks: which
parameters it refuses (dropped, as LiteLLM's `drop_params` does), and how the others map
(Groq answers `response_format: json_schema` through a tool and cannot stream it; Gemini
takes `max_output_tokens` and cleaned tool schemas). The supported set is cached per model;
the full mapping (1.5-4.5 ms a call, measured) runs only for parameters that are not the same
on every OpenAI-style provider.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import litellm
from litellm.utils import ProviderConfigManager, get_optional_params

# Parameters every OpenAI-style wire takes as they are, when the provider supports them.
SAME_ON_EVERY_WIRE = frozenset(
    {
        "frequency_penalty",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "seed",
        "stop",
        "stream",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)


@lru_cache(maxsize=1024)
def provider_config(provider: str, model: str) -> Any:
    """LiteLLM's chat config class instance for `provider` (its LiteLLM name) and `model`."""
    return ProviderConfigManager.get_provider_chat_config(
        model=model, provider=litellm.LlmProviders(provider)
    )


@lru_cache(maxsize=1024)
def supported_params(provider: str, model: str) -> frozenset[str]:
    config = provider_config(provider, model)
    if config is None:
        return SAME_ON_EVERY_WIRE
    return frozenset(config.get_supported_openai_params(model))


def openai_wire_params(provider: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
    """The parameters to send an OpenAI-style provider (`messages` excluded): the common ones
    as they are when supported, anything else through LiteLLM's own mapping. A result holding
    `fake_stream` means the provider cannot stream this request."""
    supported = supported_params(provider, model)
    if params.keys() <= SAME_ON_EVERY_WIRE:
        return {key: value for key, value in params.items() if key in supported}
    return mapped_params(provider, model, params)


def mapped_params(provider: str, model: str, params: dict[str, Any]) -> dict[str, Any]:
    """LiteLLM's full mapping of OpenAI parameters for `provider`, unsupported ones dropped."""
    optional = get_optional_params(
        model=model, custom_llm_provider=provider, drop_params=True, **params
    )
    if not optional.get("extra_body"):
        optional.pop("extra_body", None)  # LiteLLM adds an empty one
    return optional


def provider_messages(
    provider: str, model: str, messages: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """`developer` messages in the role the provider takes (LiteLLM's `completion()` does this
    before any provider transform; Gemini refuses the role, OpenAI's own models keep it)."""
    if not any(message.get("role") == "developer" for message in messages):
        return messages
    config = provider_config(provider, model)
    if config is None:
        return [{**m, "role": "system"} if m.get("role") == "developer" else m for m in messages]
    return list(
        config.translate_developer_role_to_system_role(
            messages=messages,
            model=model,
            custom_llm_provider=provider,
            api_base=None,
            model_info=None,
        )
    )
