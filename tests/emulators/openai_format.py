"""OpenAI chat-completions format, as spoken by Groq, GitHub Models, Cloudflare and others.

Success bodies are the same for all of them (Groq adds `service_tier` and `x_groq`); the
error bodies differ per provider, and gateways see those differences, so each is kept.
"""

from __future__ import annotations

import time
from typing import Any

from .replies import (
    Conversation,
    Reply,
    ToolSpec,
    content_text,
    reasoning_text,
    split_fragments,
    split_words,
)
from .wire import ChatCall, Event, JsonResponse, StreamResponse, sse

DONE = Event(b"data: [DONE]\n\n", content=False, terminator=True)


class OpenAIFormat:
    """One provider speaking the OpenAI format; `provider` picks its quirks and errors."""

    def __init__(self, provider: str) -> None:
        self.provider = provider
        self._errors = _errors_for(provider)

    def parse(self, body: dict[str, Any], path_model: str | None, stream: bool) -> ChatCall:
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        texts = [content_text(m.get("content")) for m in messages]
        conversation = Conversation(
            prompt_chars=sum(len(text) for text in texts),
            # With tool_choice "none" a model answers in text, as if it had no tools.
            tools=[] if body.get("tool_choice") == "none" else _tools(body.get("tools")),
            context="\n".join(texts),
            user_blocks=[
                content_text(block)
                for m in messages
                if m.get("role") == "user"
                for block in (
                    m["content"] if isinstance(m.get("content"), list) else [m.get("content")]
                )
            ],
        )
        if messages:
            role = str(messages[-1].get("role") or "")
            conversation.last_role = "tool" if role == "function" else role
            conversation.last_text = content_text(messages[-1].get("content"))
            users = [m for m in messages[:-1] if m.get("role") == "user"]
            if role == "assistant" and users:
                conversation.previous_user_text = content_text(users[-1].get("content"))
        stream_options = body.get("stream_options")
        return ChatCall(
            model=str(body.get("model") or ""),
            conversation=conversation,
            stream=bool(body.get("stream")),
            include_usage=isinstance(stream_options, dict)
            and bool(stream_options.get("include_usage")),
            rejection=_strict_rejection(messages, bool(body.get("tools"))),
        )

    def answer(self, call: ChatCall, reply: Reply, *, usage: bool) -> JsonResponse | StreamResponse:
        if call.stream:
            return StreamResponse(self._stream_events(call, reply, usage))
        message: dict[str, Any] = {"role": "assistant", "content": reply.text}
        if thought := self._reasoning(call):
            message["reasoning_content"] = thought
        if reply.tool_call:
            message["tool_calls"] = [_tool_call(reply)]
        body: dict[str, Any] = {
            "id": f"chatcmpl-{reply.id}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": call.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": reply.finish_reason,
                }
            ],
        }
        if usage:
            body["usage"] = self._usage(reply)
        if self.provider == "groq":
            # LiteLLM's Groq adapter crashes on a response without service_tier.
            body["service_tier"] = "on_demand"
            body["x_groq"] = {"id": f"req_{reply.id}"}
        return JsonResponse(200, body)

    def _stream_events(self, call: ChatCall, reply: Reply, usage: bool) -> list[Event]:
        base = {
            "id": f"chatcmpl-{reply.id}",
            "object": "chat.completion.chunk",
            "created": int(time.time()),
            "model": call.model,
        }

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
            return {**base, "choices": [choice]}

        if reply.tool_call:
            opening = {**_tool_call(reply), "index": 0}
            opening["function"] = {"name": reply.tool_call.name, "arguments": ""}
            deltas = [{"role": "assistant", "content": None, "tool_calls": [opening]}]
            deltas += [
                {"tool_calls": [{"index": 0, "function": {"arguments": fragment}}]}
                for fragment in split_fragments(reply.tool_call.arguments_json)
            ]
        else:
            words = split_words(reply.text or "")
            deltas = [{"role": "assistant", "content": words[0]}]
            deltas += [{"content": word} for word in words[1:]]

        if thought := self._reasoning(call):
            deltas[0].pop("role", None)
            thinking = [{"reasoning_content": word} for word in split_words(thought)]
            deltas = [{"role": "assistant", **thinking[0]}, *thinking[1:], *deltas]
        chunks = [chunk(delta) for delta in deltas]
        last = chunk({}, reply.finish_reason)
        if self.provider == "groq":
            # Real Groq tags the first chunk with its request id and always reports usage
            # in `x_groq` on the last one, whatever stream_options said.
            chunks[0]["x_groq"] = {"id": f"req_{reply.id}"}
            last["x_groq"] = {"id": f"req_{reply.id}"}
            if usage:
                last["x_groq"]["usage"] = self._usage(reply)
        events = [sse(c) for c in chunks]
        events.append(sse(last, content=False))
        if usage and call.include_usage:
            events.append(sse({**base, "choices": [], "usage": self._usage(reply)}, content=False))
        events.append(DONE)
        return events

    def _reasoning(self, call: ChatCall) -> str | None:
        # Generic OpenAI-compatible servers (DeepSeek, vLLM, llama.cpp) stream the model's
        # thinking as `reasoning_content`, before the answer.
        return reasoning_text(call.model) if self.provider == "openai" else None

    def _usage(self, reply: Reply) -> dict[str, Any]:
        usage: dict[str, Any] = {
            "prompt_tokens": reply.prompt_tokens,
            "completion_tokens": reply.completion_tokens,
            "total_tokens": reply.total_tokens,
        }
        if self.provider == "groq":
            usage |= {"queue_time": 0.0, "prompt_time": 0.0, "completion_time": 0.0}
            usage["total_time"] = 0.0
        return usage

    def error(self, status: int, model: str, *, retry_after: int | None = None) -> JsonResponse:
        response = self._errors.status(status, model, retry_after)
        if retry_after is not None:
            response.headers.append(("Retry-After", str(retry_after)))
        return response

    def context_exceeded(self, call: ChatCall) -> JsonResponse:
        return self._errors.context(call.model)

    def content_blocked(self, call: ChatCall) -> JsonResponse:
        return self._errors.policy(call.model)

    def model_list(self, model_ids: list[str]) -> JsonResponse:
        data = [
            {"id": model_id, "object": "model", "created": 0, "owned_by": self.provider}
            for model_id in model_ids
        ]
        return JsonResponse(200, {"object": "list", "data": data})


