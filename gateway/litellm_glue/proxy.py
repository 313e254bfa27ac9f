"""Import LiteLLM's proxy server module and hand out its app and its Router."""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType

from litellm import Router

from gateway.api.errors import APIError

# LiteLLM's lists of logging callbacks; every Router call runs the success or failure
# handlers of what they hold.
_CALLBACK_LISTS = (
    "callbacks",
    "success_callback",
    "failure_callback",
    "_async_success_callback",
    "_async_failure_callback",
)


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

    def drop_idle_hooks(self) -> list[str]:
        """Unregister the proxy's hooks that have nothing to act on; returns their names.

        LiteLLM's proxy registers hooks for its own request pipeline: per-key parallel-request
        and budget limits, per-key cache-control permissions, session limits, response-id
        encryption, skills, sensitive-data routing, prompt-cache prediction. They serve
        virtual keys and sessions, which exist only with a LiteLLM database; the gateway
        configures none, yet every Router call runs their success or failure handler (about
        a tenth of a non-stream request's CPU at concurrency 32, measured with `make bench`).
        With a database (`DATABASE_URL`) they are all kept.
        """
        import litellm
        from litellm.proxy.hooks import PROXY_HOOKS
        from litellm.proxy.hooks.model_max_budget_limiter import (
            _PROXY_VirtualKeyModelMaxBudgetLimiter,
        )

        if self.module.prisma_client is not None:
            return []
        idle = (*PROXY_HOOKS.values(), _PROXY_VirtualKeyModelMaxBudgetLimiter)
        dropped: set[str] = set()
        for name in _CALLBACK_LISTS:
            callbacks = getattr(litellm, name)
            dropped.update(type(c).__name__ for c in callbacks if isinstance(c, idle))
            callbacks[:] = [c for c in callbacks if not isinstance(c, idle)]
        return sorted(dropped)


def load_proxy_app() -> LiteLLMProxy:
    import litellm
    import litellm.proxy.proxy_server as proxy_server

    from gateway.litellm_glue.sse_guard import guarded_httpx_client

    # No "Give Feedback / Get Help" banners in the log for every failed upstream call.
    litellm.suppress_debug_info = True
    # The OpenAI-SDK providers' HTTP client: skips malformed stream events (sse_guard).
    litellm.aclient_session = guarded_httpx_client()

    return LiteLLMProxy(proxy_server)
