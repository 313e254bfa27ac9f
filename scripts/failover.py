"""`make failover`: each upstream fault -> what the client got -> how long it took.

Starts the provider emulator and a gateway with the shipped failover defaults (10 s
first-byte, first-token and idle limits, `stream_upstream: true`), and sends one streaming
and one non-streaming request per fault through a two-candidate chain (the faulty provider
first, a healthy one second), on `/v1/chat/completions`, `/v1/responses` and `/v1/messages`. Each
answer is checked: the whole text, an honest error, or (the failure this exists to catch) a
truncated answer that looks like a success. Target: the whole answer within 12 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.conftest import provider_env  # noqa: E402
from tests.emulators import Emulator  # noqa: E402
from tests.gateway_process import GatewayProcess, write_config  # noqa: E402

ANSWER = "the quick brown fox jumps over the lazy dog again and again"
TARGET_SECONDS = 12.0


@dataclass(frozen=True)
class Scenario:
    name: str
    first: str  # the faulty candidate
    then: tuple[str, ...] = ("gemini/healthy",)
    expect: str = "complete"  # or "error"
    # A non-stream request has shown the client nothing when its stream breaks, so it
    # restarts on the next candidate instead of needing a continuation.
    expect_non_stream: str | None = None

    def expected(self, mode: str) -> str:
        return (self.expect_non_stream if not streamed(mode) else None) or self.expect


# Chat completions, the Responses API and Anthropic's Messages API, each streamed and not.
MODES = (
    "stream",
    "non-stream",
    "responses-stream",
    "responses-non-stream",
    "messages-stream",
    "messages-non-stream",
)


def streamed(mode: str) -> bool:
    return not mode.endswith("non-stream")


SCENARIOS = [
    Scenario("healthy provider", "groq/healthy-first"),
    Scenario("silent (no headers)", "groq/fault-silent"),
    Scenario("slow first token (20 s)", "groq/fault-slowfirst20"),
    Scenario("slow headers (20 s)", "groq/fault-slowheaders20"),
    Scenario("stream cut mid-answer", "groq/fault-cut4"),
    Scenario("stream stalls mid-answer", "groq/fault-stall4"),
    Scenario("malformed chunk", "groq/fault-malformed"),
    Scenario("no [DONE]", "groq/fault-nodone"),
    Scenario("429 Retry-After 60", "groq/fault-429-ra60"),
    Scenario("429 Retry-After 1", "groq/fault-429-ra1"),
    Scenario("429 without Retry-After", "groq/fault-429"),
    Scenario("503 persistent", "groq/fault-503"),
    Scenario("500 once", "groq/fault-500-once"),
    Scenario("TCP reset before headers", "groq/fault-reset"),
    Scenario("401 bad key", "badkey/fault-401"),
    Scenario(
        "cut, continuation refused, then ok",
        "groq/fault-cut4-r",
        ("mybox/fault-noprefill", "gemini/healthy-r"),
    ),
    Scenario(
        "cut, nobody can continue",
        "groq/fault-cut4-n",
        ("mybox/fault-noprefill-n",),
        expect="error",
        expect_non_stream="complete",
    ),
    Scenario("content policy", "groq/fault-policy", expect="error"),
]


@dataclass
class Outcome:
    scenario: Scenario
    mode: str
    status: int
    outcome: str
    served_by: str
    ttft: float | None
    total: float

    @property
    def verdict(self) -> str:
        if self.outcome.startswith("TRUNCATED"):
            return "FAIL"
        if self.scenario.expected(self.mode) == "complete":
            ok = self.outcome == "complete" and self.total <= TARGET_SECONDS
        else:
            ok = self.outcome.startswith("error")
        return "ok" if ok else "FAIL"


def chain_name(scenario: Scenario, mode: str) -> str:
    return f"{scenario.name}|{mode}"


def build_config(root: Path, emulator: Emulator) -> Path:
    """Each scenario and mode gets its own models, so cooldowns never leak between rows."""
    models: dict[str, set[str]] = {}
    virtual = {}
    for scenario in SCENARIOS:
        for mode in MODES:
            refs = [f"{ref}-{mode}" for ref in (scenario.first, *scenario.then)]
            for ref in refs:
                provider, _, model = ref.partition("/")
                models.setdefault(provider, set()).add(model)
            virtual[chain_name(scenario, mode).replace(" ", "_")] = {"candidates": refs}
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY"},
        "badkey": {"type": "groq", "api_key_env": "GROQ_API_KEY"},
        "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY"},
        "mybox": {"type": "openai_compatible", "api_base": emulator.base_url + "/v1"},
    }
    for name, provider in providers.items():
        provider["models"] = sorted(models.get(name, {"unused"}))
    # The shipped routing defaults (`stream_upstream: true` among them).
    return write_config(root / "config", providers, virtual)


def run_one(gateway: GatewayProcess, scenario: Scenario, mode: str) -> Outcome:
    model = chain_name(scenario, mode).replace(" ", "_")
    started = time.monotonic()
    prompt = [{"role": "user", "content": "echo: " + ANSWER}]
    if mode.startswith("responses"):
        body = {"model": model, "input": "echo: " + ANSWER, "stream": streamed(mode)}
        url = gateway.url + "/v1/responses"
    elif mode.startswith("messages"):
        body = {"model": model, "max_tokens": 256, "messages": prompt, "stream": streamed(mode)}
        url = gateway.url + "/v1/messages"
    else:
        body = {"model": model, "messages": prompt, "stream": streamed(mode)}
        url = gateway.url + "/v1/chat/completions"
    if not streamed(mode):
        response = httpx.post(url, json=body, timeout=120)
        total = time.monotonic() - started
        data = response.json()
        if response.status_code != 200:
            code = _error_code(data)
            return Outcome(scenario, mode, response.status_code, f"error {code}", "-", None, total)
        if "output" in data:
            text, done = data["output_text"], data["status"] == "completed"
        elif data.get("type") == "message":
            text = "".join(b["text"] for b in data["content"] if b["type"] == "text")
            done = data["stop_reason"] == "end_turn"
        else:
            text, done = data["choices"][0]["message"]["content"], True
        outcome = "complete" if text == ANSWER and done else f"TRUNCATED: {text!r}"
        return Outcome(scenario, mode, 200, outcome, data["model"], None, total)
    with httpx.stream("POST", url, json=body, timeout=120) as response:
        if response.status_code != 200:
            code = _error_code(json.loads(response.read()))
            total = time.monotonic() - started
            return Outcome(scenario, mode, response.status_code, f"error {code}", "-", None, total)
        read = _READERS[mode.partition("-")[0] if "-" in mode else "chat"]
        text, ttft, finished, error, served = read(response, started)
    total = time.monotonic() - started
    if error:
        outcome = f"error {error} (in-band, after {len(text)} chars)"
    elif text == ANSWER and finished:
        outcome = "complete"
    else:
        outcome = f"TRUNCATED: {text!r} finished={finished}"
    return Outcome(scenario, mode, 200, outcome, served, ttft, total)


# (text, seconds to the first text, finished normally, in-band error code, who answered last)
StreamReading = tuple[str, float | None, bool, str | None, str]


def _read_chat_stream(response: httpx.Response, started: float) -> StreamReading:
    ttft, text, error, finish = None, "", None, None
    served = response.headers.get("x-gateway-served-by", "-")
    for line in response.iter_lines():
        if not line.startswith("data: ") or line == "data: [DONE]":
            continue
        event = json.loads(line[6:])
        if "error" in event:
            error = event["error"].get("code")
            continue
        for choice in event.get("choices") or ():
            if choice["delta"].get("content"):
                ttft = ttft or time.monotonic() - started
                text += choice["delta"]["content"]
            finish = choice.get("finish_reason") or finish
            served = event.get("model", served)
    return text, ttft, finish == "stop", error, served


def _read_responses_stream(response: httpx.Response, started: float) -> StreamReading:
    ttft, text, error, finished = None, "", None, False
    served = response.headers.get("x-gateway-served-by", "-")
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        if event["type"] == "response.output_text.delta":
            ttft = ttft or time.monotonic() - started
            text += event["delta"]
        elif event["type"] == "error":
            error = event["code"]
        elif event["type"] == "response.completed":
            finished = True
            served = event["response"]["model"]
    return text, ttft, finished, error, served


def _read_messages_stream(response: httpx.Response, started: float) -> StreamReading:
    ttft, text, error, finished = None, "", None, False
    served = response.headers.get("x-gateway-served-by", "-")
    for line in response.iter_lines():
        if not line.startswith("data: "):
            continue
        event = json.loads(line[6:])
        if event["type"] == "content_block_delta" and event["delta"]["type"] == "text_delta":
            ttft = ttft or time.monotonic() - started
            text += event["delta"]["text"]
        elif event["type"] == "error":
            error = event["error"]["type"]
        elif event["type"] == "message_start":
            served = event["message"]["model"]
        elif event["type"] == "message_stop":
            finished = True
    return text, ttft, finished, error, served


_READERS = {
    "chat": _read_chat_stream,
    "responses": _read_responses_stream,
    "messages": _read_messages_stream,
}


def _error_code(body: dict) -> str | None:
    """OpenAI's `error.code`, or Anthropic's `error.type`."""
    error = body.get("error") or {}
    return error.get("code") or error.get("type")


def table(outcomes: list[Outcome]) -> str:
    rows = [("fault", "mode", "outcome", "answered by", "TTFT s", "total s", "expected", "verdict")]
    for o in outcomes:
        rows.append(
            (
                o.scenario.name,
                o.mode,
                o.outcome,
                o.served_by.removesuffix("-" + o.mode),
                f"{o.ttft:.2f}" if o.ttft is not None else "-",
                f"{o.total:.2f}",
                o.scenario.expected(o.mode),
                o.verdict,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", type=Path, help="also write the table to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, Emulator(hang_seconds=60) as emulator:
        config = build_config(Path(tmp), emulator)
        with GatewayProcess(config, Path(tmp) / "data", env=provider_env(emulator)) as gateway:
            outcomes = [
                run_one(gateway, scenario, mode) for scenario in SCENARIOS for mode in MODES
            ]
    report = table(outcomes)
    print(report)
    failed = [o for o in outcomes if o.verdict != "ok"]
    target = f"whole answer in ≤ {TARGET_SECONDS:g} s"
    print(f"\n{len(outcomes) - len(failed)} of {len(outcomes)} ok (target: {target})")
    if args.markdown:
        args.markdown.write_text(report + "\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
