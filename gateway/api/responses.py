"""`POST /v1/responses`: the OpenAI Responses API over the same chains as chat completions.

The request is converted to the chat request it stands for and served exactly like one
(failover, first-token and idle limits, mid-stream continuation on the next candidate); the
answer is then rendered as a Responses object or event stream (gateway/responses_format.py).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.adapt import adapt_messages
from gateway.api.chat import FORWARDED_PARAMS, SSE_HEADERS, complete_chat, stream_chat
from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.litellm_glue.responses_request import InvalidResponsesRequest, chat_request
from gateway.responses_format import (
    Event,
    ResponseBuilder,
    echoed_fields,
    response_from_completion,
)
from gateway.routing.streaming import StreamInterrupted, StreamSession

log = logging.getLogger("gateway.responses")


async def create_response(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    chain = resolve_chain(state, body)
    if body.get("previous_response_id"):
        raise APIError(
            400,
            "previous_response_id is not supported: the gateway stores no responses; "
            "send the whole conversation in 'input' (store: false).",
            code="unsupported_parameter",
            param="previous_response_id",
        )
    try:
        messages, converted = chat_request(body, model=chain.name)
    except InvalidResponsesRequest as exc:
        raise APIError(400, str(exc), code=exc.code, param=exc.param) from None
    # `store`, `prompt_cache_key`, `include` and `metadata` stay here: the gateway keeps no
    # responses, and free upstreams have no prompt cache to key.
    params = {key: value for key, value in converted.items() if key in FORWARDED_PARAMS}
    messages = adapt_messages(messages, bool(params.get("tools")))
    echoed = echoed_fields(body)
    stream = body.get("stream") is True
    journal = new_journal(state, request, chain, stream)

    if not stream:
        completion, served = await complete_chat(state, chain, messages, params, journal)
        return Response(
            orjson.dumps(response_from_completion(completion, echoed)),
            media_type="application/json",
            headers=served_headers(chain, served, journal),
        )
    session, served = await stream_chat(
        state, chain, messages, params, include_usage=True, journal=journal
    )
    builder = ResponseBuilder(echoed, model=served.deployment.id)
    return StreamingResponse(
        _events(session, builder),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


async def _events(session: StreamSession, builder: ResponseBuilder) -> AsyncIterator[bytes]:
    """The answer as Responses events; one that breaks off ends in `response.failed`, never
    in `response.completed`."""
    try:
        yield _frames(builder.start())
        async for chunk in session.chunks():
            if events := builder.feed(chunk):
                yield _frames(events)
        yield _frames(builder.finish())
    except StreamInterrupted as interrupted:
        failure = interrupted.failure
        message = (
            f"{interrupted.deployment.id} failed mid-answer ({failure.kind}: {failure.message}); "
            f"{interrupted.detail}. The answer above is incomplete."
        )
        yield _frames(builder.fail("stream_interrupted", message))
    except Exception:
        log.exception("responses stream for %s failed", session.chain.name)
        yield _frames(
            builder.fail("internal_error", "Internal gateway error; see the gateway log.")
        )


def _frames(events: list[Event]) -> bytes:
    """Server-sent events whose `event:` line names the JSON's `type`, as OpenAI sends them."""
    return b"".join(
        b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"
        for event in events
    )


ROUTES = [("/v1/responses", create_response, "POST"), ("/responses", create_response, "POST")]
