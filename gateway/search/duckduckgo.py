"""DuckDuckGo's HTML results page, read by `ddgs` (see gateway/providers/duckduckgo.py)."""

from __future__ import annotations

import asyncio
from typing import Any

from ddgs.engines.duckduckgo import Duckduckgo
from ddgs.exceptions import DDGSException, TimeoutException

from gateway.routing.failures import FailureKind, UpstreamFailure


class _ResultsPage(Duckduckgo):
    """ddgs' engine, at a configurable address, failing loudly on a non-200 answer (ddgs
    itself treats one as "no results", which would hide a rate limit)."""

    def __init__(self, url: str, timeout: float) -> None:
        super().__init__(timeout=max(1, round(timeout)))
        self.search_url = url

    def request(self, *args: Any, **kwargs: Any) -> Any:
        response = self.http_client.request(*args, **kwargs)
        if response.status_code == 200:
            return response.text
        # DuckDuckGo answers 202 (a challenge page) or 403/429 when it throttles a client.
        if response.status_code in (202, 403, 429):
            raise UpstreamFailure(
                FailureKind.RATE_LIMITED,
                f"DuckDuckGo throttled the search (HTTP {response.status_code})",
                status=response.status_code,
            )
        raise UpstreamFailure(
            FailureKind.SERVER_ERROR,
            f"DuckDuckGo answered HTTP {response.status_code}",
            status=response.status_code,
        )


async def search_duckduckgo(
    url: str | None, query: str, max_results: int, timeout: float
) -> list[dict[str, Any]]:
    engine = _ResultsPage(url or _ResultsPage.search_url, timeout)
    try:
        # ddgs is synchronous; its HTTP client must not block the event loop.
        async with asyncio.timeout(timeout):
            found = await asyncio.to_thread(engine.search, query)
    except (TimeoutError, TimeoutException):
        raise UpstreamFailure(FailureKind.TIMEOUT, f"no answer within {timeout:g}s") from None
    except UpstreamFailure:
        raise
    except DDGSException as exc:  # ddgs wraps every transport error in it
        raise UpstreamFailure(FailureKind.CONNECTION, f"DuckDuckGo: {exc}") from None
    except Exception as exc:  # a page its parser cannot read: try the next provider
        raise UpstreamFailure(
            FailureKind.SERVER_ERROR, f"DuckDuckGo's page could not be read ({type(exc).__name__})"
        ) from None
    return [
        {"title": r.title, "url": r.href, "snippet": r.body} for r in (found or [])[:max_results]
    ]
