"""`POST /v1/embeddings`: chains of embedding models, with the chat chains' failover,
cooldowns, quotas and telemetry.

A virtual model with `mode: embedding` lists embedding models of any provider. Vectors of
different models live in different spaces: the answer's `model` (and `x-gateway-served-by`)
names the one that answered, so a client building an index can tell, or ask for a direct
`provider/model` name to always get one model.
"""

from __future__ import annotations

import base64
import sys
from array import array
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from gateway.api.common import (
    gateway_state,
    new_journal,
    read_json_object,
    resolve_chain,
    run_chain,
    served_headers,
)
from gateway.api.errors import APIError
from gateway.api.serve import json_response
from gateway.catalog import Deployment

MAX_INPUTS = 2048
ENCODINGS = ("float", "base64")


async def create_embeddings(request: Request) -> Response:
    state = gateway_state(request)
    body = await read_json_object(request)
    chain = resolve_chain(state, body, mode="embedding")
    inputs = _inputs(body.get("input"))
    encoding = body.get("encoding_format") or "float"
    if encoding not in ENCODINGS:
        raise APIError(
            400,
            f"'encoding_format' must be one of {', '.join(ENCODINGS)}.",
            code="invalid_encoding_format",
            param="encoding_format",
        )
    params: dict[str, Any] = {"input": inputs}
    dimensions = body.get("dimensions")
    if dimensions is not None:
        if not isinstance(dimensions, int) or isinstance(dimensions, bool) or dimensions < 1:
            raise APIError(
                400,
                "'dimensions' must be a positive integer.",
                code="invalid_dimensions",
                param="dimensions",
            )
        params["dimensions"] = dimensions
    journal = new_journal(state, request, chain, stream=False)

    async def attempt(deployment: Deployment) -> dict[str, Any]:
        return await state.engine.embed(deployment, params)

    served = await run_chain(state, chain, attempt, journal)
    result = served.result
    journal.succeeded(served.deployment, served.started, usage=result.get("usage"))
    return json_response(
        _embedding_list(result, served.deployment.id, encoding),
        served_headers(chain, served, journal),
    )


def _inputs(value: object) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
        if len(value) > MAX_INPUTS:
            raise APIError(
                400,
                f"At most {MAX_INPUTS} inputs per request.",
                code="invalid_input",
                param="input",
            )
        return list(value)
    if isinstance(value, list) and value and all(isinstance(v, int | list) for v in value):
        raise APIError(
            400,
            "Token-id inputs are not supported: the gateway's upstreams embed text. "
            "Send 'input' as a string or an array of strings.",
            code="unsupported_parameter",
            param="input",
        )
    raise APIError(
        400,
        "'input' is required: a non-empty string or an array of non-empty strings.",
        code="invalid_input",
        param="input",
    )


def _embedding_list(result: dict[str, Any], model: str, encoding: str) -> dict[str, Any]:
    data = []
    for position, item in enumerate(result.get("data") or ()):
        vector = item.get("embedding") or []
        data.append(
            {
                "object": "embedding",
                "index": item.get("index", position),
                "embedding": _base64(vector) if encoding == "base64" else vector,
            }
        )
    usage = result.get("usage") or {}
    prompt = usage.get("prompt_tokens") or 0
    return {
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": prompt, "total_tokens": usage.get("total_tokens") or prompt},
    }


def _base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32s (what the OpenAI SDKs ask for by
    default and decode)."""
    floats = array("f", vector)
    if sys.byteorder != "little":
        floats.byteswap()
    return base64.b64encode(floats.tobytes()).decode("ascii")


ROUTES = [
    ("/v1/embeddings", create_embeddings, "POST"),
    ("/embeddings", create_embeddings, "POST"),
]
