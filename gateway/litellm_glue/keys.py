"""LiteLLM virtual keys on the gateway's own routes, in database mode.

A request to one of the gateway's routes whose key is not `PROXY_API_KEY` (LiteLLM's master key)
goes through LiteLLM's own request pipeline, the one its proxy runs before and after every model
call:

- `user_api_key_auth`: the key exists, is not expired or blocked, may use this route and model,
  and its key/user/team/end-user budgets are not spent;
- `add_litellm_data_to_request` and `ProxyLogging.pre_call_hook`: the key's metadata on the
  request, and LiteLLM's pre-call hooks, whose parallel-request limiter enforces the key's
  (and its user's and team's) rpm, tpm and max_parallel_requests;
- after the answer, a LiteLLM `Logging` object for the call, whose success or failure handlers
  run LiteLLM's callbacks: the proxy's database logger (the key's spend and the row in
  `LiteLLM_SpendLogs`), the rate limiter's token counting and release, and any logger the
  operator configured.

Nothing here re-implements a check: each step is LiteLLM's function, called with the request
the gateway received.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson

log = logging.getLogger("gateway.litellm")

# The gateway's model routes, as the LiteLLM call type their requests stand for (LiteLLM's
# rate limiter and callbacks read it).
CALL_TYPES = {
    "/v1/chat/completions": "acompletion",
    "/chat/completions": "acompletion",
    "/v1/responses": "aresponses",
    "/responses": "aresponses",
    "/v1/messages": "anthropic_messages",
    "/messages": "anthropic_messages",
    "/v1/completions": "atext_completion",
    "/completions": "atext_completion",
    "/v1/embeddings": "aembedding",
    "/embeddings": "aembedding",
}


# Attempt outcomes that answered the request.
ANSWERED = frozenset({"success", "continuation", "cancelled", "shutdown"})


class KeyRefused(Exception):
    """LiteLLM refused the key (or its limits): the status and message to answer with."""

    def __init__(self, status: int, message: str, code: str, headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        self.headers = headers or {}


@dataclass
class KeyCaller:
    """A request authenticated by LiteLLM: its key and the data LiteLLM's pipeline built."""

    auth: Any  # litellm.proxy._types.UserAPIKeyAuth
    data: dict[str, Any]
    call_type: str
    route: str
    started: float = field(default_factory=time.time)
    finished: bool = False
    keys: LiteLLMKeys | None = None  # set on model routes: their answers are logged

    def record(self, record) -> None:
        """A sink of the request's attempt journal: the answer is logged to LiteLLM (a
        failed attempt is not the request's end; how an unanswered request ended is logged
        when its response is over, see `KeyGate`)."""
        outcome = getattr(record.outcome, "value", record.outcome)
        if self.keys is not None and outcome in ANSWERED:
            self.keys.record(self, record)


class LiteLLMKeys:
    """LiteLLM's key checks and spend logging, for a proxy whose database is connected."""

    def __init__(self, proxy_module) -> None:
        self.proxy = proxy_module
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def connected(self) -> bool:
        return self.proxy.prisma_client is not None

    async def authenticate(self, scope, body: bytes) -> KeyCaller:
        """LiteLLM's `user_api_key_auth` for a request to a gateway route, and for a model
        route its request data and pre-call hooks (rate limits; released by the post-call
        hooks `record` runs); raises `KeyRefused` with LiteLLM's status and message."""
        from fastapi import HTTPException
        from litellm.proxy._types import ProxyException
        from litellm.proxy.auth.user_api_key_auth import user_api_key_auth
        from litellm.proxy.litellm_pre_call_utils import add_litellm_data_to_request
        from starlette.requests import Request

        route = scope["path"]
        call_type = CALL_TYPES.get(route, "acompletion")
        request = Request({**scope, "state": {}}, _replay(body))
        api_key, anthropic_key = _headers_key(scope["headers"])
        try:
            auth = await user_api_key_auth(
                request=request,
                api_key=api_key,
                azure_api_key_header=None,
                anthropic_api_key_header=anthropic_key,
                google_ai_studio_api_key_header=None,
                azure_apim_header=None,
                custom_litellm_key_header=None,
            )
            data = _json_object(body)
            if route not in CALL_TYPES:  # /v1/models, /stats, ...: no model call to limit
                return KeyCaller(auth=auth, data=data, call_type=call_type, route=route)
            data = await add_litellm_data_to_request(
                data=data,
                request=request,
                user_api_key_dict=auth,
                proxy_config=self.proxy.proxy_config,
                general_settings=self.proxy.general_settings,
                version=getattr(self.proxy, "version", None),
            )
            data = (
                await self.proxy.proxy_logging_obj.pre_call_hook(
                    user_api_key_dict=auth, data=data, call_type=call_type
                )
                or data
            )
        except ProxyException as exc:
            raise _refusal(_status(exc.code), exc.message, exc.type, exc.headers) from None
        except HTTPException as exc:
            detail = exc.detail
            message = detail.get("error", str(detail)) if isinstance(detail, dict) else str(detail)
            raise _refusal(exc.status_code, message, None, dict(exc.headers or {})) from None
        except Exception as exc:
            code = getattr(exc, "status_code", None) or getattr(exc, "code", None)
            status = _status(code) if code is not None else 401
            raise _refusal(status, str(getattr(exc, "message", exc)), None, None) from None
        return KeyCaller(auth=auth, data=data, call_type=call_type, route=route)

    def record(self, caller: KeyCaller, attempt) -> None:
        """One answered (or failed) request of a key: LiteLLM's success or failure handlers,
        run off the request path."""
        if caller.finished:
            return
        caller.finished = True
        task = asyncio.get_running_loop().create_task(self._log(caller, attempt))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _log(self, caller: KeyCaller, attempt) -> None:
        try:
            await _run_logging(self.proxy, caller, attempt)
        except Exception:
            log.exception("gateway: could not log a request of a LiteLLM key to LiteLLM")

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)


