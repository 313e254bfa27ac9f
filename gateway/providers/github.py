"""GitHub Models: OpenAI-style API at models.github.ai with `publisher/model` ids.

LiteLLM's `github/` adapter goes through the OpenAI SDK, which retries on its own unless
`max_retries` is 0; chains must fail over instead of retrying.
"""

from gateway.providers.base import ProviderType

GITHUB = ProviderType(
    name="github",
    litellm_prefix="github",
    default_api_base="https://models.github.ai/inference",
    api_base_env="GITHUB_MODELS_API_BASE",
    api_key_env="GITHUB_MODELS_API_KEY",
    litellm_extras={"max_retries": 0},
    models_path=None,  # the catalog lives at a different host; reachability uses the chat path
)
