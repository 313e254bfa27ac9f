"""LiteLLM's Router, built from the generated config without LiteLLM's proxy server.

The proxy would build the same Router during its startup, but importing it costs seconds and
~150 MB and brings ~1,000 routes the gateway does not serve. The few `litellm_settings` the
generated config carries are applied here the way the proxy applies them.
"""

from __future__ import annotations

from typing import Any

import litellm
from litellm import Router

from gateway.litellm_glue.sse_guard import guarded_httpx_client


def build_router(litellm_config: dict[str, Any]) -> Router:
    apply_litellm_settings(litellm_config.get("litellm_settings") or {})
    return Router(model_list=litellm_config["model_list"], **litellm_config["router_settings"])


def apply_litellm_settings(settings: dict[str, Any]) -> None:
    for key, value in settings.items():
        setattr(litellm, key, value)
    # No "Give Feedback / Get Help" banners in the log for every failed upstream call.
    litellm.suppress_debug_info = True
    # The OpenAI-SDK providers' HTTP client: skips malformed stream events (sse_guard).
    litellm.aclient_session = guarded_httpx_client()
