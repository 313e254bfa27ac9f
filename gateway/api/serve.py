"""Serving the gateway's internal chat request through a chain, whole or streamed.

Every API shape (chat, Responses, Anthropic Messages, legacy completions) converts its
request into chat `messages` plus OpenAI chat parameters at its edge and calls one of these;
below them nothing knows which API the caller spoke.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.responses import Response

from gateway.api.common import chain_errors, run_chain
from gateway.api.errors import error_body
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

log = logging.getLogger("gateway.serve")

SSE_HEADERS = {"cache-control": "no-cache", "x-accel-buffering": "no"}


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
    session = StreamSession(
        state.runner, chain, opener, messages, include_usage, journal, drain=state.drain
    )
    with chain_errors(state, chain, journal):
        served = await session.start()
    return session, served


def _stream_opener(state: GatewayState, params: dict[str, Any]) -> OpenStream:
    # Upstreams always stream with usage, so first-token and idle limits apply to every
    # request, and the gateway always knows the usage.
    params = {**params, "stream_options": {"include_usage": True}}

    async def open_stream(deployment: Deployment, conversation: Messages) -> UpstreamStream:
        return await state.engine.open_chat_stream(deployment, {**params, "messages": conversation})

    return open_stream


def json_response(data: dict[str, Any], headers: dict[str, str]) -> Response:
    return Response(orjson.dumps(data), media_type="application/json", headers=headers)


async def openai_sse(
    chunks: AsyncIterator[dict[str, Any]], chain_name: str
) -> AsyncIterator[bytes]:
    """OpenAI-style server-sent events: `data: <chunk>` each, then `data: [DONE]`; an answer
    that breaks off ends with an in-band error and never `[DONE]`."""
    try:
        async for chunk in chunks:
            yield b"data: " + orjson.dumps(chunk) + b"\n\n"
        yield b"data: [DONE]\n\n"
    except StreamInterrupted as interrupted:
        message = interrupted.client_message
        yield (
            b"data: " + orjson.dumps(error_body(502, message, code="stream_interrupted")) + b"\n\n"
        )
    except Exception:
        log.exception("stream for %s failed", chain_name)
        error = error_body(
            500, "Internal gateway error; see the gateway log.", code="internal_error"
        )
        yield b"data: " + orjson.dumps(error) + b"\n\n"
