"""`POST /v1/responses`: the OpenAI Responses API over the same chains.

LiteLLM bridges each attempt to the provider's chat API (our deployments are configured for
that); this route adds the chain, the headers, and the SSE framing with `event:` lines.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.api.chat import SSE_HEADERS
from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    run_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.catalog import Deployment
from gateway.litellm_glue.engine import ResponseEvents
from gateway.litellm_glue.errors import classify
from gateway.routing.chain import Served
from gateway.routing.failures import FailureKind, UpstreamFailure
from gateway.telemetry.journal import AttemptJournal

log = logging.getLogger("gateway.responses")

# `prompt_cache_key`, `store` and `previous_response_id` are accepted and not forwarded: the
# gateway keeps no response store, and free upstreams have no prompt cache to key.
FORWARDED_PARAMS = frozenset(
    {
        "include",
        "instructions",
        "max_output_tokens",
        "metadata",
        "parallel_tool_calls",
        "reasoning",
        "temperature",
        "text",
        "tool_choice",
        "tools",
        "top_p",
        "truncation",
        "user",
    }
)


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
    input_items = body.get("input")
    if not isinstance(input_items, str | list) or not input_items:
        raise APIError(
            400, "'input' is required (a string or an array).", code="missing_input", param="input"
        )
    params = {key: value for key, value in body.items() if key in FORWARDED_PARAMS}
    params["input"] = input_items
    stream = body.get("stream") is True

    settings = state.runner.settings

    async def attempt(deployment: Deployment) -> Any:
        if not stream:
            return await state.engine.responses(deployment, params, stream)
        # LiteLLM's bridge emits its first event only once the upstream's first chunk is in,
        # so this is the same time-to-first-token limit the chat route enforces.
        try:
            async with asyncio.timeout(settings.first_token_timeout):
                return await state.engine.responses(deployment, params, stream)
        except TimeoutError:
            raise UpstreamFailure(
                FailureKind.TIMEOUT,
                f"no first event within {settings.first_token_timeout:g}s "
                "(time-to-first-token limit)",
            ) from None

    journal = new_journal(state, request, chain, stream)
    served = await run_chain(state, chain, attempt, journal)
    headers = served_headers(chain, served, journal)
    if stream:
        return StreamingResponse(
            _events(served, journal, settings.stream_idle_timeout),
            media_type="text/event-stream",
            headers={**SSE_HEADERS, **headers},
        )
    response = served.result
    response.model = served.deployment.id
    journal.succeeded(served.deployment, served.started, usage=_usage(response))
    return Response(response.model_dump_json(), media_type="application/json", headers=headers)


async def _within(stream: ResponseEvents, idle_timeout: float) -> AsyncIterator[Any]:
    """The stream's events, failing with a timeout when it stalls."""
    events = stream.__aiter__()
    while True:
        try:
            async with asyncio.timeout(idle_timeout):
                event = await anext(events)
        except StopAsyncIteration:
            return
        except TimeoutError:
            raise UpstreamFailure(
                FailureKind.TIMEOUT, f"the stream stalled: no event for {idle_timeout:g}s"
            ) from None
        yield event


def _usage(response: Any) -> dict[str, Any] | None:
    """Responses API usage in chat terms, for telemetry."""
    usage = getattr(response, "usage", None)
    if usage is None:
        return None
    return {
        "prompt_tokens": getattr(usage, "input_tokens", None),
        "completion_tokens": getattr(usage, "output_tokens", None),
    }


async def _events(
    served: Served[ResponseEvents], journal: AttemptJournal, idle_timeout: float
) -> AsyncIterator[bytes]:
    stream, model_id = served.result, served.deployment.id
    usage, finished, failed = None, False, False
    try:
        async for event in _within(stream, idle_timeout):
            inner = getattr(event, "response", None)
            if inner is not None and hasattr(inner, "model"):
                inner.model = model_id
                usage = _usage(inner) or usage
            # LiteLLM's event types are enums whose str() is not their value.
            event_type = getattr(event, "type", "message")
            event_type = getattr(event_type, "value", event_type)
            yield (
                f"event: {event_type}\ndata: ".encode()
                + event.model_dump_json(exclude_none=True).encode()
                + b"\n\n"
            )
        finished = True
    except Exception as exc:
        failure = classify(exc)
        log.warning("responses stream from %s failed after it started: %s", model_id, failure)
        error = {
            "type": "error",
            "code": failure.kind.value,
            "message": f"{model_id} failed mid-answer: {failure.message}",
            "param": None,
        }
        yield b"event: error\ndata: " + orjson.dumps(error) + b"\n\n"
        journal.failed(served.deployment, failure, served.started)
        failed = True
    finally:
        await stream.aclose()
        if not failed:
            journal.succeeded(
                served.deployment, served.started, usage=usage, cancelled=not finished
            )


ROUTES = [("/v1/responses", create_response, "POST"), ("/responses", create_response, "POST")]