async def _run_logging(proxy, caller: KeyCaller, attempt) -> None:
    """LiteLLM's `Logging` object for the call the gateway made, as LiteLLM's Router would
    have built it, then its success or failure handler."""
    import litellm
    from litellm.litellm_core_utils.litellm_logging import Logging
    from litellm.types.utils import ModelResponse, Usage

    end = datetime.now(UTC)
    start = datetime.fromtimestamp(caller.started, UTC)
    messages = caller.data.get("messages") or caller.data.get("input") or []
    logging_obj = Logging(
        model=attempt.model,
        messages=messages if isinstance(messages, list) else [{"role": "user", "content": ""}],
        stream=bool(attempt.stream),
        call_type=caller.call_type,
        start_time=start,
        litellm_call_id=caller.data.get("litellm_call_id") or str(uuid.uuid4()),
        function_id=str(uuid.uuid4()),
    )
    metadata = dict(caller.data.get("metadata") or {})
    metadata.update(caller.data.get("litellm_metadata") or {})
    metadata.setdefault("model_group", attempt.virtual_model or attempt.model)
    metadata["gateway_request_id"] = attempt.request_id
    metadata["gateway_served_by"] = attempt.model
    litellm_params = {
        "metadata": metadata,
        "litellm_metadata": metadata,
        "proxy_server_request": caller.data.get("proxy_server_request"),
        "model_info": {
            "id": attempt.model,
            "input_cost_per_token": 0.0,
            "output_cost_per_token": 0.0,
        },
        "api_base": None,
        "litellm_call_id": logging_obj.litellm_call_id,
    }
    provider = attempt.provider
    logging_obj.update_environment_variables(
        model=attempt.model,
        user=caller.data.get("user"),
        optional_params={},
        litellm_params=litellm_params,
        custom_llm_provider=provider,
    )
    outcome = getattr(attempt.outcome, "value", attempt.outcome)
    if outcome in ANSWERED:
        prompt = attempt.input_tokens or 0
        completion = attempt.output_tokens or 0
        response = ModelResponse(
            id=f"chatcmpl-{attempt.request_id}",
            model=attempt.model,
            created=int(time.time()),
            choices=[],
            usage=Usage(
                prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion
            ),
        )
        response._hidden_params["response_cost"] = 0.0
        logging_obj.model_call_details["response_cost"] = 0.0
        await logging_obj.async_success_handler(
            result=response, start_time=start, end_time=end, cache_hit=False
        )
        await proxy.proxy_logging_obj.post_call_success_hook(
            data=caller.data, response=response, user_api_key_dict=caller.auth
        )
        return
    status = attempt.http_status or 500
    exception = litellm.exceptions.APIError(
        status_code=status,
        message=attempt.error_message or outcome,
        llm_provider=provider,
        model=attempt.model,
    )
    await logging_obj.async_failure_handler(exception, "", start, end)
    await proxy.proxy_logging_obj.post_call_failure_hook(
        request_data=caller.data, original_exception=exception, user_api_key_dict=caller.auth
    )


