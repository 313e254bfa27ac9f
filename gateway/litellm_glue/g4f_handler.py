"""G4F (gpt4free) as a LiteLLM custom provider.

LiteLLM calls `handler` for models named `g4f/<provider name>|<model id>`; the provider name
selects which g4f backend serves it: a named g4f provider class (`g4f_provider:` in the YAML)
or any OpenAI-compatible `api_base` through g4f's custom provider factory. Only g4f's async
client is used: its sync network code would block the event loop.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import litellm
from litellm import CustomLLM
from litellm.types.utils import GenericStreamingChunk, ModelResponse

from gateway.adapt import adapt_messages
from gateway.catalog import Catalog
from gateway.providers.g4f import SEPARATOR
from gateway.redact import redact


@dataclass(frozen=True)
class G4FTarget:
    provider_name: str
    g4f_provider: str | None
    api_base: str | None
    api_key_env: str | None


_TARGETS: dict[str, G4FTarget] = {}

# Parameters g4f's client accepts by name.
_PASSED_PARAMS = ("max_tokens", "stop", "temperature", "top_p")


def configure_g4f(catalog: Catalog, data_dir: Path) -> None:
    """Register the configured g4f providers and keep g4f's usage files under `data/`."""
    os.environ.setdefault("G4F_CONFIG_DIR", str(data_dir / "g4f"))
    _TARGETS.clear()
    for deployment in catalog.deployments.values():
        if deployment.provider_type.name == "g4f":
            _TARGETS[deployment.provider] = G4FTarget(
                provider_name=deployment.provider,
                g4f_provider=deployment.g4f_provider,
                api_base=deployment.api_base,
                api_key_env=deployment.api_key_env,
            )


class G4FHandler(CustomLLM):
    async def acompletion(self, model: str, messages: list, *args: Any, **kwargs: Any):
        target, model_id = _target(model)
        client = _client(target, model_id)
        try:
            result = await client.chat.completions.create(
                model=model_id, messages=_plain(messages), stream=False, **_params(kwargs)
            )
        except Exception as exc:
            raise _litellm_error(exc, model) from exc
        response: ModelResponse = kwargs.get("model_response") or ModelResponse()
        choice = result.choices[0]
        response.choices[0].message.content = choice.message.content or ""
        response.choices[0].finish_reason = choice.finish_reason or "stop"
        response.model = model
        response.created = int(time.time())
        usage = getattr(result, "usage", None)
        if usage is not None:
            response.usage = litellm.Usage(
                prompt_tokens=usage.prompt_tokens or 0,
                completion_tokens=usage.completion_tokens or 0,
                total_tokens=usage.total_tokens or 0,
            )
        return response

    async def astreaming(
        self, model: str, messages: list, *args: Any, **kwargs: Any
    ) -> AsyncIterator[GenericStreamingChunk]:
        target, model_id = _target(model)
        client = _client(target, model_id)
        finish_reason = "stop"
        try:
            stream = client.chat.completions.stream(
                model=model_id, messages=_plain(messages), **_params(kwargs)
            )
            async for chunk in stream:
                if not chunk.choices:
                    continue
                choice = chunk.choices[0]
                text = getattr(choice.delta, "content", None) or ""
                if choice.finish_reason:
                    finish_reason = choice.finish_reason
                if text:
                    yield GenericStreamingChunk(
                        text=text, is_finished=False, finish_reason="", usage=None, index=0
                    )
        except Exception as exc:
            raise _litellm_error(exc, model) from exc
        yield GenericStreamingChunk(
            text="", is_finished=True, finish_reason=finish_reason, usage=None, index=0
        )


def _target(model: str) -> tuple[G4FTarget, str]:
    provider_name, _, model_id = model.rpartition("/")[2].partition(SEPARATOR)
    target = _TARGETS.get(provider_name)
    if target is None or not model_id:
        raise litellm.NotFoundError(
            message=f"g4f provider {provider_name!r} is not configured",
            model=model,
            llm_provider="g4f",
        )
    return target, model_id


def _client(target: G4FTarget, model_id: str):
    from g4f.client import AsyncClient

    return AsyncClient(provider=_provider_class(target, model_id))


def _provider_class(target: G4FTarget, model_id: str):
    import g4f.Provider
    from g4f.client.factory import create_custom_provider

    if target.api_base:
        api_key = os.environ.get(target.api_key_env) if target.api_key_env else None
        return create_custom_provider(
            base_url=target.api_base,
            api_key=api_key,
            name=f"Gateway{target.provider_name.title().replace('-', '').replace('_', '')}",
            default_model=model_id,
            models=[model_id],
        )
    name = target.g4f_provider or "PollinationsAI"
    provider = getattr(g4f.Provider, name, None)
    if provider is None:
        raise litellm.NotFoundError(
            message=f"g4f has no provider named {name!r}", model=model_id, llm_provider="g4f"
        )
    return provider


def _plain(messages: list) -> list:
    """g4f's client has no `tools`: a tool history goes upstream as text."""
    return adapt_messages(messages, has_tools=False)


def _params(kwargs: dict[str, Any]) -> dict[str, Any]:
    optional = kwargs.get("optional_params") or {}
    return {key: optional[key] for key in _PASSED_PARAMS if optional.get(key) is not None}


def _litellm_error(exc: Exception, model: str) -> Exception:
    """g4f's errors as LiteLLM's, so the chain classifies them like any provider's."""
    from g4f import errors as g4f_errors

    message = redact(f"g4f: {type(exc).__name__}: {exc}")
    common = {"message": message, "model": model, "llm_provider": "g4f"}
    if isinstance(exc, litellm.exceptions.APIError | litellm.RateLimitError):
        return exc
    if isinstance(exc, g4f_errors.RateLimitError | g4f_errors.PaymentRequiredError):
        return litellm.RateLimitError(**common)
    if isinstance(exc, g4f_errors.BadRequestError):
        return litellm.BadRequestError(**common)
    if isinstance(exc, g4f_errors.MissingAuthError):
        return litellm.AuthenticationError(**common)
    if isinstance(exc, g4f_errors.ModelNotFoundError | g4f_errors.ProviderNotFoundError):
        return litellm.NotFoundError(**common)
    if isinstance(exc, g4f_errors.TimeoutError | TimeoutError):
        return litellm.Timeout(**common)
    if isinstance(exc, OSError | ConnectionError):
        return litellm.APIConnectionError(**common)
    return litellm.InternalServerError(**common)


handler = G4FHandler()
