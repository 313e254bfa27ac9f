"""Embedding endpoints: OpenAI's `/embeddings` (OpenAI, Cloudflare, GitHub) and Gemini's
`:embedContent` / `:batchEmbedContents`, with deterministic vectors.

A text's vector depends only on the text and the model, so tests can recompute what a
provider answered (`vector_for`) and tell which model served a request.
"""

from __future__ import annotations

import base64
import hashlib
import struct
from typing import Any

from .wire import JsonResponse

DIMENSIONS = 8


def vector_for(text: str, model: str, dimensions: int | None = None) -> list[float]:
    """Unit-free floats in [-1, 1) derived from sha256(model + text)."""
    size = dimensions or DIMENSIONS
    digest = b""
    counter = 0
    while len(digest) < size * 2:
        digest += hashlib.sha256(f"{model}\x00{text}\x00{counter}".encode()).digest()
        counter += 1
    return [
        round(int.from_bytes(digest[i * 2 : i * 2 + 2], "big") / 32768 - 1, 6) for i in range(size)
    ]


def _texts(value: Any) -> list[str] | None:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return value
    return None


def openai_embeddings(body: Any, model: str) -> JsonResponse:
    """OpenAI's embeddings answer (floats, or base64 float32 when asked)."""
    texts = _texts(body.get("input")) if isinstance(body, dict) else None
    if not texts:
        return JsonResponse(
            400,
            {"error": {"message": "'input' is required", "type": "invalid_request_error"}},
        )
    dimensions = body.get("dimensions")
    encoding = body.get("encoding_format") or "float"
    data = []
    for index, text in enumerate(texts):
        vector = vector_for(text, model, dimensions)
        embedding: Any = vector
        if encoding == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    tokens = sum(len(text.split()) for text in texts)
    return JsonResponse(
        200,
        {
            "object": "list",
            "data": data,
            "model": model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
    )


def gemini_embeddings(body: Any, model: str, batch: bool) -> JsonResponse:
    """`:batchEmbedContents` (`{"requests": [...]}`) or `:embedContent` (`{"content"}`)."""
    body = body if isinstance(body, dict) else {}
    requests = body.get("requests") if batch else [body]
    if not isinstance(requests, list) or not requests:
        return JsonResponse(
            400,
            {
                "error": {
                    "code": 400,
                    "message": "requests is required",
                    "status": "INVALID_ARGUMENT",
                }
            },
        )
    embeddings = []
    for request in requests:
        parts = ((request or {}).get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if isinstance(p, dict))
        dimensions = request.get("outputDimensionality") or request.get("output_dimensionality")
        embeddings.append({"values": vector_for(text, model, dimensions)})
    if batch:
        return JsonResponse(200, {"embeddings": embeddings})
    return JsonResponse(200, {"embedding": embeddings[0]})