def _replay(body: bytes, receive=None):
    """An ASGI `receive` that hands out the already read body, then (for a streamed answer's
    disconnect watch) waits on the connection's own `receive`."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        if receive is None:
            return {"type": "http.disconnect"}
        return await receive()

    return replay


def _headers_key(headers: list[tuple[bytes, bytes]]) -> tuple[str, str | None]:
    """The key as LiteLLM's `api_key_header` (Authorization) and Anthropic's `x-api-key`."""
    authorization = anthropic = None
    for name, value in headers:
        if name == b"authorization":
            authorization = value.decode("latin-1")
        elif name in (b"x-api-key", b"api-key"):
            anthropic = value.decode("latin-1").strip()
    if authorization is None and anthropic is not None:
        authorization = f"Bearer {anthropic}"
    return authorization or "", anthropic


def _json_object(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body) if body.strip() else {}
    except orjson.JSONDecodeError:
        return {}
    return dict(data) if isinstance(data, dict) else {}


def _status(code: Any) -> int:
    try:
        status = int(code)
    except (TypeError, ValueError):
        return 401
    return status if 400 <= status < 600 else 401


def _refusal(
    status: int, message: str, kind: str | None, headers: dict[str, str] | None
) -> KeyRefused:
    code = {429: "rate_limit_exceeded", 403: "forbidden"}.get(status, "invalid_api_key")
    if "budget" in message.lower():
        code = "budget_exceeded"
    if status >= 500:  # LiteLLM's own failure while checking: the key is not accepted
        status, code = 401, "invalid_api_key"
    return KeyRefused(status, message, code, headers)


@dataclass
class _Ended:
    """How a request of a key ended without an answer, for LiteLLM's failure handlers."""

    model: str
    provider: str | None
    virtual_model: str | None
    request_id: str
    stream: bool
    outcome: str = "failure"
    http_status: int | None = None
    error_message: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None


class KeyGate:
    """The part of the gateway's key check that is LiteLLM's in database mode (see
    gateway/api/auth.py): LiteLLM's own routes do their own auth, and a key other than
    `PROXY_API_KEY` on a gateway route is checked by LiteLLM's pipeline."""

    def __init__(self, keys: LiteLLMKeys, litellm_paths, max_body_bytes: int) -> None:
        self.keys = keys
        self._litellm_paths = litellm_paths  # path -> served by LiteLLM's opened routes
        self.max_body_bytes = max_body_bytes

    @property
    def active(self) -> bool:
        return self.keys.connected

    def announce(self, master_key: str | None) -> None:
        """Say once at startup what database mode does in this process."""
        if not self.active:
            log.warning(
                "gateway: LiteLLM could not connect to its database (see its log above): "
                "its virtual keys, spend logs and admin UI login are off"
            )
            return
        log.info(
            "gateway: LiteLLM database mode: admin UI at /ui (log in with PROXY_API_KEY), "
            "LiteLLM virtual keys accepted on the gateway's routes, their requests in "
            "LiteLLM's spend logs"
        )
        if master_key is None:
            log.warning(
                "gateway: PROXY_API_KEY is not set: the gateway's routes are open to anyone, so "
                "LiteLLM's keys (with their budgets and limits) are not checked on them"
            )

    def owns(self, path: str) -> bool:
        """LiteLLM's opened routes authenticate their own callers (master key, virtual keys,
        the admin UI's session key and cookie)."""
        return self.active and self._litellm_paths(path)

    async def serve(self, scope, receive, send, app, shape) -> None:
        from gateway.api.errors import error_body

        body, complete = await _read_body(receive, self.max_body_bytes)
        if not complete:
            message = "Request body is too large."
            payload = error_body(413, message, code="request_too_large", shape=shape)
            await _send_json(send, 413, payload, {})
            return
        try:
            caller = await self.keys.authenticate(scope, body)
        except KeyRefused as refused:
            payload = error_body(refused.status, refused.message, code=refused.code, shape=shape)
            await _send_json(send, refused.status, payload, refused.headers)
            return
        model_route = scope["path"] in CALL_TYPES
        caller.keys = self.keys if model_route else None
        scope.setdefault("state", {})["litellm_caller"] = caller
        status = 200

        async def send_and_watch(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if (
                model_route
                and message["type"] == "http.response.body"
                and not message.get("more_body")
                and not caller.finished
            ):
                data = caller.data
                model = str(data.get("model") or "")
                self.keys.record(
                    caller,
                    _Ended(
                        model=model,
                        provider=None,
                        virtual_model=model or None,
                        request_id=str(data.get("litellm_call_id") or ""),
                        stream=data.get("stream") is True,
                        http_status=status if status >= 400 else 502,
                        error_message=f"the gateway answered {status}",
                    ),
                )

        await app(scope, _replay(body, receive), send_and_watch)


async def _read_body(receive, limit: int) -> tuple[bytes, bool]:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return b"", False
        chunks.append(chunk)
        if not message.get("more_body"):
            break
    return b"".join(chunks), True


async def _send_json(send, status: int, payload: dict[str, Any], headers: dict[str, str]) -> None:
    body = orjson.dumps(payload)
    raw = [(k.lower().encode("latin-1"), str(v).encode("latin-1")) for k, v in headers.items()]
    raw = [h for h in raw if h[0] not in (b"content-type", b"content-length")]
    raw += [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
