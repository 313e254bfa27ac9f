"""Google Gemini `generateContent` / `streamGenerateContent` format (v1beta REST API).

Requests are accepted in snake_case (what LiteLLM sends) and camelCase (Google's own SDKs);
responses are camelCase, as the real API sends them.
"""

from __future__ import annotations

import json
from typing import Any

from .replies import Conversation, Reply, ToolSpec, split_words
from .wire import ChatCall, JsonResponse, StreamResponse, sse

SEPARATOR = b"\r\n\r\n"  # Gemini ends SSE frames with CRLF CRLF and sends no [DONE]

_STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "UNIMPLEMENTED",
    502: "UNAVAILABLE",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def _get(obj: dict[str, Any], snake: str, camel: str) -> Any:
    value = obj.get(snake)
    return obj.get(camel) if value is None else value


class GeminiFormat:
    provider = "gemini"

    def parse(self, body: dict[str, Any], path_model: str | None, stream: bool) -> ChatCall:
        config = _get(body, "tool_config", "toolConfig") or {}
        calling = _get(config, "function_calling_config", "functionCallingConfig") or {}
        # Mode NONE (OpenAI's tool_choice "none"): the model answers in text.
        tools = [] if str(calling.get("mode", "")).upper() == "NONE" else body.get("tools")
        conversation = Conversation(tools=_tools(tools))
        texts: list[str] = []
        system = _get(body, "system_instruction", "systemInstruction")
        if isinstance(system, dict):
            texts += [_part_text(p) for p in system.get("parts") or []]
        contents = [c for c in body.get("contents") or [] if isinstance(c, dict)]
        for content in contents:
            texts += [_part_text(p) for p in content.get("parts") or []]
        conversation.prompt_chars = sum(len(text) for text in texts)
        conversation.context = "\n".join(texts)
        if contents:
            parts = [p for p in contents[-1].get("parts") or [] if isinstance(p, dict)]
            results = [r for p in parts if (r := _get(p, "function_response", "functionResponse"))]
            if results:
                conversation.last_role = "tool"
                conversation.last_text = _result_text(results[-1])
            else:
                role = contents[-1].get("role") or "user"
                conversation.last_role = "assistant" if role == "model" else str(role)
                conversation.last_text = "".join(_part_text(p) for p in parts)
                users = [c for c in contents[:-1] if (c.get("role") or "user") == "user"]
                if role == "model" and users:
                    conversation.previous_user_text = "".join(
                        _part_text(p) for p in users[-1].get("parts") or [] if isinstance(p, dict)
                    )
        model = (path_model or "").removeprefix("models/")
        # Gemini always reports usage; there is no stream_options switch.
        return ChatCall(model, conversation, stream=stream, include_usage=True)

    def answer(self, call: ChatCall, reply: Reply, *, usage: bool) -> JsonResponse | StreamResponse:
        if not call.stream:
            parts = [_call_part(reply)] if reply.tool_call else [{"text": reply.text or ""}]
            return JsonResponse(200, self._response(call, reply, parts, final=True, usage=usage))
        if reply.tool_call:
            bodies = [self._response(call, reply, [_call_part(reply)])]
        else:
            words = split_words(reply.text or "")
            bodies = [self._response(call, reply, [{"text": word}]) for word in words]
        events = [sse(body, SEPARATOR) for body in bodies]
        final = self._response(call, reply, [{"text": ""}], final=True, usage=usage)
        events.append(sse(final, SEPARATOR, content=False))
        return StreamResponse(events, separator=SEPARATOR)

    def _response(
        self,
        call: ChatCall,
        reply: Reply,
        parts: list[dict[str, Any]],
        *,
        final: bool = False,
        usage: bool = False,
    ) -> dict[str, Any]:
        candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
        if final:
            candidate["finishReason"] = "STOP"
        body: dict[str, Any] = {"candidates": [candidate]}
        if final and usage:
            body["usageMetadata"] = {
                "promptTokenCount": reply.prompt_tokens,
                "candidatesTokenCount": reply.completion_tokens,
                "totalTokenCount": reply.total_tokens,
            }
        body["modelVersion"] = call.model
        body["responseId"] = reply.id
        return body

    def error(self, status: int, model: str, *, retry_after: int | None = None) -> JsonResponse:
        """Google's error body. Real Gemini gives the retry delay in the body, not a header."""
        message = {
            400: "Request contains an invalid argument.",
            401: "API key not valid. Please pass a valid API key.",
            403: "The caller does not have permission",
            404: f"models/{model} is not found for API version v1beta, or is not supported "
            "for generateContent. Call ListModels to see the list of available models and "
            "their supported methods.",
            429: "Resource has been exhausted (e.g. check quota).",
            500: "An internal error has occurred. Please retry or report in "
            "https://developers.generativeai.google/guide/troubleshooting",
            503: "The model is overloaded. Please try again later.",
        }.get(status, f"Request failed with status {status}.")
        error: dict[str, Any] = {
            "code": status,
            "message": message,
            "status": _STATUS_NAMES.get(status, "UNKNOWN"),
        }
        if retry_after is not None:
            error["details"] = [
                {
                    "@type": "type.googleapis.com/google.rpc.RetryInfo",
                    "retryDelay": f"{retry_after}s",
                }
            ]
        return JsonResponse(status, {"error": error})

    def context_exceeded(self, call: ChatCall) -> JsonResponse:
        message = (
            "The input token count (1200000) exceeds the maximum number of tokens allowed "
            "(1048576)."
        )
        error = {"code": 400, "message": message, "status": "INVALID_ARGUMENT"}
        return JsonResponse(400, {"error": error})

    def content_blocked(self, call: ChatCall) -> JsonResponse | StreamResponse:
        """Gemini blocks a prompt with a 200: no candidates, and a `promptFeedback` reason."""
        prompt_tokens = call.conversation.prompt_chars // 4 + 1
        body = {
            "promptFeedback": {"blockReason": "SAFETY"},
            "usageMetadata": {"promptTokenCount": prompt_tokens, "totalTokenCount": prompt_tokens},
            "modelVersion": call.model,
        }
        if call.stream:
            return StreamResponse([sse(body, SEPARATOR, content=False)], separator=SEPARATOR)
        return JsonResponse(200, body)

    def model_list(self, model_ids: list[str]) -> JsonResponse:
        models = [
            {
                "name": f"models/{model_id}",
                "displayName": model_id,
                "supportedGenerationMethods": ["generateContent", "countTokens"],
            }
            for model_id in model_ids
        ]
        return JsonResponse(200, {"models": models})


