"""Groq: OpenAI-style chat API, LiteLLM's native `groq/` adapter."""

from gateway.providers.base import ProviderType

GROQ = ProviderType(
    name="groq",
    litellm_prefix="groq",
    default_api_base="https://api.groq.com/openai/v1",
    api_base_env="GROQ_API_BASE",
    api_key_env="GROQ_API_KEY",
)
