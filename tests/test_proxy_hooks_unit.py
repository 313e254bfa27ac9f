"""Which of LiteLLM's proxy hooks the gateway unregisters (gateway/litellm_glue/proxy.py)."""

from __future__ import annotations

from types import SimpleNamespace

import litellm
import pytest
from litellm.integrations.custom_logger import CustomLogger
from litellm.proxy.hooks.parallel_request_limiter_v3 import _PROXY_MaxParallelRequestsHandler_v3
from litellm.proxy.hooks.responses_id_security import ResponsesIDSecurity

from gateway.litellm_glue.proxy import LiteLLMProxy

LISTS = ("callbacks", "success_callback", "_async_success_callback", "_async_failure_callback")


class UserLogger(CustomLogger):
    """A logging callback somebody configured on purpose."""


@pytest.fixture
def registered():
    """LiteLLM's callback lists holding two proxy hooks, a user's logger and a plain function
    (the Router's own callback), restored afterwards."""
    saved = {name: list(getattr(litellm, name)) for name in LISTS}
    hooks = [
        object.__new__(_PROXY_MaxParallelRequestsHandler_v3),
        object.__new__(ResponsesIDSecurity),
    ]
    user, router_callback = UserLogger(), print
    for name in LISTS:
        getattr(litellm, name)[:] = [*hooks, user, router_callback]
    yield hooks, user, router_callback
    for name, items in saved.items():
        getattr(litellm, name)[:] = items


def test_without_a_database_the_idle_hooks_go(registered):
    _, user, router_callback = registered
    proxy = LiteLLMProxy(SimpleNamespace(prisma_client=None))
    assert proxy.drop_idle_hooks() == [
        "ResponsesIDSecurity",
        "_PROXY_MaxParallelRequestsHandler_v3",
    ]
    for name in LISTS:
        assert getattr(litellm, name) == [user, router_callback]


def test_with_a_database_every_hook_stays(registered):
    hooks, user, router_callback = registered
    proxy = LiteLLMProxy(SimpleNamespace(prisma_client=object()))
    assert proxy.drop_idle_hooks() == []
    for name in LISTS:
        assert getattr(litellm, name) == [*hooks, user, router_callback]
