"""Import LiteLLM's proxy server module and hand out its app and its Router."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from litellm import Router

from gateway.api.errors import APIError


@dataclass(frozen=True)
class LiteLLMProxy:
    module: ModuleType

    @property
    def app(self):
        return self.module.app

    def router(self) -> Router:
        """The Router the proxy built from CONFIG_FILE_PATH during its startup event."""
        router = self.module.llm_router
        if router is None:
            raise APIError(503, "The gateway is still starting.", code="starting")
        return router


def load_proxy_app() -> LiteLLMProxy:
    import litellm
    import litellm.proxy.proxy_server as proxy_server

    from gateway.litellm_glue.sse_guard import guarded_httpx_client

    # No "Give Feedback / Get Help" banners in the log for every failed upstream call.
    litellm.suppress_debug_info = True
    # The OpenAI-SDK providers' HTTP client: skips malformed stream events (sse_guard).
    litellm.aclient_session = guarded_httpx_client()

    return LiteLLMProxy(proxy_server)
