"""Web search (`POST /v1/search`): one call to one search provider, results in one shape.

The providers are tried in order by the same chain runner as chat models (cooldowns, quotas,
telemetry); this package only knows how to ask each of them.
"""

from __future__ import annotations

from typing import Any

from gateway.catalog import Deployment
from gateway.litellm_glue.search import search_with_litellm
from gateway.search.duckduckgo import search_duckduckgo

SearchResult = dict[str, Any]  # title, url, snippet (+ date when the provider gives one)

DEFAULT_TIMEOUT_SECONDS = 15.0


async def web_search(deployment: Deployment, query: str, max_results: int) -> list[SearchResult]:
    """Results from this provider (raises `UpstreamFailure` when it fails)."""
    timeout = deployment.timeout or DEFAULT_TIMEOUT_SECONDS
    if deployment.provider_type.name == "duckduckgo":
        return await search_duckduckgo(deployment.api_base, query, max_results, timeout)
    return await search_with_litellm(deployment, query, max_results, timeout)
