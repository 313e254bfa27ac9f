"""Deterministic answers, shared by every wire format.

Each format turns its request into a `Conversation` and renders the `Reply` planned here, so
the same prompt gets the same answer from every emulated provider and tests can assert on it.
"""

from __future__ import annotations

import contextlib
import json
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Any

ECHO_MARKER = "echo:"
THINKER_MARKER = "thinker"
# Web search tools (the gateway's own, possibly renamed when a client has one, and Claude
# Code's `WebSearch`): called only when the user's turn starts with "search the web for" (or
# Claude Code's "Perform a web search for the query:"), the rest of it being the query.
SEARCH_TOOLS = frozenset({"web_search", "gateway_web_search", "WebSearch"})
# A model that searches whenever it can, to use up a request's search budget.
GREEDY_SEARCH_MARKER = "greedysearch"
SEARCH_ASK = re.compile(
    r"\s*(?:search the web for|perform a web search for the query:)\s*", re.IGNORECASE
)
# A model that never calls a tool (answers in prose even when tools are offered), and one
# that tries to call one in text but writes broken JSON: what a weak keyless model does.
PROSE_MARKER = "proser"
BROKEN_CALL_MARKER = "badtoolcall"
# g4f's tool emulation (g4f/providers/tool_support.py) describes the tools in the prompt and
# expects a JSON object back; a model that reads such a prompt answers that way.
PROMPT_TOOLS_MARKER = "You have access to the following tools."
_PROMPT_TOOL = re.compile(r"^- Tool `([^`]+)`.*$", re.MULTILINE)
_PROMPT_SCHEMA = re.compile(r"^\s+Parameter Schema: (\{.*\})\s*$", re.MULTILINE)
THOUGHT = "Let me think it over."
TOOL_RESULT_LIMIT = 200
# What agents are asked to do in the end-to-end tests: the file the emulated model writes.
FILE_NAME = "hello.txt"
FILE_CONTENT = "hi"
# Shell tools the model uses to write the file when no file-writing tool is offered (Codex's
# `exec_command`, older Codex's `shell`, Gemini CLI's `run_shell_command`), any case.
SHELL_TOOLS = frozenset({"exec_command", "shell", "bash", "run_shell_command"})
_SHELL_COMMAND_KEYS = ("cmd", "command")
# Where agents state their working directory: Claude Code's system prompt
# ("Primary working directory: /path"), Codex's `<environment_context>` ("<cwd>/path</cwd>").
_WORKDIR_PATTERNS = (
    re.compile(r"<cwd>\s*([^<\n]+?)\s*</cwd>"),
    re.compile(r"working directory:\s*(/\S+)", re.IGNORECASE),
)


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the client offered: its name and JSON-schema parameters."""

    name: str
    parameters: dict[str, Any]


@dataclass(slots=True)
class Conversation:
    """The provider-neutral view of a chat request: only what the reply logic needs."""

    last_role: str = ""  # "user", "tool", "assistant" or "system"
    last_text: str = ""
    # The last user turn before a trailing assistant message (an assistant *prefill*): the
    # emulated model continues the answer it would have given to that turn.
    previous_user_text: str = ""
    prompt_chars: int = 0
    tools: list[ToolSpec] = field(default_factory=list)
    # The text of the system prompt and every message, where agents state their working
    # directory (an absolute file path for Claude Code's `Write`, a workdir for shell tools).
    context: str = ""
    # Each text block of every user message, in order (an agent's prompt may sit between
    # reminders it adds).
    user_blocks: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]

    @property
    def arguments_json(self) -> str:
        return json.dumps(self.arguments, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Reply:
    """What the emulated model answers: text or one tool call, with token counts."""

    id: str
    text: str | None
    tool_call: ToolCall | None
    prompt_tokens: int
    completion_tokens: int

    @property
    def finish_reason(self) -> str:
        return "tool_calls" if self.tool_call else "stop"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


def plan_reply(provider: str, model: str, conversation: Conversation, serial: int) -> Reply:
    """Decide the answer; `serial` makes the response and tool-call ids unique."""
    prompt_tokens = conversation.prompt_chars // 4 + 1
    reply_id = f"emu-{serial}"
    if PROSE_MARKER in model.lower():
        text = f"I would rather just say hello from {provider}:{model}."
        return Reply(reply_id, text, None, prompt_tokens, len(text.split()))
    if not conversation.tools and PROMPT_TOOLS_MARKER in conversation.context:
        text = _prompt_tool_answer(model, conversation)
        return Reply(reply_id, text, None, prompt_tokens, max(1, len(text) // 4))
    if deferred := _deferred_search_call(conversation):
        call = ToolCall(f"call_{serial}", *deferred)
        return Reply(reply_id, None, call, prompt_tokens, 5)
    tools = conversation.tools
    search_tool = next((t for t in tools if t.name in SEARCH_TOOLS), None)
    if search_tool is not None and GREEDY_SEARCH_MARKER in model.lower():
        call = ToolCall(f"call_{serial}", search_tool.name, {"query": f"greedy {serial}"})
        return Reply(reply_id, None, call, prompt_tokens, 5)
    if tools and conversation.last_role == "user" and not _asks_to_search(conversation):
        # A search tool is used only when asked to (agents offer one with every request).
        conversation.tools = [t for t in tools if t.name not in SEARCH_TOOLS]
    if conversation.tools and conversation.last_role == "user":
        name, arguments = tool_call_for(conversation)
        call = ToolCall(f"call_{serial}", name, arguments)
        tokens = (len(call.name) + len(call.arguments_json)) // 4 + 1
        return Reply(reply_id, None, call, prompt_tokens, tokens)
    text = reply_text(provider, model, conversation)
    return Reply(reply_id, text, None, prompt_tokens, max(1, len(text.split())))


def _prompt_tool_answer(model: str, conversation: Conversation) -> str:
    """The answer to tools described in the prompt: a JSON tool call, or, once the last turn
    is a tool's result (g4f writes it as `[Tool response...]`), a sentence about it."""
    last_turn = conversation.context.rsplit("[User]", 1)[-1].strip()
    if last_turn.startswith("[Tool response"):
        result = last_turn.split("]", 1)[1].strip()
        return f"Done: {result}"[:TOOL_RESULT_LIMIT]
    tools: list[ToolSpec] = []
    for line in conversation.context.splitlines():
        if match := _PROMPT_TOOL.match(line):
            tools.append(ToolSpec(match.group(1), {}))
        elif tools and (match := _PROMPT_SCHEMA.match(line)):
            with contextlib.suppress(ValueError):
                tools[-1] = ToolSpec(tools[-1].name, json.loads(match.group(1)))
    if not tools:
        return "I see no tools."
    if BROKEN_CALL_MARKER in model.lower():
        return '{"tool_calls": [{"name": "' + tools[0].name + '", "arguments": {"filePath": '
    name, arguments = tool_call_for(Conversation(tools=tools, context=conversation.context))
    return json.dumps({"tool_calls": [{"name": name, "arguments": arguments}]})


