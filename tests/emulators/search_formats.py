"""Web-search providers: Brave's and Tavily's JSON APIs and DuckDuckGo's HTML results page.

Faults ride in the query, per provider, so one query can fail on one provider and succeed on
the next: `duckduckgo-fault-429`, `brave-fault-500`, `tavily-fault-401`, `brave-fault-silent`.
"""

from __future__ import annotations

import html
import re
from typing import Any

from .wire import JsonResponse

SEARCH_PROVIDERS = ("duckduckgo", "brave", "tavily")
RESULT_COUNT = 10  # at most, and as many as asked

_FAULT = re.compile(r"\b(?P<provider>duckduckgo|brave|tavily)-fault-(?P<kind>\d{3}|silent)\b")


def search_fault(provider: str, query: str) -> str | None:
    """`"429"`, `"silent"`..., when the query asks this provider to fail."""
    for match in _FAULT.finditer(query):
        if match["provider"] == provider:
            return match["kind"]
    return None


def search_query(provider: str, body: Any, query: dict[str, str], form: dict[str, str]) -> str:
    if provider == "brave":
        return query.get("q", "")
    if provider == "tavily":
        return str(body.get("query", "")) if isinstance(body, dict) else ""
    return form.get("q", "")


def results_for(provider: str, query: str, count: int = RESULT_COUNT) -> list[dict[str, str]]:
    """The same deterministic results every time, naming who found them."""
    return [
        {
            "title": f"{provider} result {n} for {query}",
            "url": f"https://example.com/{provider}/{n}",
            "snippet": f"Snippet {n} from {provider}.",
        }
        for n in range(1, count + 1)
    ]


def search_answer(provider: str, query: str, count: int) -> JsonResponse:
    results = results_for(provider, query, count)
    if provider == "brave":
        web = [{"title": r["title"], "url": r["url"], "description": r["snippet"]} for r in results]
        return JsonResponse(200, {"type": "search", "web": {"type": "search", "results": web}})
    if provider == "tavily":
        found = [
            {"title": r["title"], "url": r["url"], "content": r["snippet"], "score": 0.9}
            for r in results
        ]
        return JsonResponse(200, {"query": query, "results": found, "response_time": 0.1})
    return JsonResponse(200, _duckduckgo_page(results).encode(), content_type="text/html")


def search_error(provider: str, status: int) -> JsonResponse:
    headers = [("retry-after", "30")] if status == 429 else []
    if provider == "duckduckgo":
        page = f"<html><body>error {status}</body></html>".encode()
        return JsonResponse(status, page, headers, content_type="text/html")
    if provider == "brave":
        body = {"type": "ErrorResponse", "error": {"status": status, "code": str(status)}}
    else:
        body = {"detail": {"error": f"error {status}"}}
    return JsonResponse(status, body, headers)


def _duckduckgo_page(results: list[dict[str, str]]) -> str:
    """The shape of html.duckduckgo.com's results that the `ddgs` parser reads."""
    items = "".join(
        "<div class='result results_links web-result'>"
        "<div class='links_main links_deep result__body'>"
        f"<h2 class='result__title'><a class='result__a' href='{html.escape(r['url'])}'>"
        f"{html.escape(r['title'])}</a></h2>"
        f"<a class='result__snippet' href='{html.escape(r['url'])}'>{html.escape(r['snippet'])}</a>"
        "</div></div>"
        for r in results
    )
    return f"<html><body><div class='results'>{items}</div></body></html>"
