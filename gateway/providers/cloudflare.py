"""Cloudflare Workers AI through its OpenAI-compatible endpoint.

LiteLLM's native `cloudflare/` adapter targets the older `/ai/run/` API without tool calls, so
the gateway speaks Cloudflare's `/ai/v1/chat/completions` with LiteLLM's OpenAI adapter.
"""

from collections.abc import Mapping

from gateway.providers.base import ProviderType, ResolvedEndpoint

ACCOUNT_ID_ENV = "CLOUDFLARE_ACCOUNT_ID"


class CloudflareType(ProviderType):
    def resolve_endpoint(
        self,
        env: Mapping[str, str],
        *,
        yaml_api_base: str | None,
        yaml_api_key_env: str | None,
    ) -> ResolvedEndpoint:
        resolved = super().resolve_endpoint(
            env, yaml_api_base=yaml_api_base, yaml_api_key_env=yaml_api_key_env
        )
        api_base = resolved.api_base or ""
        if "{account_id}" not in api_base:
            return resolved
        account_id = env.get(ACCOUNT_ID_ENV, "").strip()
        if not account_id:
            return ResolvedEndpoint(
                None, resolved.api_key_env, resolved.problem or f"{ACCOUNT_ID_ENV} is not set"
            )
        return ResolvedEndpoint(
            api_base.replace("{account_id}", account_id), resolved.api_key_env, resolved.problem
        )


CLOUDFLARE = CloudflareType(
    name="cloudflare",
    litellm_prefix="openai",
    default_api_base="https://api.cloudflare.com/client/v4/accounts/{account_id}/ai/v1",
    api_base_env="CLOUDFLARE_API_BASE",
    api_key_env="CLOUDFLARE_API_TOKEN",
    litellm_extras={"max_retries": 0, "use_chat_completions_api": True},
    models_path=None,  # the OpenAI-compatible endpoint has no model list
)
