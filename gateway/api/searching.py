"""Answers grounded in web search, for every API shape: the search plan a request asks for,
the searches themselves (through the `web-search` chain: its providers, quotas, cooldowns and
telemetry), and the answer loop that runs the model's `web_search` calls.

Every API's edge asks `whole_answer` or `streamed_answer` for its answer: the chain's own
without a search plan, else through `Grounded`, which stands between the edge and
`complete_chat` / `stream_chat`. Before the answer it may search once (`:online`,
`web_search_options`, the `web` plugin) and put the results in the prompt; with a search
tool it offers the model a `web_search` function, and whenever the model calls it, runs the
search, adds the results as the call's result and asks the model again, within the
request's search budget. In a stream, the model's own text and the
client's tool calls pass through as they come; only the search calls are held back, and each
search appears as a `{"gateway_search": SearchRun}` chunk the Responses and Messages
renderers turn into their own items (chat drops it and cites the results instead). A failed
search never fails the request: the model is told the search failed and answers without it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request

from gateway.adapt import adapt_messages
from gateway.api.common import new_journal, run_chain
from gateway.api.errors import APIError
from gateway.api.serve import complete_chat, stream_chat
from gateway.catalog import Chain, Deployment
from gateway.routing.chain import Served
from gateway.routing.failures import FailureKind, UpstreamFailure
from gateway.routing.streaming import StreamInterrupted, StreamSession
from gateway.routing.tool_calls import merge_fragments
from gateway.search import web_search
from gateway.search.grounding import (
    CONTEXT_SIZES,
    DEFAULT_RESULTS,
    DEFAULT_SEARCHES,
    MAX_RESULTS,
    MAX_SEARCHES,
    SEARCH_MARKER,
    Filters,
    SearchRun,
    bounded,
    citations,
    clip_query,
    function_name_for,
    query_from,
    results_text,
    search_function,
    with_grounding,
)
from gateway.state import GatewayState
from gateway.telemetry.journal import AttemptJournal

ONLINE_SUFFIX = ":online"


@dataclass(frozen=True)
class SearchPlan:
    """What a request asked of web search."""

    before: bool = False  # search once before answering
    tool: bool = False  # let the model search, as often as `max_searches` allows
    max_results: int = DEFAULT_RESULTS
    max_searches: int = DEFAULT_SEARCHES
    filters: Filters = field(default_factory=Filters)
    instructions: str | None = None  # the `web` plugin's own search prompt
    forced: bool = False  # the request's `tool_choice` picks the search: the first turn searches


# -- what each API asks for --------------------------------------------------------------


def take_online_suffix(body: dict[str, Any]) -> bool:
    """`model:online` (OpenRouter's convention) asks for a search before the answer; the
    suffix is removed so the model itself resolves as usual."""
    model = body.get("model")
    if isinstance(model, str) and model.endswith(ONLINE_SUFFIX) and len(model) > 7:
        body["model"] = model[: -len(ONLINE_SUFFIX)]
        return True
    return False


def chat_plan(body: dict[str, Any], online: bool) -> SearchPlan | None:
    """Chat completions: `:online`, OpenAI's `web_search_options`, OpenRouter's `web`
    plugin. Each searches once, before the answer."""
    options = body.get("web_search_options")
    plugins = body.get("plugins")
    web = (
        next(
            (p for p in plugins if isinstance(p, dict) and p.get("id") == "web"),
            None,
        )
        if isinstance(plugins, list)
        else None
    )
    if not (online or isinstance(options, dict) or web is not None):
        return None
    results = DEFAULT_RESULTS
    if isinstance(options, dict):
        results = CONTEXT_SIZES.get(str(options.get("search_context_size")), results)
    instructions = None
    if web is not None:
        results = _count(web.get("max_results"), results, MAX_RESULTS, "plugins[web].max_results")
        if isinstance(web.get("search_prompt"), str) and web["search_prompt"].strip():
            instructions = web["search_prompt"].strip()
    return SearchPlan(before=True, max_results=results, instructions=instructions)


def responses_plan(body: dict[str, Any], online: bool) -> SearchPlan | None:
    """The Responses API's `web_search` (and `web_search_preview`) tools, which are taken out
    of `tools`: the gateway runs them."""
    tools = body.get("tools")
    found = [
        t
        for t in tools or ()
        if isinstance(t, dict) and str(t.get("type", "")).startswith("web_search")
    ]
    if found and isinstance(tools, list):
        body["tools"] = [t for t in tools if t not in found]
        if not body["tools"]:
            body.pop("tools")
            if body.get("tool_choice") in ("auto", "required"):
                body.pop("tool_choice")
    if not found:
        return SearchPlan(before=True) if online else None
    choice = body.get("tool_choice")
    forced = isinstance(choice, dict) and str(choice.get("type", "")).startswith("web_search")
    if forced:
        body.pop("tool_choice")  # the answer loop asks for the search function instead
    tool = found[0]
    results = CONTEXT_SIZES.get(str(tool.get("search_context_size")), DEFAULT_RESULTS)
    filters = tool.get("filters") if isinstance(tool.get("filters"), dict) else {}
    return SearchPlan(
        before=online,
        tool=True,
        max_results=results,
        filters=Filters(allowed=_domains(filters.get("allowed_domains"))),
        forced=forced,
    )


def messages_plan(tools: list[dict[str, Any]], online: bool) -> SearchPlan | None:
    """Anthropic's `web_search_20250305` server tool: `max_uses`, `allowed_domains`,
    `blocked_domains`."""
    if not tools:
        return SearchPlan(before=True) if online else None
    tool = tools[0]
    uses = _count(
        tool.get("max_uses"), DEFAULT_SEARCHES, MAX_SEARCHES, "tools[web_search].max_uses"
    )
    return SearchPlan(
        before=online,
        tool=True,
        max_searches=uses,
        filters=Filters(
            allowed=_domains(tool.get("allowed_domains")),
            blocked=_domains(tool.get("blocked_domains")),
        ),
    )


def _count(value: Any, default: int, limit: int, param: str) -> int:
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise APIError(400, f"'{param}' must be a positive integer.", param=param)
    return min(value, limit)


def _domains(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(str(domain) for domain in value if isinstance(domain, str) and domain)


# -- one search -----------------------------------------------------------------------------


async def run_search(
    state: GatewayState, request: Request, query: str, plan: SearchPlan
) -> SearchRun:
    """Search through the `web-search` chain; a failure is a run with an error, not raised."""
    chain = state.catalog.search
    if not query:
        return SearchRun(query, error="nothing to search for", error_code="invalid_input")
    if chain is None:
        return SearchRun(query, error="web search is not configured", error_code="unavailable")
    journal = new_journal(state, request, chain, stream=False)
    # A few more than needed, so domain filters still leave enough.
    wanted = min(MAX_RESULTS, plan.max_results * (2 if plan.filters != Filters() else 1))

    async def attempt(deployment: Deployment) -> list[dict[str, Any]]:
        return await web_search(deployment, query, wanted)

    try:
        served = await run_chain(state, chain, attempt, journal)
    except APIError as exc:
        reason = "every search provider is unavailable" if exc.status >= 429 else exc.message
        return SearchRun(query, error=reason[:300], error_code="unavailable")
    journal.succeeded(served.deployment, served.started)
    results = bounded(served.result, plan.max_results, plan.filters)
    return SearchRun(query, results=results, served_by=served.deployment.id)


# -- the answer loop --------------------------------------------------------------------------


class Grounded:
    """One request's answer with web search, whole (`complete`) or streamed (`start` then
    `chunks`)."""

    def __init__(
        self,
        state: GatewayState,
        request: Request,
        chain: Chain,
        messages: list[dict[str, Any]],
        params: dict[str, Any],
        journal: AttemptJournal,
        plan: SearchPlan,
    ) -> None:
        self.state = state
        self.request = request
        self.chain = chain
        self.messages = messages
        self.params = params
        self.journal = journal
        self.plan = plan
        self.runs: list[SearchRun] = []
        self.function = function_name_for(params.get("tools"))
        self._searches_left = plan.max_searches if plan.tool else 0
        self._session: StreamSession | None = None
        self._served: Served[Any] | None = None
        self._usage: dict[str, int] = {}

    # -- whole answers ---------------------------------------------------------------------

    async def complete(self) -> tuple[dict[str, Any], Served[Any]]:
        """The final answer; the text the model wrote before its searches comes first."""
        await self._search_before()
        texts: list[str] = []
        while True:
            completion, served = await complete_chat(
                self.state, self.chain, self._turn_messages(), self._turn_params(), self.journal
            )
            self._add_usage(completion.get("usage"))
            choice = completion["choices"][0]
            message = choice.get("message") or {}
            calls = message.get("tool_calls") or []
            mine = [c for c in calls if _name(c) == self.function]
            if not mine:
                break
            others = [c for c in calls if _name(c) != self.function]
            text = message.get("content") or ""
            texts.append(text)
            await self._run_calls(mine, text)
            message["tool_calls"] = others or None
            if others:
                message["content"] = None
                break  # the client runs its own tools first
        message["content"] = "".join(texts) + (message.get("content") or "") or None
        if not message.get("tool_calls"):
            message.pop("tool_calls", None)
            if choice.get("finish_reason") == "tool_calls":
                choice["finish_reason"] = "stop"
            if message["content"] is None:
                message["content"] = ""
        completion["usage"] = dict(self._usage) or completion.get("usage")
        if cited := citations(message.get("content") or "", self.runs):
            message["annotations"] = [
                {"type": "url_citation", "url_citation": citation} for citation in cited
            ]
        return completion, served

    # -- streamed answers -------------------------------------------------------------------

    async def start(self) -> Served[Any]:
        """Search first if asked, then open the first turn's stream (its errors are the
        request's HTTP errors, as for any stream)."""
        await self._search_before()
        self._session, served = await stream_chat(
            self.state,
            self.chain,
            self._turn_messages(),
            self._turn_params(),
            include_usage=True,
            journal=self.journal,
        )
        self._served = served
        return served

    async def chunks(self, include_usage: bool = True) -> AsyncIterator[dict[str, Any]]:
        """The answer's chunks across every turn, with a `gateway_search` chunk per search and
        one usage chunk (every turn's usage added up) at the end."""
        for run in self.runs:
            yield {SEARCH_MARKER: run}
        session = self._session
        assert session is not None, "start() first"
        while True:
            mine: dict[int, dict[str, Any]] = {}
            mine_indexes: set[int] = set()
            others = False
            text: list[str] = []
            held: dict[str, Any] | None = None
            async for chunk in session.chunks():
                if chunk.get("usage"):
                    self._add_usage(chunk["usage"])
                    if not chunk.get("choices"):
                        continue
                    chunk = {k: v for k, v in chunk.items() if k != "usage"}
                passed, finish, theirs = self._split(chunk, mine, mine_indexes, text)
                others = others or theirs
                if finish is not None:
                    held = finish
                if passed is not None:
                    yield passed
            if not mine:
                if held is not None:
                    yield held
                break
            calls = [mine[i] for i in sorted(mine)]
            for run in await self._run_calls(calls, "".join(text)):
                yield {SEARCH_MARKER: run}
            if others:
                if held is not None:
                    yield held  # the client runs its own tools first
                break
            session = await self._next_turn()
        if include_usage and self._usage:
            yield {"choices": [], "usage": dict(self._usage)}

    def _split(
        self,
        chunk: dict[str, Any],
        mine: dict[int, dict[str, Any]],
        mine_indexes: set[int],
        text: list[str],
    ) -> tuple[dict[str, Any] | None, dict[str, Any] | None, bool]:
        """(what passes on now, a held finish chunk, whether the client's tools were called):
        the model's search calls are taken out of the chunk."""
        choices = chunk.get("choices") or []
        if not choices:
            return chunk, None, False
        choice = choices[0]
        delta = choice.get("delta") or {}
        if delta.get("content"):
            text.append(delta["content"])
        theirs = False
        fragments = delta.get("tool_calls")
        if fragments:
            kept = []
            for position, fragment in enumerate(fragments):
                index = fragment.get("index", position)
                name = (fragment.get("function") or {}).get("name")
                if index in mine_indexes or name == self.function:
                    mine_indexes.add(index)
                    merge_fragments(mine, [{**fragment, "index": index}])
                else:
                    kept.append(fragment)
                    theirs = True
            delta = {k: v for k, v in delta.items() if k != "tool_calls"}
            if kept:
                delta["tool_calls"] = kept
            choice = {**choice, "delta": delta}
        finish = None
        if choice.get("finish_reason"):
            finish = {**chunk, "choices": [{**choice, "delta": {}}]}
            choice = {**choice, "finish_reason": None}
        has_delta = any(v for k, v in (choice.get("delta") or {}).items() if k != "role")
        passed = {**chunk, "choices": [choice, *choices[1:]]} if has_delta else None
        return passed, finish, theirs

    async def _next_turn(self) -> StreamSession:
        try:
            session, _ = await stream_chat(
                self.state,
                self.chain,
                self._turn_messages(),
                self._turn_params(),
                include_usage=True,
                journal=self.journal,
            )
        except APIError as exc:
            # The answer had started: the failure can only be told in-band.
            assert self._served is not None
            failure = UpstreamFailure(FailureKind.SERVER_ERROR, exc.message, exc.status)
            raise StreamInterrupted(
                failure, self._served.deployment, "no candidate could go on after a web search"
            ) from None
        self._session = session
        return session

    # -- shared -------------------------------------------------------------------------------

    async def _search_before(self) -> None:
        if self.plan.before and not self.runs:
            run = await run_search(self.state, self.request, query_from(self.messages), self.plan)
            self.runs.append(run)
            self.messages = with_grounding(self.messages, [run], self.plan.instructions)

    def _turn_messages(self) -> list[dict[str, Any]]:
        """The conversation for the next turn. Once the search budget is spent and the
        request has no tools of its own, no tool is offered; strict upstreams refuse a tool
        history without tools, so the searches go as text (gateway/adapt.py)."""
        if self._searches_left <= 0 and not self.params.get("tools"):
            return adapt_messages(self.messages, has_tools=False)
        return self.messages

    def _turn_params(self) -> dict[str, Any]:
        params = self.params
        searched = self._searches_left < self.plan.max_searches
        if self.plan.forced and not searched and self._searches_left > 0:
            params = {**params, "tool_choice": _choice_of(self.function)}
        elif self._forces_search() and searched:
            # A `tool_choice` naming the search (Claude Code's WebSearch sends one) fixes the
            # first call, as Anthropic's does; after a search the model answers, or nothing
            # would end the loop but the budget, and a choice naming a tool no longer offered
            # is refused upstream.
            params = {k: v for k, v in params.items() if k != "tool_choice"}
            if params.get("tools"):
                params["tool_choice"] = "auto"
        if self._searches_left <= 0:
            return params
        tools = [*(params.get("tools") or []), search_function(self.function)]
        return {**params, "tools": tools}

    def _forces_search(self) -> bool:
        """Whether the request's `tool_choice` forces a search: it names the search function,
        or requires a tool call when search is the only tool."""
        choice = self.params.get("tool_choice")
        if choice == "required":
            return self.plan.tool and not self.params.get("tools")
        return isinstance(choice, dict) and _chosen_name(choice) == self.function

    async def _run_calls(self, calls: list[dict[str, Any]], text: str) -> list[SearchRun]:
        """Run the model's search calls within the budget and add them, with their results, to
        the conversation."""
        runs = []
        results = []
        for call in calls:
            query = _query_of(call)
            if self._searches_left <= 0:
                run = SearchRun(
                    query,
                    error="no more searches allowed in this request",
                    error_code="max_uses_exceeded",
                )
            else:
                self._searches_left -= 1
                run = await run_search(self.state, self.request, query, self.plan)
            runs.append(run)
            results.append(
                {
                    "role": "tool",
                    "tool_call_id": call.get("id") or run.id,
                    "content": results_text(run),
                }
            )
        self.runs += runs
        assistant = {
            "role": "assistant",
            "content": text or None,
            "tool_calls": [
                {
                    "id": call.get("id") or run.id,
                    "type": "function",
                    "function": {
                        "name": self.function,
                        "arguments": (call.get("function") or {}).get("arguments") or "{}",
                    },
                }
                for call, run in zip(calls, runs, strict=True)
            ],
        }
        self.messages = [*self.messages, assistant, *results]
        return runs

    def _add_usage(self, usage: dict[str, Any] | None) -> None:
        for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
            if isinstance((usage or {}).get(key), int):
                self._usage[key] = self._usage.get(key, 0) + usage[key]


