"""Web search for any model: what the gateway searches for, what it puts in the prompt, and
how the answer cites it. Pure functions; the searching itself runs through the `web-search`
chain (gateway/api/searching.py).

None of the free providers searches by itself, so the gateway does it for them in two ways:
before the answer (OpenRouter's `:online` suffix, `web_search_options`, the `web` plugin), or
when the model asks (the Responses `web_search` tool, Anthropic's `web_search_20250305`
server tool), through a `web_search` function the gateway offers the model and runs itself.

Everything is bounded: results per search, characters per result, the query's length and
searches per request (the README's "Web search" section has the figures).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

DEFAULT_RESULTS = 5
MAX_RESULTS = 10
# `search_context_size` (OpenAI's web_search_options and Responses tool) in results.
CONTEXT_SIZES = {"low": 3, "medium": 5, "high": 8}
SNIPPET_CHARS = 500
TITLE_CHARS = 200
QUERY_CHARS = 300
DEFAULT_SEARCHES = 3  # per request, when the model asks (a tool's `max_uses` may lower it)
MAX_SEARCHES = 5
FUNCTION_NAME = "web_search"
# In the gateway's chunk stream, a chunk holding one search (`{SEARCH_MARKER: SearchRun}`):
# the Responses and Messages renderers show it as their own search items.
SEARCH_MARKER = "gateway_search"

INSTRUCTIONS = (
    "Web search results are given below. Use them where they help, cite every source you use "
    "as a markdown link to its URL, and say so when they do not answer the question."
)
FUNCTION_DESCRIPTION = (
    "Search the web. Use it for recent events, facts you are unsure of, documentation and "
    "anything else worth looking up; results come back as titles, URLs and snippets."
)


@dataclass
class SearchRun:
    """One search: what was asked, what came back (or why nothing did)."""

    query: str
    results: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None  # the search failed: the answer goes on without results
    error_code: str | None = None  # Anthropic's: unavailable, max_uses_exceeded, invalid_input
    served_by: str | None = None
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:24])


@dataclass(frozen=True)
class Filters:
    """Domains a caller allows or blocks (Anthropic's and OpenAI's tool options)."""

    allowed: tuple[str, ...] = ()
    blocked: tuple[str, ...] = ()

    def keep(self, url: str) -> bool:
        host = (urlparse(url).hostname or "").lower()
        if any(_within(host, domain) for domain in self.blocked):
            return False
        return not self.allowed or any(_within(host, domain) for domain in self.allowed)


def _within(host: str, domain: str) -> bool:
    domain = domain.lower().strip().removeprefix("https://").removeprefix("http://").strip("/")
    return bool(domain) and (host == domain or host.endswith("." + domain))


def query_from(messages: list[dict[str, Any]]) -> str:
    """What to search for before answering: the last user turn's text, bounded."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return clip_query(text_of(message.get("content")))
    return ""


def clip_query(text: str) -> str:
    text = re.sub(r"\s+", " ", text or "").strip()
    if len(text) <= QUERY_CHARS:
        return text
    return text[:QUERY_CHARS].rsplit(" ", 1)[0]


def text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def bounded(results: list[dict[str, Any]], limit: int, filters: Filters) -> list[dict[str, Any]]:
    """At most `limit` results the filters keep, each title and snippet clipped."""
    kept = []
    for result in results:
        url = str(result.get("url") or "")
        if not url or not filters.keep(url):
            continue
        kept.append(
            {
                "title": _clip(str(result.get("title") or url), TITLE_CHARS),
                "url": url,
                "snippet": _clip(str(result.get("snippet") or ""), SNIPPET_CHARS),
                **({"date": result["date"]} if result.get("date") else {}),
            }
        )
        if len(kept) >= limit:
            break
    return kept


def _clip(text: str, limit: int) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def results_text(run: SearchRun) -> str:
    """One search as the model reads it: the query, then numbered results."""
    if run.error:
        return f'Web search for "{run.query}" failed ({run.error}); no results.'
    if not run.results:
        return f'Web search for "{run.query}" found nothing.'
    lines = [f'Web search results for "{run.query}":']
    for number, result in enumerate(run.results, 1):
        lines.append(f"[{number}] {result['title']}\n    {result['url']}")
        if result.get("snippet"):
            lines.append(f"    {result['snippet']}")
    return "\n".join(lines)


def grounding_message(runs: list[SearchRun], instructions: str | None = None) -> dict[str, Any]:
    """The system message that carries searches made before the answer."""
    blocks = [instructions or INSTRUCTIONS, *(results_text(run) for run in runs)]
    return {"role": "system", "content": "\n\n".join(blocks)}


def with_grounding(
    messages: list[dict[str, Any]], runs: list[SearchRun], instructions: str | None = None
) -> list[dict[str, Any]]:
    """The conversation with the results placed just before its last user turn."""
    position = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"),
        len(messages),
    )
    return [
        *messages[:position],
        grounding_message(runs, instructions),
        *messages[position:],
    ]


def search_function(name: str = FUNCTION_NAME) -> dict[str, Any]:
    """The function the gateway offers a model that may search (it runs the call itself)."""
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": FUNCTION_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {"query": {"type": "string", "description": "what to search for"}},
                "required": ["query"],
            },
        },
    }


def function_name_for(tools: list[dict[str, Any]] | None) -> str:
    """`web_search`, unless the caller has a function of that name already."""
    taken = {(t.get("function") or {}).get("name") for t in tools or () if isinstance(t, dict)}
    name = FUNCTION_NAME
    while name in taken:
        name = "gateway_" + name
    return name


def citations(text: str, runs: list[SearchRun]) -> list[dict[str, Any]]:
    """Where the answer cites a result's URL: `url_citation`s with character offsets."""
    found: dict[str, dict[str, Any]] = {}
    for run in runs:
        for result in run.results:
            url = result["url"]
            if url in found:
                continue
            start = text.find(url)
            if start >= 0:
                found[url] = {
                    "url": url,
                    "title": result["title"],
                    "start_index": start,
                    "end_index": start + len(url),
                }
    return sorted(found.values(), key=lambda c: c["start_index"])