def _part_text(part: Any) -> str:
    if not isinstance(part, dict):
        return ""
    if isinstance(part.get("text"), str):
        return part["text"]
    result = _get(part, "function_response", "functionResponse")
    if isinstance(result, dict):
        return _result_text(result)
    call = _get(part, "function_call", "functionCall")
    if isinstance(call, dict):
        return json.dumps(call.get("args") or {})
    return ""


def _result_text(result: dict[str, Any]) -> str:
    """A tool result's text: LiteLLM wraps a tool message as `{"content": "..."}`."""
    response = result.get("response")
    if isinstance(response, dict) and len(response) == 1:
        (value,) = response.values()
        if isinstance(value, str):
            return value
    return response if isinstance(response, str) else json.dumps(response)


def _tools(raw: Any) -> list[ToolSpec]:
    tools = []
    for tool in raw if isinstance(raw, list) else []:
        if not isinstance(tool, dict):
            continue
        for declaration in _get(tool, "function_declarations", "functionDeclarations") or []:
            if isinstance(declaration, dict) and declaration.get("name"):
                schema = declaration.get("parameters")
                if schema is None:
                    schema = _get(declaration, "parameters_json_schema", "parametersJsonSchema")
                tools.append(ToolSpec(str(declaration["name"]), schema or {}))
    return tools


def _call_part(reply: Reply) -> dict[str, Any]:
    assert reply.tool_call is not None
    return {"functionCall": {"name": reply.tool_call.name, "args": reply.tool_call.arguments}}
