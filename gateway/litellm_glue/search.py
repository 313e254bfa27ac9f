"""Brave and Tavily searches through LiteLLM's search providers."""

from __future__ import annotations

import os
from typing import Any

import litellm

from gateway.catalog import Deployment
from gateway.litellm_glue.errors import classify


async def search_with_litellm(
    deployment: Deployment, query: str, max_results: int, timeout: float
) -> list[dict[str, Any]]:
    api_key = os.environ.get(deployment.api_key_env) if deployment.api_key_env else None
    try:
        response = await litellm.asearch(
            query=query,
            search_provider=deployment.provider_type.litellm_prefix,
            max_results=max_results,
            api_key=api_key,
            api_base=deployment.api_base,
            timeout=timeout,
        )
    except Exception as exc:
        raise classify(exc) from exc
    return [
        {
            key: value
            for key, value in result.model_dump().items()
            if key in ("title", "url", "snippet", "date") and value
        }
        for result in response.results
    ]
