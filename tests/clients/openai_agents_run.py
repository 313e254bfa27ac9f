"""The OpenAI Agents SDK (PyPI `openai-agents`) against the gateway, as the README's "OpenAI
Agents SDK" section sets it up. Runs in the SDK's own venv (tests/sdk_clients.py makes it):

    python openai_agents_run.py BASE_URL SCENARIO@MODEL [SCENARIO@MODEL ...]

SCENARIO is `{responses,chat}-{hello,tool,stream}`; BASE_URL ends in /v1. Several runs share
one process because importing the SDK takes seconds. Prints one JSON object mapping each
`SCENARIO@MODEL` to its outcome: the final output, the run's items (tool calls and their
outputs), usage per model call, the calls the tool received, or the error's traceback.
"""

from __future__ import annotations

import asyncio
import json
import sys
import traceback
from typing import Any

from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    Runner,
    function_tool,
    set_tracing_disabled,
)
from openai import AsyncOpenAI

CALLS: list[dict[str, str]] = []


@function_tool
def write(filePath: str, content: str) -> str:  # filePath: as OpenCode's `write` tool names it
    """Write a file.

    Args:
        filePath: where to write.
        content: what to write.
    """
    CALLS.append({"filePath": filePath, "content": content})
    return f"wrote {len(content)} bytes to {filePath}"


def item_summary(item: Any) -> dict[str, Any]:
    raw = getattr(item, "raw_item", None)
    if hasattr(raw, "model_dump"):
        raw = raw.model_dump(exclude_none=True)
    return {"type": item.type, "raw": raw, "output": getattr(item, "output", None)}


async def run(client: AsyncOpenAI, scenario: str, model_id: str) -> dict[str, Any]:
    CALLS.clear()
    api, kind = scenario.split("-", 1)
    model_class = OpenAIResponsesModel if api == "responses" else OpenAIChatCompletionsModel
    model = model_class(model_id, client)
    tools = [write] if kind == "tool" else []
    # The run's name in the instructions lets a test find its upstream calls.
    instructions = f"You write files. [{scenario}@{model_id}]"
    agent = Agent(name="coder", instructions=instructions, model=model, tools=tools)
    if kind == "tool":
        prompt = "create a file hello.txt containing hi"
    else:
        prompt = f"echo: hello from the agents sdk {api}"
    extra: dict[str, Any] = {}
    if kind == "stream":
        result = Runner.run_streamed(agent, prompt, max_turns=4)
        deltas = []
        async for event in result.stream_events():
            data = getattr(event, "data", None)
            if event.type == "raw_response_event" and (
                getattr(data, "type", "") == "response.output_text.delta"
            ):
                deltas.append(data.delta)
        extra["deltas"] = deltas
    else:
        result = await Runner.run(agent, prompt, max_turns=4)
    usage = [
        {"input_tokens": r.usage.input_tokens, "output_tokens": r.usage.output_tokens}
        for r in result.raw_responses
    ]
    return {
        "ok": True,
        "final_output": result.final_output,
        "items": [item_summary(item) for item in result.new_items],
        "tool_calls": list(CALLS),
        "usage": usage,
        **extra,
    }


async def main(base_url: str, runs: list[str]) -> dict[str, Any]:
    set_tracing_disabled(True)  # traces would go to OpenAI, not to the gateway
    client = AsyncOpenAI(base_url=base_url, api_key="not-needed", max_retries=0, timeout=30)
    results: dict[str, Any] = {}
    for spec in runs:
        scenario, model_id = spec.split("@", 1)
        try:
            results[spec] = await run(client, scenario, model_id)
        except Exception:  # the traceback goes to the test's assertion message
            results[spec] = {"ok": False, "error": traceback.format_exc()}
    return results


if __name__ == "__main__":
    outcome = asyncio.run(main(sys.argv[1], sys.argv[2:]))
    print(
        json.dumps({"ok": all(r["ok"] for r in outcome.values()), "result": outcome}, default=str)
    )
