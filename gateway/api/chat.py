"""`POST /v1/chat/completions`: virtual models and direct `provider/model` names."""

from __future__ import annotations

import logging

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
from gateway.api.searching import (
    chat_plan,
    streamed_answer,
    take_online_suffix,
    whole_answer,
    with_citations,
)
from gateway.api.serve import (
    FORWARDED_PARAMS,
    SSE_HEADERS,
    json_response,
    openai_sse,
)
from gateway.api.validation import validate_chat_params, validate_messages

log = logging.getLogger("gateway.chat")


async def chat_completions(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    online = take_online_suffix(body)
    chain = resolve_chain(state, body)
    plan = chat_plan(body, online)
    params = {key: value for key, value in body.items() if key in FORWARDED_PARAMS}
    validate_chat_params({**params, "stream": body.get("stream")})
    messages = adapt_messages(validate_messages(body.get("messages")), bool(params.get("tools")))
    stream = body.get("stream") is True
    journal = new_journal(state, request, chain, stream)
    if not stream:
        completion, served, _ = await whole_answer(
            state, request, chain, messages, params, journal, plan
        )
        return json_response(completion, served_headers(chain, served, journal))
    client_options = params.pop("stream_options", None)
    include_usage = isinstance(client_options, dict) and client_options.get("include_usage") is True
    chunks, served, grounded = await streamed_answer(
        state, request, chain, messages, params, journal, plan, include_usage
    )
    if grounded is not None:
        chunks = with_citations(chunks, grounded)
    return StreamingResponse(
        openai_sse(chunks, chain.name),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


ROUTES = [
    ("/v1/chat/completions", chat_completions, "POST"),
    ("/chat/completions", chat_completions, "POST"),
]
