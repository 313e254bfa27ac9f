"""`gateway opencode-config`: a ready `opencode.json` provider block for this gateway.

Each virtual model's limits are the smallest among its candidates that state one, so OpenCode
compacts its context before the smallest model in the chain would overflow.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog import Catalog, Chain

DEFAULT_CONTEXT = 131072
DEFAULT_OUTPUT = 8192
# OpenCode's npm packages: chat completions, or the Responses API.
VARIANTS = {"chat": "@ai-sdk/openai-compatible", "responses": "@ai-sdk/openai"}


def opencode_config(
    catalog: Catalog, base_url: str, *, variant: str, api_key: str
) -> dict[str, Any]:
    models = {
        chain.name: _model_entry(chain)
        for chain in catalog.virtual_models.values()
        if chain.mode == "chat"
    }
    default = "coding-elite" if "coding-elite" in models else next(iter(models), None)
    config: dict[str, Any] = {
        "$schema": "https://opencode.ai/config.json",
        "provider": {
            "gateway": {
                "npm": VARIANTS[variant],
                "name": "Free LLM gateway",
                "options": {
                    "baseURL": base_url.rstrip("/") + "/v1",
                    "apiKey": api_key,
                },
                "models": models,
            }
        },
    }
    if default:
        config["model"] = f"gateway/{default}"
    return config


def _model_entry(chain: Chain) -> dict[str, Any]:
    deployments = [c.deployment for c in chain.candidates if c.deployment is not None]
    contexts = [d.context_window for d in deployments if d.context_window]
    outputs = [d.options.max_output_tokens for d in deployments if d.options.max_output_tokens]
    return {
        "name": chain.name,
        "limit": {
            "context": min(contexts, default=DEFAULT_CONTEXT),
            "output": min(outputs, default=DEFAULT_OUTPUT),
        },
    }
