"""G4F (gpt4free) through the gateway's LiteLLM custom handler.

The LiteLLM model is `g4f/<provider name>|<model id>` so the handler can find which g4f
provider (a named one such as PollinationsAI, or an OpenAI-compatible `api_base`) serves it.
Not a `/`: LiteLLM's Responses bridge strips one more `prefix/` than its chat path does.
"""

from gateway.providers.base import ProviderType

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
