"""`POST /v1/chat/completions`: virtual models and direct `provider/model` names."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.api.common import (
    gateway_state,
    read_json_object,
    resolve_chain,
    run_chain,
    served_headers,
)
from gateway.api.errors import APIError, error_body
from gateway.catalog import Deployment
from gateway.litellm_glue.engine import StartedStream
from gateway.litellm_glue.errors import classify

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
    params["messages"] = _validated_messages(body.get("messages"))
    stream = body.get("stream") is True

    async def attempt(deployment: Deployment) -> Any:
        return await state.engine.chat(deployment, params, stream)

    served = await run_chain(state, chain, attempt)
    headers = served_headers(chain, served)
    if stream:
        return StreamingResponse(
            _sse(served.result, served.deployment.id),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    response = served.result
    response.model = served.deployment.id
    return Response(response.model_dump_json(), media_type="application/json", headers=headers)


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


async def _sse(stream: StartedStream, model_id: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in stream:
            chunk.model = model_id
            yield b"data: " + chunk.model_dump_json(exclude_none=True).encode() + b"\n\n"
        yield b"data: [DONE]\n\n"
    except Exception as exc:
        failure = classify(exc)
        log.warning("stream from %s failed after it started: %s", model_id, failure)
        error = error_body(
            502, f"{model_id} failed mid-answer: {failure.message}", code=failure.kind.value
        )
        yield b"data: " + orjson.dumps(error) + b"\n\n"
    finally:
        await stream.aclose()


ROUTES = [
    ("/v1/chat/completions", chat_completions, "POST"),
    ("/chat/completions", chat_completions, "POST"),
]
