"""`POST /v1/chat/completions`: virtual models and direct `provider/model` names."""

from __future__ import annotations

import logging
from typing import Any

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
from gateway.api.serve import (
    FORWARDED_PARAMS,
    SSE_HEADERS,
    complete_chat,
    json_response,
    openai_sse,
    stream_chat,
)

log = logging.getLogger("gateway.chat")


async def chat_completions(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    chain = resolve_chain(state, body)
    params = {key: value for key, value in body.items() if key in FORWARDED_PARAMS}
    messages = adapt_messages(_validated_messages(body.get("messages")), bool(params.get("tools")))
    stream = body.get("stream") is True
    journal = new_journal(state, request, chain, stream)
    if not stream:
        completion, served = await complete_chat(state, chain, messages, params, journal)
        return json_response(completion, served_headers(chain, served, journal))
    client_options = params.pop("stream_options", None)
    include_usage = isinstance(client_options, dict) and client_options.get("include_usage") is True
    session, served = await stream_chat(state, chain, messages, params, include_usage, journal)
    return StreamingResponse(
        openai_sse(session.chunks(), session.chain.name),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


def _validated_messages(messages: object) -> list[dict[str, Any]]:
    if messages is None:
        raise APIError(400, "'messages' is required.", code="missing_messages", param="messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(
            400, "'messages' must be a non-empty array.", code="invalid_messages", param="messages"
        )
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise APIError(
                400,
                f"messages[{index}] must be an object with a string 'role'.",
                code="invalid_messages",
                param=f"messages[{index}]",
            )
    return messages


ROUTES = [
    ("/v1/chat/completions", chat_completions, "POST"),
    ("/chat/completions", chat_completions, "POST"),
]
