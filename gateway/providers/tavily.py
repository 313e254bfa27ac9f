"""Tavily search API, called through LiteLLM's `tavily` search provider."""

from gateway.providers.base import ProviderType

TAVILY = ProviderType(
    name="tavily",
    litellm_prefix="tavily",
    default_api_base="https://api.tavily.com",
    api_base_env="TAVILY_API_BASE",
    api_key_env="TAVILY_API_KEY",
    models_path=None,
)