# A search already made in this conversation: the gateway's results or Claude Code's.
_SEARCHED = re.compile(r'Web search (?:results )?for (?:query: )?"')


def _deferred_search_call(conversation: Conversation) -> tuple[str, dict[str, Any]] | None:
    """Claude Code's WebSearch is a deferred tool (only named in a reminder): a model asked to
    search loads it with `ToolSearch` ("select:WebSearch"), calls it once it is offered, and
    answers from its results after that."""
    names = {tool.name for tool in conversation.tools}
    if not names & {"ToolSearch", "WebSearch"} or _SEARCHED.search(conversation.context):
        return None
    query = next(
        (
            _search_query(text)
            for text in reversed(conversation.user_blocks)
            if SEARCH_ASK.match(text)
        ),
        None,
    )
    if query is None:
        return None
    if "WebSearch" in names:
        return "WebSearch", {"query": query}
    if "WebSearch" in conversation.context:
        return "ToolSearch", {"query": "select:WebSearch", "max_results": 1}
    return None


def _asks_to_search(conversation: Conversation) -> bool:
    return bool(SEARCH_ASK.match(conversation.last_text))


def _search_query(text: str) -> str:
    match = SEARCH_ASK.match(text)
    return (text[match.end() :] if match else text).strip() or text.strip()


def tool_call_for(conversation: Conversation) -> tuple[str, dict[str, Any]]:
    """The tool the model calls, and its arguments: what agent tests assert on is a file
    written. In order: OpenCode's `write` (relative `filePath`, as ever), another tool named
    `write` in any case (Claude Code's `Write`: an absolute `file_path` in the working
    directory), a shell tool running a command that writes the file (Codex's `exec_command`),
    else the first tool offered, with sample arguments."""
    tools = conversation.tools
    if _asks_to_search(conversation) and (
        tool := next((t for t in tools if t.name in SEARCH_TOOLS), None)
    ):
        return tool.name, {"query": _search_query(conversation.last_text)}
    if tool := next((t for t in tools if t.name == "write"), None):
        return tool.name, fill_arguments(tool.parameters)
    workdir = working_directory(conversation.context)
    if tool := next((t for t in tools if t.name.lower() == "write"), None):
        return tool.name, _write_arguments(tool.parameters, workdir)
    for tool in tools:
        if tool.name.lower() in SHELL_TOOLS and (arguments := _shell_arguments(tool, workdir)):
            return tool.name, arguments
    return tools[0].name, fill_arguments(tools[0].parameters)


def working_directory(text: str) -> str | None:
    """The working directory an agent stated in its prompt, if it did."""
    for pattern in _WORKDIR_PATTERNS:
        if match := pattern.search(text):
            return match.group(1)
    return None


