"""`POST /v1/responses` (plus `GET` / `DELETE /v1/responses/{id}`): the OpenAI Responses API
over the same chains as chat completions.

The request is converted to the chat request it stands for and served exactly like one
(failover, first-token and idle limits, mid-stream continuation on the next candidate); the
answer is then rendered as a Responses object or event stream (gateway/formats/responses.py),
with calls to `namespace` and `custom` tools in their own Responses shapes. Responses are
stored unless `store: false` (gateway/telemetry/response_store.py), so a later request can
continue from `previous_response_id` or point at earlier output with `item_reference`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
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
    responses_plan,
    streamed_answer,
    take_online_suffix,
    whole_answer,
)
from gateway.api.serve import FORWARDED_PARAMS, SSE_HEADERS
from gateway.api.validation import validate_chat_params
from gateway.formats.responses import (
    Event,
    ResponseBuilder,
    echoed_fields,
    response_from_completion,
)
from gateway.litellm_glue.responses_request import (
    InvalidResponsesRequest,
    chat_request,
    tool_naming,
)
from gateway.routing.streaming import StreamInterrupted
from gateway.state import GatewayState
from gateway.telemetry.response_store import ResponseNotFound

log = logging.getLogger("gateway.responses")

# Statuses of a finished answer worth keeping for a next turn.
_KEPT_STATUSES = ("completed", "incomplete")


async def create_response(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    online = take_online_suffix(body)
    chain = resolve_chain(state, body)
    echoed_tools = body.get("tools")
    plan = responses_plan(body, online)  # the gateway runs `web_search` tools itself
    input_items = await _resolved_input(state, body.get("input"))
    previous = body.get("previous_response_id")
    history = await _history(state, previous)
    try:
        messages, converted = chat_request({**body, "input": history + input_items}, chain.name)
    except InvalidResponsesRequest as exc:
        raise APIError(400, str(exc), code=exc.code, param=exc.param) from None
    # `store`, `prompt_cache_key`, `include` and `metadata` stay here: free upstreams have
    # no prompt cache to key, and storing is the gateway's business.
    params = {key: value for key, value in converted.items() if key in FORWARDED_PARAMS}
    validate_chat_params(params)
    messages = adapt_messages(messages, bool(params.get("tools")))
    store = body.get("store") is not False and state.responses.enabled
    echoed = echoed_fields({**body, "tools": echoed_tools}, stored=store)
    naming = tool_naming(body.get("tools"))
    stream = body.get("stream") is True
    journal = new_journal(state, request, chain, stream)

    def keep(response: dict[str, Any]) -> None:
        if store and response.get("status") in _KEPT_STATUSES:
            state.responses.save(response, input_items, previous)

    if not stream:
        completion, served, searches = await whole_answer(
            state, request, chain, messages, params, journal, plan
        )
        response = response_from_completion(completion, echoed, naming, searches)
        keep(response)
        return Response(
            orjson.dumps(response),
            media_type="application/json",
            headers=served_headers(chain, served, journal),
        )
    chunks, served, _ = await streamed_answer(
        state, request, chain, messages, params, journal, plan
    )
    builder = ResponseBuilder(echoed, model=served.deployment.id, tool_naming=naming)
    return StreamingResponse(
        _events(chunks, chain.name, builder, keep),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


async def get_response(request: Request) -> Response:
    state = gateway_state(request)
    response_id = request.path_params["response_id"]
    try:
        stored = await state.responses.get(response_id)
    except ResponseNotFound:
        raise _not_found(response_id) from None
    return Response(orjson.dumps(stored.response), media_type="application/json")


async def delete_response(request: Request) -> Response:
    state = gateway_state(request)
    response_id = request.path_params["response_id"]
    if not await state.responses.delete(response_id):
        raise _not_found(response_id)
    body = {"id": response_id, "object": "response.deleted", "deleted": True}
    return Response(orjson.dumps(body), media_type="application/json")


def _not_found(response_id: str) -> APIError:
    return APIError(
        404,
        f"No stored response with id {response_id!r}: it was created with store: false, "
        "expired (GATEWAY_RESPONSES_RETENTION_DAYS), was deleted, or never existed.",
        code="response_not_found",
    )


async def _resolved_input(state: GatewayState, value: object) -> list[dict[str, Any]]:
    """The request's input as items, each `item_reference` replaced by the stored item."""
    if isinstance(value, str) and value:
        return [{"role": "user", "content": value}]
    if not isinstance(value, list):
        return []  # the converter's check says what is wrong
    wanted = [
        item["id"]
        for item in value
        if isinstance(item, dict) and item.get("type") == "item_reference"
    ]
    found = await state.responses.items(wanted) if wanted else {}
    items = []
    for index, item in enumerate(value):
        if isinstance(item, dict) and item.get("type") == "item_reference":
            stored = found.get(item.get("id"))
            if stored is None:
                raise APIError(
                    400,
                    f"input[{index}] refers to item {item.get('id')!r}, which the gateway does "
                    "not hold: its response was created with store: false, expired, or came "
                    "from elsewhere. Send the item itself instead.",
                    code="item_not_found",
                    param=f"input[{index}]",
                )
            item = stored
        items.append(item)
    return items


async def _history(state: GatewayState, previous: object) -> list[dict[str, Any]]:
    if previous is None:
        return []
    if not isinstance(previous, str) or not previous:
        raise APIError(
            400,
            "'previous_response_id' must be a response id.",
            code="invalid_previous_response_id",
            param="previous_response_id",
        )
    try:
        return await state.responses.conversation(previous)
    except ResponseNotFound:
        raise APIError(
            400,
            f"Previous response {previous!r} not found: it was created with store: false, "
            "expired (GATEWAY_RESPONSES_RETENTION_DAYS), or never existed.",
            code="previous_response_not_found",
            param="previous_response_id",
        ) from None


async def _events(
    chunks: AsyncIterator[dict[str, Any]], chain_name: str, builder: ResponseBuilder, keep
) -> AsyncIterator[bytes]:
    """The answer as Responses events; one that breaks off ends in `response.failed`, never
    in `response.completed`."""
    try:
        yield _frames(builder.start())
        async for chunk in chunks:
            if events := builder.feed(chunk):
                yield _frames(events)
        closing = builder.finish()
        keep(closing[-1]["response"])
        yield _frames(closing)
    except StreamInterrupted as interrupted:
        yield _frames(builder.fail("stream_interrupted", interrupted.client_message))
    except Exception:
        log.exception("responses stream for %s failed", chain_name)
        yield _frames(
            builder.fail("internal_error", "Internal gateway error; see the gateway log.")
        )


def _frames(events: list[Event]) -> bytes:
    """Server-sent events whose `event:` line names the JSON's `type`, as OpenAI sends them."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )


ROUTES = [
    ("/v1/responses", create_response, "POST"),
    ("/responses", create_response, "POST"),
    ("/v1/responses/{response_id}", get_response, "GET"),
    ("/v1/responses/{response_id}", delete_response, "DELETE"),
    ("/responses/{response_id}", get_response, "GET"),
    ("/responses/{response_id}", delete_response, "DELETE"),
]