def _strict_rejection(messages: list[dict[str, Any]], has_tools: bool) -> str | None:
    """What strict OpenAI-style upstreams refuse: fields of other vendors' messages, and a
    tool-call history without the tools it used (seen after an agent compacts its context)."""
    for index, message in enumerate(messages):
        if "reasoning_content" in message:
            return f"'messages.{index}': property 'reasoning_content' is unsupported"
        if not has_tools and (message.get("tool_calls") or message.get("role") == "tool"):
            return f"'messages.{index}': tool calls require 'tools' to be defined"
    return None


def _tools(raw: Any) -> list[ToolSpec]:
    tools = []
    for tool in raw if isinstance(raw, list) else []:
        function = tool.get("function") if isinstance(tool, dict) else None
        if isinstance(function, dict) and function.get("name"):
            tools.append(ToolSpec(str(function["name"]), function.get("parameters") or {}))
    return tools


def _tool_call(reply: Reply) -> dict[str, Any]:
    assert reply.tool_call is not None
    call = reply.tool_call
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": call.arguments_json},
    }


# --- Error bodies -------------------------------------------------------------------------

_CONTEXT_MESSAGE = (
    "This model's maximum context length is 8192 tokens. However, your messages resulted in "
    "9000 tokens. Please reduce the length of the messages."
)


def _generic_message(status: int) -> str:
    if status >= 500:
        return "The server had an error while processing your request. Sorry about that!"
    return f"Request failed with status {status}."


