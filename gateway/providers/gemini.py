"""Google Gemini (AI Studio key): LiteLLM's native `gemini/` adapter speaks generateContent.

The base URL must include the API version (`.../v1beta`); LiteLLM appends
`/models/{model}:generateContent`.
"""

from gateway.providers.base import ProviderType


class GeminiType(ProviderType):
    def probe_headers(self, api_key: str | None) -> dict[str, str]:
        return {"x-goog-api-key": api_key} if api_key else {}


GEMINI = GeminiType(
    name="gemini",
    litellm_prefix="gemini",
    default_api_base="https://generativelanguage.googleapis.com/v1beta",
    api_base_env="GEMINI_API_BASE",
    api_key_env="GEMINI_API_KEY",
    # Gemini's per-day quotas reset at midnight US Pacific.
    daily_reset="America/Los_Angeles",
)
