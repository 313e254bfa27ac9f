"""DuckDuckGo web search: no key; results read from its HTML page by the `ddgs` library.

LiteLLM has a `duckduckgo` search provider too, but it calls the Instant Answer API, which
answers encyclopedic lookups and returns nothing for most queries; `ddgs` reads real results.
"""

from gateway.providers.base import ProviderType

DUCKDUCKGO = ProviderType(
    name="duckduckgo",
    litellm_prefix="duckduckgo",
    default_api_base="https://html.duckduckgo.com/html/",
    api_base_env="DUCKDUCKGO_API_BASE",
    key_required=False,
    models_path=None,
)
