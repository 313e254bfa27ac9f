"""Any OpenAI-compatible server (vLLM, llama.cpp, Ollama, a LiteLLM proxy, ...).

`use_chat_completions_api` makes LiteLLM bridge `/v1/responses` to chat completions instead of
calling a `/responses` endpoint most such servers do not have.
"""

from collections.abc import Mapping

from gateway.providers.base import ProviderType, ResolvedEndpoint

_NO_KEY = "not-needed"


class OpenAICompatibleType(ProviderType):
    def resolve_endpoint(
        self,
        env: Mapping[str, str],
        *,
        yaml_api_base: str | None,
        yaml_api_key_env: str | None,
    ) -> ResolvedEndpoint:
        resolved = super().resolve_endpoint(
            env, yaml_api_base=yaml_api_base, yaml_api_key_env=yaml_api_key_env
        )
        if resolved.api_base is None:
            return ResolvedEndpoint(None, resolved.api_key_env, "api_base is required")
        if yaml_api_key_env and not env.get(yaml_api_key_env):
            return ResolvedEndpoint(
                resolved.api_base, yaml_api_key_env, f"{yaml_api_key_env} is not set"
            )
        return resolved


OPENAI_COMPATIBLE = OpenAICompatibleType(
    name="openai_compatible",
    litellm_prefix="openai",
    key_required=False,
    litellm_extras={"max_retries": 0, "use_chat_completions_api": True},
)

# LiteLLM's OpenAI client insists on some key; servers without auth ignore it.
PLACEHOLDER_KEY = _NO_KEY
