"""What every provider type tells the gateway: where it lives, how it authenticates, and how
its models are named for LiteLLM. One module per provider type, like Portkey's gateway."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ResolvedEndpoint:
    """Where a configured provider's requests go, or why they cannot go anywhere."""

    api_base: str | None
    api_key_env: str | None
    problem: str | None = None


@dataclass(frozen=True)
class ProviderType:
    """A wire protocol the gateway speaks through LiteLLM.

    ``api_base_env`` / ``api_key_env`` are the environment variables that override the YAML for
    the built-in types (for example ``GROQ_API_BASE`` and ``GROQ_API_KEY``).
    """

    name: str
    litellm_prefix: str
    default_api_base: str | None = None
    api_base_env: str | None = None
    api_key_env: str | None = None
    key_required: bool = True
    # Extra LiteLLM params every deployment of this type gets.
    litellm_extras: Mapping[str, Any] = field(default_factory=dict)
    # Path appended to api_base for a cheap, quota-free reachability probe (GET).
    models_path: str | None = "/models"
    # Whose midnight resets the free tier's daily quotas.
    daily_reset: str = "UTC"

    def probe_headers(self, api_key: str | None) -> dict[str, str]:
        """Auth headers for the reachability probe (`GET {api_base}{models_path}`)."""
        return {"authorization": f"Bearer {api_key}"} if api_key else {}

    def litellm_model(self, provider_name: str, model_id: str) -> str:
        """The `model` LiteLLM is given for one of this type's models."""
        return f"{self.litellm_prefix}/{model_id}"

    def resolve_endpoint(
        self,
        env: Mapping[str, str],
        *,
        yaml_api_base: str | None,
        yaml_api_key_env: str | None,
    ) -> ResolvedEndpoint:
        """Environment beats YAML beats the type's default, so a `.env` can point a shipped
        provider at a local emulator or a paid mirror without editing the YAML."""
        api_base = _env(env, self.api_base_env) or yaml_api_base or self.default_api_base
        key_env = yaml_api_key_env or self.api_key_env
        problem = None
        if self.key_required and key_env is None:
            problem = "no api_key_env configured"
        elif key_env is not None and self.key_required and not _env(env, key_env):
            problem = f"{key_env} is not set"
        return ResolvedEndpoint(api_base=api_base, api_key_env=key_env, problem=problem)


def _env(env: Mapping[str, str], name: str | None) -> str | None:
    if name is None:
        return None
    value = env.get(name, "").strip()
    return value or None