def _choice_of(function: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": function}}


def _chosen_name(choice: dict[str, Any]) -> str | None:
    """The function a chat `tool_choice` object names."""
    function = choice.get("function")
    return function.get("name") if isinstance(function, dict) else choice.get("name")


def _name(call: dict[str, Any]) -> str | None:
    return (call.get("function") or {}).get("name")


def _query_of(call: dict[str, Any]) -> str:
    arguments = (call.get("function") or {}).get("arguments") or ""
    try:
        value = orjson.loads(arguments) if arguments else {}
    except orjson.JSONDecodeError:
        return clip_query(arguments)
    return clip_query(str(value.get("query") or "")) if isinstance(value, dict) else ""


# -- the answer, with or without search -------------------------------------------------------


async def whole_answer(
    state: GatewayState,
    request: Request,
    chain: Chain,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    journal: AttemptJournal,
    plan: SearchPlan | None,
) -> tuple[dict[str, Any], Served[Any], list[SearchRun]]:
    """The chat completion that answers, and the searches made for it (none without a
    plan): what every API's edge renders in its own shape."""
    if plan is None:
        completion, served = await complete_chat(state, chain, messages, params, journal)
        return completion, served, []
    grounded = Grounded(state, request, chain, messages, params, journal, plan)
    completion, served = await grounded.complete()
    return completion, served, grounded.runs


async def streamed_answer(
    state: GatewayState,
    request: Request,
    chain: Chain,
    messages: list[dict[str, Any]],
    params: dict[str, Any],
    journal: AttemptJournal,
    plan: SearchPlan | None,
    include_usage: bool = True,
) -> tuple[AsyncIterator[dict[str, Any]], Served[Any], Grounded | None]:
    """The answer's chat chunks once its stream has opened (its errors are still the
    request's HTTP errors), with a `gateway_search` chunk per search when there is a plan."""
    if plan is None:
        session, served = await stream_chat(
            state, chain, messages, params, include_usage=include_usage, journal=journal
        )
        return session.chunks(), served, None
    grounded = Grounded(state, request, chain, messages, params, journal, plan)
    served = await grounded.start()
    return grounded.chunks(include_usage), served, grounded


async def with_citations(
    chunks: AsyncIterator[dict[str, Any]], grounded: Grounded
) -> AsyncIterator[dict[str, Any]]:
    """Chat completions' stream: search chunks dropped, and the answer's citations of the
    results (`annotations`, as OpenAI's search models give them) in the finishing chunk."""
    text: list[str] = []
    async for chunk in chunks:
        if SEARCH_MARKER in chunk:
            continue
        choices = chunk.get("choices") or []
        if choices:
            delta = choices[0].get("delta") or {}
            if delta.get("content"):
                text.append(delta["content"])
            if choices[0].get("finish_reason") and (
                cited := citations("".join(text), grounded.runs)
            ):
                annotations = [{"type": "url_citation", "url_citation": c} for c in cited]
                choice = {**choices[0], "delta": {**delta, "annotations": annotations}}
                chunk = {**chunk, "choices": [choice, *choices[1:]]}
        yield chunk
