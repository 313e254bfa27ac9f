"""LiteLLM's Router, built from the generated config without LiteLLM's proxy server.

The proxy would build the same Router during its startup, but importing it costs seconds and
~150 MB and brings ~1,000 routes the gateway does not serve. The few `litellm_settings` the
generated config carries are applied here the way the proxy applies them.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm import Router

from gateway.litellm_glue.config import G4F_HANDLER
from gateway.litellm_glue.sse_guard import guarded_httpx_client


def build_router(litellm_config: dict[str, Any]) -> Router:
    apply_litellm_settings(litellm_config.get("litellm_settings") or {})
    return Router(model_list=litellm_config["model_list"], **litellm_config["router_settings"])


def apply_litellm_settings(settings: dict[str, Any]) -> None:
    from litellm.utils import custom_llm_setup

    for key, value in settings.items():
        if key == "custom_provider_map":
            litellm.custom_provider_map = [
                {"provider": item["provider"], "custom_handler": _handler(item["custom_handler"])}
                for item in value
            ]
            custom_llm_setup()
        else:
            setattr(litellm, key, value)
    # No "Give Feedback / Get Help" banners in the log for every failed upstream call.
    litellm.suppress_debug_info = True
    # The OpenAI-SDK providers' HTTP client: skips malformed stream events (sse_guard).
    litellm.aclient_session = guarded_httpx_client()


def _handler(path: str) -> Any:
    if path != G4F_HANDLER:
        raise ValueError(f"unknown custom handler {path!r}")
    from gateway.litellm_glue.g4f_handler import handler

    return handler
