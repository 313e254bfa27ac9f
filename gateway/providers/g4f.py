"""G4F (gpt4free): keyless chat through g4f's own client (gateway/engine/g4f_source.py), from a
named g4f provider (PollinationsAI, ...) or an OpenAI-compatible `api_base`.

Its model name, `g4f/<provider name>|<model id>`, only identifies it: LiteLLM never calls g4f
(g4f is left out of the generated LiteLLM config).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from gateway.providers.base import ProviderType

if TYPE_CHECKING:
    from gateway.catalog import Deployment

SEPARATOR = "|"


class G4FType(ProviderType):
    def litellm_model(self, provider_name: str, model_id: str) -> str:
        return f"{self.litellm_prefix}/{provider_name}{SEPARATOR}{model_id}"


G4F = G4FType(
    name="g4f",
    litellm_prefix="g4f",
    key_required=False,
    models_path=None,
)


def probe_url(deployment: Deployment) -> str | None:
    """Where `gateway doctor --probe` checks that G4F can be reached, spending no quota: an
    `api_base`'s model list, or the model list of the named g4f provider (for PollinationsAI
    the keyless endpoint g4f sends chats to without a Pollinations key)."""
    if deployment.api_base:
        return deployment.api_base.rstrip("/") + "/models"
    import g4f.Provider

    provider = getattr(g4f.Provider, deployment.g4f_provider or "PollinationsAI", None)
    for attribute in ("worker_models_endpoint", "health_url", "models_endpoint", "url"):
        if isinstance(url := getattr(provider, attribute, None), str) and url:
            return url
    return None