class _OpenAIErrors:
    """OpenAI's (and Groq's) `{"error": {message, type, param, code}}`."""

    def __init__(self, provider: str) -> None:
        self.provider = provider

    def status(self, status: int, model: str, retry_after: int | None) -> JsonResponse:
        wait = f"{retry_after}s" if retry_after is not None else "a few seconds"
        fallback = ("server_error" if status >= 500 else "invalid_request_error", None)
        kind, code = {
            401: ("invalid_request_error", "invalid_api_key"),
            403: ("permission_error", "permission_denied"),
            404: ("invalid_request_error", "model_not_found"),
            429: ("tokens", "rate_limit_exceeded"),
        }.get(status, fallback)
        message = {
            400: "We could not parse the JSON body of your request.",
            401: self._unauthorized_message(),
            403: "You are not allowed to use this model.",
            404: f"The model `{model}` does not exist or you do not have access to it.",
            429: f"Rate limit reached for model `{model}` in organization `org_emulator` on "
            f"requests per minute (RPM): Limit 30, Used 30, Requested 1. "
            f"Please try again in {wait}.",
            502: "Bad gateway.",
            503: "The server is overloaded or not ready yet.",
        }.get(status) or _generic_message(status)
        return self._body(status, message, kind, code)

    def context(self, model: str) -> JsonResponse:
        return self._body(
            400, _CONTEXT_MESSAGE, "invalid_request_error", "context_length_exceeded", "messages"
        )

    def policy(self, model: str) -> JsonResponse:
        message = (
            "Your request was rejected as a result of our safety system. Your prompt may "
            "contain text that is not allowed by our content management policy."
        )
        return self._body(400, message, "invalid_request_error", "content_policy_violation")

    def _unauthorized_message(self) -> str:
        # The wording matters: LiteLLM maps a 401 whose body says "invalid_request_error" to
        # BadRequestError unless the message is OpenAI's "Incorrect API key provided".
        if self.provider == "groq":
            return "Invalid API Key"
        return (
            "Incorrect API key provided: sk-***. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )

    @staticmethod
    def _body(
        status: int, message: str, kind: str, code: str | None, param: str | None = None
    ) -> JsonResponse:
        error = {"message": message, "type": kind, "param": param, "code": code}
        return JsonResponse(status, {"error": error})


class _GitHubErrors:
    """GitHub Models answers in the Azure AI style: `{"error": {code, message, details}}`."""

    def status(self, status: int, model: str, retry_after: int | None) -> JsonResponse:
        wait = retry_after if retry_after is not None else 60
        code, message = {
            401: ("unauthorized", "Bad credentials"),
            403: ("no_access", f"No access to model: {model}"),
            404: ("unknown_model", f"Unknown model: {model}"),
            429: (
                "RateLimitReached",
                "Rate limit of 15 per 60s exceeded for UserByModelByMinute. "
                f"Please wait {wait} seconds before retrying.",
            ),
        }.get(status, ("internal_error" if status >= 500 else "bad_request", ""))
        message = message or _generic_message(status)
        error = {"code": code, "message": message, "details": message}
        return JsonResponse(status, {"error": error})

    def context(self, model: str) -> JsonResponse:
        # The real service answers 413, not 400, with this wording.
        message = f"Request body too large for {model} model. Max size: 8000 tokens."
        error = {"code": "tokens_limit_reached", "message": message, "details": message}
        return JsonResponse(413, {"error": error})

    def policy(self, model: str) -> JsonResponse:
        error = {
            "code": "content_filter",
            "message": "The response was filtered due to the prompt triggering Azure OpenAI's "
            "content management policy. Please modify your prompt and retry.",
            "param": "prompt",
            "type": None,
            "status": 400,
            "innererror": {"code": "ResponsibleAIPolicyViolation"},
        }
        return JsonResponse(400, {"error": error})


class _CloudflareErrors:
    """Cloudflare's v4 envelope. The numeric codes are representative, not exhaustive."""

    def status(self, status: int, model: str, retry_after: int | None) -> JsonResponse:
        code, message = {
            400: (5006, "AiError: Bad input: error: invalid request."),
            401: (10000, "Authentication error"),
            403: (10000, "Authentication error"),
            404: (5007, f"No such model {model} or task"),
            429: (3040, "Capacity temporarily exceeded, please try again."),
            500: (3043, "Internal server error"),
            502: (7009, "Upstream service unavailable"),
            503: (7009, "Upstream service unavailable"),
        }.get(status, (7000, _generic_message(status)))
        return self._envelope(status, code, message)

    def context(self, model: str) -> JsonResponse:
        return self._envelope(400, 5021, "AiError: " + _CONTEXT_MESSAGE)

    def policy(self, model: str) -> JsonResponse:
        return self._envelope(400, 3030, "AiError: Input rejected by the model's content policy.")

    @staticmethod
    def _envelope(status: int, code: int, message: str) -> JsonResponse:
        body = {
            "success": False,
            "errors": [{"code": code, "message": message}],
            "messages": [],
            "result": None,
        }
        return JsonResponse(status, body)


def _errors_for(provider: str) -> _OpenAIErrors | _GitHubErrors | _CloudflareErrors:
    if provider == "github":
        return _GitHubErrors()
    if provider == "cloudflare":
        return _CloudflareErrors()
    return _OpenAIErrors(provider)
