"""`POST /v1/search`: web search over the `search:` providers, in order, with failover.

The request and response follow the Perplexity Search API shape that LiteLLM's own
`/v1/search` uses (`query`, `max_results`; `{"object": "search", "results": [...]}`), so
clients of either work with both. Each provider is a candidate of one chain, so a
rate-limited or failing provider is skipped, rests in a cooldown and counts its quota like a
chat model.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    run_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.catalog import SEARCH_CHAIN, Deployment
from gateway.search import web_search

MAX_RESULTS = 20
DEFAULT_RESULTS = 10


async def search(request: Request) -> Response:
    state = gateway_state(request)
    chain = state.catalog.search
    name = request.path_params.get("name")
    if chain is None or (name is not None and name != SEARCH_CHAIN):
        raise APIError(
            404,
            "Web search is not configured: add providers under `search:` in providers.yaml."
            if chain is None
            else f"Unknown search tool {name!r}; the gateway's is {SEARCH_CHAIN!r}.",
            code="search_not_found",
        )
    body = await read_json_object(request)
    query, max_results = _validated(body)
    journal = new_journal(state, request, chain, stream=False)

    async def attempt(deployment: Deployment) -> list[dict[str, Any]]:
        return await web_search(deployment, query, max_results)

    served = await run_chain(state, chain, attempt, journal)
    journal.succeeded(served.deployment, served.started)
    return Response(
        orjson.dumps({"object": "search", "results": served.result}),
        media_type="application/json",
        headers=served_headers(chain, served, journal),
    )


def _validated(body: dict[str, Any]) -> tuple[str, int]:
    query = body.get("query")
    if not isinstance(query, str) or not query.strip():
        raise APIError(
            400, "'query' is required (a non-empty string).", code="missing_query", param="query"
        )
    max_results = body.get("max_results", DEFAULT_RESULTS)
    whole = isinstance(max_results, int) and not isinstance(max_results, bool)
    if not whole or not 1 <= max_results <= MAX_RESULTS:
        raise APIError(
            400,
            f"'max_results' must be an integer from 1 to {MAX_RESULTS}.",
            code="invalid_max_results",
            param="max_results",
        )
    return query.strip(), max_results


ROUTES = [
    ("/v1/search", search, "POST"),
    ("/search", search, "POST"),
    ("/v1/search/{name}", search, "POST"),
    ("/search/{name}", search, "POST"),
]
