"""`POST /v1/messages` and `POST /v1/messages/count_tokens`: Anthropic's Messages API over the
same chains as chat completions (Claude Code's API).

The request is converted to the chat request it stands for (LiteLLM's Anthropic adapter) and
served exactly like one: failover, first-token and idle limits, mid-stream continuation,
quotas, telemetry. The answer is rendered as a `message` object or Anthropic's event stream
(gateway/formats/messages.py); errors come in Anthropic's shape. Claude Code sends its key
as `x-api-key`, which the gateway's auth accepts like a bearer token.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.adapt import adapt_messages
from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.api.searching import (
    messages_plan,
    streamed_answer,
    take_online_suffix,
    whole_answer,
)
from gateway.api.serve import FORWARDED_PARAMS, SSE_HEADERS
from gateway.api.validation import validate_chat_params
from gateway.catalog import Chain
from gateway.formats.messages import Event, MessageBuilder, message_from_completion
from gateway.litellm_glue.anthropic_request import (
    InvalidMessagesRequest,
    chat_request,
    web_search_tools,
)
from gateway.litellm_glue.tokens import count_prompt_tokens
from gateway.routing.streaming import StreamInterrupted

log = logging.getLogger("gateway.messages")

# Chain outcomes that say "rate-limited": an exhausted chain made only of these is a 429
# (`rate_limit_error`); one that failed otherwise is Anthropic's 529 `overloaded_error`.
_RATE_LIMITED_OUTCOMES = frozenset({"rate_limited", "quota_exhausted"})
# `metadata.user_id` becomes OpenAI's `user`: an opaque session string no upstream needs.
_DROPPED_PARAMS = ("user",)


async def create_message(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    online = take_online_suffix(body)
    chain = resolve_chain(state, body)
    messages, params, tool_names = _chat_request(body, chain)
    # Anthropic's web search server tool is run by the gateway (gateway/api/searching.py).
    plan = messages_plan(web_search_tools(body), online)
    stream = body.get("stream") is True
    journal = new_journal(state, request, chain, stream)
    with _anthropic_statuses():
        if not stream:
            completion, served, searches = await whole_answer(
                state, request, chain, messages, params, journal, plan
            )
            return Response(
                orjson.dumps(message_from_completion(completion, tool_names, searches)),
                media_type="application/json",
                headers=served_headers(chain, served, journal),
            )
        chunks, served, _ = await streamed_answer(
            state, request, chain, messages, params, journal, plan
        )
    builder = MessageBuilder(model=served.deployment.id, tool_names=tool_names)
    return StreamingResponse(
        _events(chunks, chain.name, builder),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


async def count_tokens(request: Request) -> Response:
    """`{"input_tokens": N}` for a Messages request, counted locally (no upstream call)."""
    state = gateway_state(request)
    body = await read_json_object(request)
    chain = resolve_chain(state, body)
    messages, params, _ = _chat_request(body, chain)
    model = next(
        (c.deployment.litellm_model for c in chain.candidates if c.deployment is not None),
        chain.name,
    )
    tokens = await asyncio.to_thread(count_prompt_tokens, model, messages, params.get("tools"))
    return Response(orjson.dumps({"input_tokens": tokens}), media_type="application/json")


def _chat_request(
    body: dict[str, Any], chain: Chain
) -> tuple[list[dict[str, Any]], dict[str, Any], dict[str, str]]:
    try:
        messages, converted, tool_names = chat_request(body, model=chain.name)
    except InvalidMessagesRequest as exc:
        raise APIError(400, str(exc), code="invalid_request", param=exc.param) from None
    params = {
        key: value
        for key, value in converted.items()
        if key in FORWARDED_PARAMS and key not in _DROPPED_PARAMS
    }
    validate_chat_params(params)
    return adapt_messages(messages, bool(params.get("tools"))), params, tool_names


@contextmanager
def _anthropic_statuses() -> Iterator[None]:
    """An exhausted chain that failed for other reasons than rate limits is Anthropic's 529
    `overloaded_error` (what Anthropic's clients expect of an overloaded service, and retry
    after `retry-after`); one made only of rate limits stays a 429."""
    try:
        yield
    except APIError as exc:
        if exc.code == "all_candidates_exhausted":
            tried = [c for c in exc.extra.get("candidates", ()) if c.get("outcome") != "unusable"]
            if tried and not all(_rate_limited(c) for c in tried):
                exc.status = 529
        raise


def _rate_limited(candidate: dict[str, Any]) -> bool:
    """Rate-limited now, at its quota, or resting after a rate limit."""
    outcome = candidate.get("outcome")
    if outcome in _RATE_LIMITED_OUTCOMES:
        return True
    return outcome == "cooling_down" and "after rate_limited" in str(candidate.get("reason"))


async def _events(
    chunks: AsyncIterator[dict[str, Any]], chain_name: str, builder: MessageBuilder
) -> AsyncIterator[bytes]:
    """The answer as Messages events; one that breaks off ends with an `error` event, never
    with `message_stop`."""
    try:
        yield _frames(builder.start())
        async for chunk in chunks:
            if events := builder.feed(chunk):
                yield _frames(events)
        yield _frames(builder.finish())
    except StreamInterrupted as interrupted:
        message = interrupted.client_message
        yield _frames(builder.fail("api_error", message))
    except Exception:
        log.exception("messages stream for %s failed", chain_name)
        yield _frames(builder.fail("api_error", "Internal gateway error; see the gateway log."))


def _frames(events: list[Event]) -> bytes:
    """Server-sent events whose `event:` line names the JSON's `type`, as Anthropic sends."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )


ROUTES = [
    ("/v1/messages", create_message, "POST"),
    ("/v1/messages/count_tokens", count_tokens, "POST"),
    ("/messages", create_message, "POST"),
    ("/messages/count_tokens", count_tokens, "POST"),
]
