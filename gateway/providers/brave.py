"""Brave Search API (web results), called through LiteLLM's `brave` search provider."""

from gateway.providers.base import ProviderType

BRAVE = ProviderType(
    name="brave",
    litellm_prefix="brave",
    default_api_base="https://api.search.brave.com/res/v1/web/search",
    api_base_env="BRAVE_API_BASE",
    api_key_env="BRAVE_API_KEY",
    models_path=None,
)
