"""`POST /v1/chat/completions`: virtual models and direct `provider/model` names."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.adapt import adapt_messages
from gateway.api.common import (
    chain_errors,
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    run_chain,
    served_headers,
)
from gateway.api.errors import APIError, error_body
from gateway.catalog import Chain, Deployment
from gateway.routing.chain import Served
from gateway.routing.streaming import (
    Messages,
    OpenStream,
    StreamInterrupted,
    StreamSession,
    UpstreamStream,
    collect_answer,
)
from gateway.state import GatewayState
from gateway.telemetry.journal import AttemptJournal

log = logging.getLogger("gateway.chat")

# OpenAI chat parameters forwarded upstream. Anything else in the body is dropped: in
# particular `api_base`/`api_key`, which LiteLLM would otherwise honour and which could send
# the gateway's keys to a server of the caller's choosing.
FORWARDED_PARAMS = frozenset(
    {
        "frequency_penalty",
        "function_call",
        "functions",
        "logit_bias",
        "logprobs",
        "max_completion_tokens",
        "max_tokens",
        "n",
        "parallel_tool_calls",
        "presence_penalty",
        "reasoning_effort",
        "response_format",
        "seed",
        "stop",
        "stream_options",
        "temperature",
        "tool_choice",
        "tools",
        "top_logprobs",
        "top_p",
        "user",
    }
)

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


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
        return _json(completion, served_headers(chain, served, journal))
    client_options = params.pop("stream_options", None)
    include_usage = isinstance(client_options, dict) and client_options.get("include_usage") is True
    session, served = await stream_chat(state, chain, messages, params, include_usage, journal)
    return StreamingResponse(
        _sse(session),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


async def complete_chat(
    state: GatewayState,
    chain: Chain,
    messages: Messages,
    params: dict[str, Any],
    journal: AttemptJournal,
) -> tuple[dict[str, Any], Served[Any]]:
    """A whole answer from the chain, as a `chat.completion` dict (also serves `/v1/responses`)."""
    settings = state.runner.settings
    if not settings.stream_upstream:
        served = await run_chain(
            state,
            chain,
            lambda d: state.engine.chat(d, {**params, "messages": messages}),
            journal,
        )
        completion = served.result
        completion["model"] = served.deployment.id
        journal.succeeded(served.deployment, served.started, usage=completion.get("usage"))
        return completion, served

    served = await run_chain(
        state,
        chain,
        lambda d: collect_answer(_stream_opener(state, params), d, messages, settings),
        journal,
    )
    answer = served.result
    journal.succeeded(
        served.deployment, served.started, first_token_at=answer.first_token_at, usage=answer.usage
    )
    return answer.completion(served.deployment.id), served


async def stream_chat(
    state: GatewayState,
    chain: Chain,
    messages: Messages,
    params: dict[str, Any],
    include_usage: bool,
    journal: AttemptJournal,
) -> tuple[StreamSession, Served[Any]]:
    """A streamed answer whose first token is in, failover and continuation included."""
    opener = _stream_opener(state, params)
    session = StreamSession(state.runner, chain, opener, messages, include_usage, journal)
    with chain_errors(state, chain):
        served = await session.start()
    return session, served


def _stream_opener(state: GatewayState, params: dict[str, Any]) -> OpenStream:
    # Upstreams always stream with usage, so first-token and idle limits apply to every
    # request, and the gateway always knows the usage.
    params = {**params, "stream_options": {"include_usage": True}}

    async def open_stream(deployment: Deployment, conversation: Messages) -> UpstreamStream:
        return await state.engine.open_chat_stream(deployment, {**params, "messages": conversation})

    return open_stream


def _json(data: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json", headers=headers)


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


async def _sse(session: StreamSession) -> AsyncIterator[bytes]:
    try:
        async for chunk in session.chunks():
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"
    except StreamInterrupted as interrupted:
        failure = interrupted.failure
        message = (
            f"{interrupted.deployment.id} failed mid-answer ({failure.kind}: {failure.message}); "
            f"{interrupted.detail}. The answer above is incomplete."
        )
        yield (
            b"data: " + orjson.dumps(error_body(502, message, code="stream_interrupted")) + b"\n\n"
        )
    except Exception:
        log.exception("stream for %s failed", session.chain.name)
        error = error_body(
            500, "Internal gateway error; see the gateway log.", code="internal_error"
        )
        yield b"data: " + orjson.dumps(error) + b"\n\n"


ROUTES = [
    ("/v1/chat/completions", chat_completions, "POST"),
    ("/chat/completions", chat_completions, "POST"),
]
