"""`POST /v1/completions`: OpenAI's legacy text completions over the chat chains.

Free providers serve chat models only, so the prompt goes through the chain as one user
message (failover, limits, continuation and telemetry as for chat) and the answer comes back
as `text_completion` objects. A list of prompts is answered prompt by prompt, one choice
each (non-stream). What a chat model cannot honour (`suffix`, `logprobs`, `best_of` > 1,
token-id prompts) is refused by name rather than ignored.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.api.serve import (
    SSE_HEADERS,
    complete_chat,
    json_response,
    openai_sse,
    stream_chat,
)
from gateway.api.validation import validate_chat_params
from gateway.formats.completions import TextChunks, completion_id, text_completion
from gateway.routing.streaming import StreamSession

# Legacy parameters that mean the same in chat.
_FORWARDED = ("max_tokens", "temperature", "top_p", "stop", "presence_penalty", "seed")
_FORWARDED += ("frequency_penalty", "logit_bias", "user")
# Legacy parameters a chat model cannot honour, refused unless at their no-op value.
_UNSUPPORTED = {"suffix": (None, ""), "logprobs": (None, 0, False), "best_of": (None, 1)}
MAX_PROMPTS = 16


async def create_completion(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    chain = resolve_chain(state, body)
    prompts = _prompts(body.get("prompt"))
    _refuse_unsupported(body)
    params = {key: body[key] for key in _FORWARDED if body.get(key) is not None}
    validate_chat_params({**params, "stream": body.get("stream")})
    if body.get("n") not in (None, 1):
        raise APIError(400, "'n' must be 1 here.", code="unsupported_parameter", param="n")
    echo = body.get("echo") is True
    stream = body.get("stream") is True
    if not stream:
        # One journal per prompt (their attempts are separate), one request id for all.
        journal = new_journal(state, request, chain, stream=False)
        answers = await asyncio.gather(
            *(
                complete_chat(
                    state,
                    chain,
                    [{"role": "user", "content": prompt}],
                    params,
                    new_journal(state, request, chain, False, request_id=journal.request_id),
                )
                for prompt in prompts
            )
        )
        completions = [completion for completion, _ in answers]
        served = answers[-1][1]
        echoes = [prompt if echo else "" for prompt in prompts]
        return json_response(
            text_completion(completions, echoes, completion_id()),
            served_headers(chain, served, journal),
        )
    if len(prompts) > 1:
        raise APIError(
            400,
            "A streamed completion takes one prompt.",
            code="unsupported_parameter",
            param="prompt",
        )
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    journal = new_journal(state, request, chain, stream=True)
    session, served = await stream_chat(
        state, chain, [{"role": "user", "content": prompts[0]}], params, include_usage, journal
    )
    chunks = TextChunks(prompts[0] if echo else "")
    return StreamingResponse(
        openai_sse(_text_chunks(session, chunks, served.deployment.id), chain.name),
        media_type="text/event-stream",
        headers={**SSE_HEADERS, **served_headers(chain, served, journal)},
    )


async def _text_chunks(
    session: StreamSession, chunks: TextChunks, model: str
) -> AsyncIterator[dict[str, Any]]:
    if (first := chunks.first(model)) is not None:
        yield first
    async for chunk in session.chunks():
        if (out := chunks.feed(chunk)) is not None:
            yield out


def _prompts(prompt: object) -> list[str]:
    if isinstance(prompt, str) and prompt:
        return [prompt]
    if isinstance(prompt, list) and prompt and all(isinstance(p, str) and p for p in prompt):
        if len(prompt) > MAX_PROMPTS:
            raise APIError(
                400,
                f"At most {MAX_PROMPTS} prompts per request.",
                code="invalid_prompt",
                param="prompt",
            )
        return list(prompt)
    if isinstance(prompt, list) and prompt and all(isinstance(p, int | list) for p in prompt):
        raise APIError(
            400,
            "Token-id prompts are not supported: the gateway's upstreams take text. "
            "Send 'prompt' as a string.",
            code="unsupported_parameter",
            param="prompt",
        )
    raise APIError(
        400,
        "'prompt' is required: a non-empty string (or an array of them).",
        code="invalid_prompt",
        param="prompt",
    )


def _refuse_unsupported(body: dict[str, Any]) -> None:
    for name, harmless in _UNSUPPORTED.items():
        if body.get(name) not in harmless:
            raise APIError(
                400,
                f"'{name}' is not supported: the gateway serves completions from chat models.",
                code="unsupported_parameter",
                param=name,
            )


ROUTES = [
    ("/v1/completions", create_completion, "POST"),
    ("/completions", create_completion, "POST"),
]
