"""`gateway agent-config AGENT`: what each coding agent needs to use this gateway, printed
ready to paste (a config file's content, or shell exports).

Each rendering is what the end-to-end tests run the real agent with (tests/claude_cli.py,
tests/codex_cli.py, tests/opencode_cli.py) or what the agent's own docs ask for.
"""

from __future__ import annotations

import json

from gateway.catalog import Catalog
from gateway.opencode import opencode_config

AGENTS = ("opencode", "claude-code", "codex", "aider", "llm")
KEY_PLACEHOLDER = "not-needed"


def agent_config(agent: str, catalog: Catalog, base_url: str, *, model: str, has_key: bool) -> str:
    base_url = base_url.rstrip("/")
    if agent == "opencode":
        api_key = "{env:PROXY_API_KEY}" if has_key else KEY_PLACEHOLDER
        config = opencode_config(catalog, base_url, variant="chat", api_key=api_key)
        config["model"] = f"gateway/{model}"
        return json.dumps(config, indent=2)
    key = "$PROXY_API_KEY" if has_key else KEY_PLACEHOLDER
    if agent == "claude-code":
        fast = "coding-fast" if "coding-fast" in catalog.virtual_models else model
        return "\n".join(
            [
                "# Claude Code speaks Anthropic's Messages API: no /v1 in the base URL.",
                f"export ANTHROPIC_BASE_URL={base_url}",
                f'export ANTHROPIC_API_KEY="{key}"',
                f"export ANTHROPIC_MODEL={model}",
                "# Its quick side requests (titles, summaries) go to the 'haiku' model.",
                f"export ANTHROPIC_DEFAULT_HAIKU_MODEL={fast}",
                "export CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1",
                "# then: claude",
            ]
        )
    if agent == "codex":
        return "\n".join(
            [
                "# $CODEX_HOME/config.toml (default ~/.codex/config.toml); Codex reads the",
                "# key from GATEWAY_API_KEY:",
                f'#   export GATEWAY_API_KEY="{key}"',
                f'model = "{model}"',
                'model_provider = "gateway"',
                "",
                "[model_providers.gateway]",
                'name = "Free LLM gateway"',
                f'base_url = "{base_url}/v1"',
                'wire_api = "responses"',
                'env_key = "GATEWAY_API_KEY"',
            ]
        )
    if agent == "aider":
        metadata = {
            f"openai/{model}": {
                "max_input_tokens": _smallest(catalog, model, "context_window", 131072),
                "max_output_tokens": _smallest(catalog, model, "max_output_tokens", 8192),
                "input_cost_per_token": 0,
                "output_cost_per_token": 0,
                "litellm_provider": "openai",
                "mode": "chat",
            }
        }
        return "\n".join(
            [
                "# .aider.conf.yml (in your project or home directory)",
                f"openai-api-base: {base_url}/v1",
                f'openai-api-key: "{key}"',
                f"model: openai/{model}",
                "# aider would otherwise reach pypi.org and GitHub at start (version check,",
                "# model prices) and may ask about analytics:",
                "check-update: false",
                "analytics-disable: true",
                "show-release-notes: false",
                "# Also, next to it, .aider.model.metadata.json (the model's limits, no price",
                "# download, no 'unknown model' prompt):",
                f"#   {json.dumps(metadata)}",
                "# and in the environment (or .env): LITELLM_LOCAL_MODEL_COST_MAP=True",
            ]
        )
    if agent == "llm":
        entries = []
        for name, chain in catalog.virtual_models.items():
            if chain.mode != "chat":
                continue
            entries += [
                f"- model_id: {name}",
                f"  model_name: {name}",
                f"  api_base: {base_url}/v1",
                "  api_key_name: gateway",
                "  supports_tools: true",
                "  can_stream: true",
            ]
        header = [
            '# $(dirname "$(llm logs path)")/extra-openai-models.yaml; then',
            f"#   llm keys set gateway   (paste {key})",
            f"#   llm -m {model} 'hello'",
        ]
        return "\n".join(header + entries)
    raise ValueError(f"unknown agent {agent!r} (known: {', '.join(AGENTS)})")


def _smallest(catalog: Catalog, model: str, option: str, default: int) -> int:
    """The smallest `option` among the model's candidates (what a client must plan for)."""
    chain = catalog.chain_for(model)
    values = [
        getattr(c.deployment.options, option)
        for c in (chain.candidates if chain else ())
        if c.deployment is not None and getattr(c.deployment.options, option)
    ]
    return min(values, default=default)
