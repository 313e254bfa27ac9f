"""G4F (gpt4free) through g4f's own async client: a named g4f provider (PollinationsAI, ...) or
any OpenAI-compatible `api_base` through g4f's custom-provider factory. Tools go through g4f
too, natively or described in the prompt, and every tool answer is checked (g4f_tools.py).

g4f does its own HTTP, so this is not a wire over the engine's client: it yields OpenAI chunk
dicts from g4f's stream, and g4f's errors as the gateway's failures. Only g4f's async client
is used: its sync network code would block the event loop.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from gateway.adapt import adapt_messages
from gateway.catalog import Deployment
from gateway.engine.g4f_tools import checked_tool_calls, merge_fragments, tool_kwargs
from gateway.redact import redact
from gateway.routing.failures import FailureKind, UpstreamFailure

# Parameters g4f's client accepts by name.
_PASSED_PARAMS = ("max_tokens", "stop", "temperature", "top_p")


def configure_g4f(data_dir: Path) -> None:
    """Keep g4f's usage files under the gateway's data directory (g4f writes one line per
    completion to its config directory)."""
    os.environ.setdefault("G4F_CONFIG_DIR", str(data_dir / "g4f"))


class G4FSource:
    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment
        self.model = deployment.model_id
        self._provider: Any = None

    def _client(self):
        from g4f.client import AsyncClient

        if self._provider is None:
            self._provider = _provider_class(self.deployment)
        return AsyncClient(provider=self._provider)

    @property
    def emulated_tools(self) -> bool:
        """Tools described in the prompt rather than passed as `tools` (see g4f_tools.py)."""
        if self.deployment.g4f_tools is not None:
            return self.deployment.g4f_tools == "emulated"
        if self._provider is None:
            self._provider = _provider_class(self.deployment)
        return not getattr(self._provider, "supports_native_tools", False)

    def _arguments(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            **_passed(params),
            **tool_kwargs(params, self.emulated_tools),
            # g4f edits the messages it is given (it condenses prompts): a copy of ours
            "messages": copy.deepcopy(
                adapt_messages(params["messages"], has_tools=bool(params.get("tools")))
            ),
        }

    async def chat(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            result = await self._client().chat.completions.create(
                model=self.model, stream=False, **self._arguments(params)
            )
        except Exception as exc:
            raise g4f_failure(exc) from exc
        choice = result.choices[0]
        content = choice.message.content or ""
        calls = checked_tool_calls(params, content, choice.message.tool_calls or [])
        message: dict[str, Any] = {"role": "assistant", "content": content or None}
        if calls:
            message["tool_calls"] = calls
        elif not content:
            message["content"] = ""
        usage = getattr(result, "usage", None)
        completion: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": self.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "finish_reason": "tool_calls" if calls else (choice.finish_reason or "stop"),
                }
            ],
        }
        if usage is not None:
            completion["usage"] = {
                "prompt_tokens": usage.prompt_tokens or 0,
                "completion_tokens": usage.completion_tokens or 0,
                "total_tokens": usage.total_tokens or 0,
            }
        return completion

    async def stream(self, params: dict[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Text streams as it comes. A request with tools is answered whole (text, then its
        tool calls, then the finish): a call is checked before any of it reaches the client,
        so a bad one can still fail over."""
        chunk_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        finish_reason = "stop"
        buffered = bool(params.get("tools"))
        text: list[str] = []
        calls: dict[int, dict[str, Any]] = {}
        try:
            stream = self._client().chat.completions.stream(
                model=self.model, **self._arguments(params)
            )
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
                if fragments := getattr(choice.delta, "tool_calls", None):
                    merge_fragments(calls, fragments)
                piece = getattr(choice.delta, "content", None) or ""
                if not piece:
                    continue  # g4f's closing chunk carries no text: not passed on
                if buffered:
                    text.append(piece)
                else:
                    yield _chunk(chunk_id, created, self.model, {"content": piece}, None)
        except Exception as exc:
            raise g4f_failure(exc) from exc
        if buffered:
            content = "".join(text)
            checked = checked_tool_calls(params, content, [calls[i] for i in sorted(calls)])
            if content and not checked:
                yield _chunk(chunk_id, created, self.model, {"content": content}, None)
            if checked:
                deltas = [{"index": i, **call} for i, call in enumerate(checked)]
                yield _chunk(chunk_id, created, self.model, {"tool_calls": deltas}, None)
                finish_reason = "tool_calls"
        yield _chunk(chunk_id, created, self.model, {}, finish_reason)


def _chunk(
    chunk_id: str, created: int, model: str, delta: dict[str, Any], finish: str | None
) -> dict[str, Any]:
    return {
        "id": chunk_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


class _WithoutEchoedReasoning:
    """g4f's tool runner adds `reasoning_content: ""` to every assistant message that carries
    tool calls (for one vendor's thinking mode); strict OpenAI-compatible servers (Groq and
    others) refuse the whole request for it. Dropped just before the request is built."""

    @classmethod
    async def create_async_generator(cls, model: str, messages: list, **kwargs: Any):
        messages = [
            {k: v for k, v in m.items() if k != "reasoning_content"} if isinstance(m, dict) else m
            for m in messages
        ]
        async for chunk in super().create_async_generator(model, messages, **kwargs):  # type: ignore[misc]
            yield chunk


def _provider_class(deployment: Deployment):
    import g4f.Provider
    from g4f.client.factory import create_custom_provider

    if deployment.api_base:
        api_key = os.environ.get(deployment.api_key_env) if deployment.api_key_env else None
        name = deployment.provider.title().replace("-", "").replace("_", "")
        base = create_custom_provider(
            base_url=deployment.api_base,
            api_key=api_key,
            name=f"Gateway{name}",
            default_model=deployment.model_id,
            models=[deployment.model_id],
        )
        return type(base.__name__, (_WithoutEchoedReasoning, base), {})
    name = deployment.g4f_provider or "PollinationsAI"
    provider = getattr(g4f.Provider, name, None)
    if provider is None:
        raise UpstreamFailure(FailureKind.NOT_FOUND, f"g4f has no provider named {name!r}")
    return provider


def _passed(params: dict[str, Any]) -> dict[str, Any]:
    return {key: params[key] for key in _PASSED_PARAMS if params.get(key) is not None}


def g4f_failure(exc: BaseException) -> UpstreamFailure:
    """g4f's errors in the gateway's terms."""
    from g4f import errors as g4f_errors

    if isinstance(exc, UpstreamFailure):
        return exc
    message = redact(f"g4f: {type(exc).__name__}: {exc}")[:500]
    kinds: tuple[tuple[Any, FailureKind, int | None], ...] = (
        (g4f_errors.RateLimitError, FailureKind.RATE_LIMITED, 429),
        (g4f_errors.PaymentRequiredError, FailureKind.RATE_LIMITED, 402),
        (g4f_errors.MissingAuthError, FailureKind.AUTH, 401),
        (g4f_errors.ModelNotFoundError, FailureKind.NOT_FOUND, 404),
        (g4f_errors.ProviderNotFoundError, FailureKind.NOT_FOUND, 404),
        (g4f_errors.BadRequestError, FailureKind.BAD_REQUEST, 400),
        (g4f_errors.TimeoutError, FailureKind.TIMEOUT, None),
        (TimeoutError, FailureKind.TIMEOUT, None),
        (OSError, FailureKind.CONNECTION, None),
    )
    for cls, kind, status in kinds:
        if isinstance(exc, cls):
            return UpstreamFailure(kind, message, status=status)
    return UpstreamFailure(FailureKind.SERVER_ERROR, message)