def _write_arguments(schema: dict[str, Any], workdir: str | None) -> dict[str, Any]:
    arguments = fill_arguments(schema)
    if workdir:
        for name, value in arguments.items():
            if value == FILE_NAME:
                arguments[name] = posixpath.join(workdir, FILE_NAME)
    return arguments


def _shell_arguments(tool: ToolSpec, workdir: str | None) -> dict[str, Any] | None:
    """Arguments running `printf hi > hello.txt` in the working directory, or None when the
    tool takes no command (`cmd` or `command`, a string or an argv array)."""
    properties = (tool.parameters or {}).get("properties") or {}
    key = next((k for k in _SHELL_COMMAND_KEYS if k in properties), None)
    if key is None:
        return None
    command = f"printf {FILE_CONTENT} > {FILE_NAME}"
    arguments = fill_arguments(tool.parameters)
    if workdir and "workdir" in properties:
        arguments["workdir"] = workdir
    elif workdir:
        command = f"cd {shlex.quote(workdir)} && {command}"
    prop = properties[key] if isinstance(properties[key], dict) else {}
    kind = prop.get("type", "string")
    is_array = "array" in kind if isinstance(kind, list) else str(kind).lower() == "array"
    arguments[key] = ["bash", "-lc", command] if is_array else command
    return arguments


def reasoning_text(model: str) -> str | None:
    """What a reasoning model (its name contains "thinker") thinks before it answers."""
    return THOUGHT if THINKER_MARKER in model.lower() else None


_URL = re.compile(r"https?://[^\s)\]]+")
GROUNDED_MARKER = "Web search results for"


def reply_text(provider: str, model: str, conversation: Conversation) -> str:
    """The answer; after web search results (in a tool result or the prompt) it cites the
    first result's URL, as a grounded model would."""
    text = _plain_reply(provider, model, conversation)
    marker = conversation.context.rfind(GROUNDED_MARKER)
    url = _URL.search(conversation.context, marker) if marker >= 0 else None
    if url and url.group(0) not in text:
        text = f"{text} Source: {url.group(0)}"
    return text


def _plain_reply(provider: str, model: str, conversation: Conversation) -> str:
    if conversation.last_role == "assistant":
        return continuation(provider, model, conversation)
    if conversation.last_role == "tool":
        return f"Done: {conversation.last_text}"[:TOOL_RESULT_LIMIT]
    if conversation.last_role == "user" and ECHO_MARKER in conversation.last_text:
        return conversation.last_text.split(ECHO_MARKER, 1)[1].strip()
    return f"Hello from {provider}:{model}."


def continuation(provider: str, model: str, conversation: Conversation) -> str:
    """The rest of the answer after the assistant prefill, as a model honouring prefill would."""
    turn = Conversation(
        last_role="user",
        last_text=conversation.previous_user_text,
        context=conversation.context,
    )
    full = reply_text(provider, model, turn)
    prefix = conversation.last_text
    return full[len(prefix) :] if prefix and full.startswith(prefix) else full


def fill_arguments(schema: dict[str, Any] | None) -> dict[str, Any]:
    """Arguments satisfying the required properties, with values a file tool would accept."""
    if not isinstance(schema, dict):
        return {}
    properties = schema.get("properties") or {}
    arguments: dict[str, Any] = {}
    for name in schema.get("required") or []:
        prop = properties.get(name)
        arguments[name] = _sample_value(name, prop if isinstance(prop, dict) else {})
    return arguments


_SAMPLES_BY_TYPE: dict[str, Any] = {
    "integer": 1,
    "number": 1,
    "boolean": True,
    "array": [],
    "object": {},
}


def _sample_value(name: str, prop: dict[str, Any]) -> Any:
    kind = prop.get("type", "string")
    if isinstance(kind, list):  # e.g. ["string", "null"]
        kind = next((k for k in kind if k != "null"), "string")
    kind = str(kind).lower()  # Gemini schemas may say "STRING"
    if kind != "string":
        sample = _SAMPLES_BY_TYPE.get(kind, "x")
        return sample.copy() if isinstance(sample, list | dict) else sample
    lowered = name.lower()
    if "path" in lowered or "file" in lowered:
        return FILE_NAME
    if "content" in lowered or "text" in lowered:
        return FILE_CONTENT
    return "x"


def content_text(content: Any) -> str:
    """Text of a message content given as a string or as a list of parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(content_text(part) for part in content)
    if isinstance(content, dict):
        if isinstance(content.get("text"), str):
            return content["text"]
        return ""
    return str(content)


def split_words(text: str) -> list[str]:
    """Stream pieces: one word per piece, each keeping its trailing space."""
    words = text.split(" ")
    pieces = [word + " " for word in words[:-1]] + [words[-1]]
    return [piece for piece in pieces if piece] or [""]


def split_fragments(text: str, count: int = 3) -> list[str]:
    """Cut a tool-call argument string into `count` (or fewer) non-empty fragments."""
    if len(text) <= count:
        return [text] if text else [""]
    step = -(-len(text) // count)
    return [text[i : i + step] for i in range(0, len(text), step)]
