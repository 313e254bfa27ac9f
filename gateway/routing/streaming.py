"""Serving one chat answer from a chain of upstream streams, through their failures.

LiteLLM falls back only before a stream starts and has no time-to-first-token or idle limit
(Gemini's async stream even ignores `timeout`); this module adds what it lacks:

* an attempt counts as started only at its first token, within `first_byte_timeout` (the
  upstream starts answering) and `first_token_timeout` (it says something), so a silent or
  slow upstream is abandoned and the chain moves on before the client has seen anything;
* between chunks, `stream_idle_timeout` catches a stream that stalls;
* a stream that dies after the client has seen part of the answer is continued on the next
  candidates: they get the conversation plus the partial answer as an assistant prefill, and
  only the continuation is relayed, so the client reads one seamless answer;
* when nobody can continue, the stream ends with an error, never with a normal finish.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from gateway.catalog import Chain, Deployment
from gateway.config import RoutingSettings
from gateway.routing.answer import (
    AnswerProgress,
    Chunk,
    OverlapTrimmer,
    blocked_by_content_filter,
    carries_output,
    estimate_tokens,
)
from gateway.routing.chain import ChainExhausted, ChainRunner, RequestRejected, Served
from gateway.routing.failures import FailureKind, UpstreamFailure
from gateway.telemetry.journal import AttemptJournal

if TYPE_CHECKING:
    from gateway.routing.drain import Drain

log = logging.getLogger("gateway.stream")

Messages = list[dict[str, Any]]


class UpstreamStream(Protocol):
    """An upstream's chunks as OpenAI chunk dicts; failures arrive as `UpstreamFailure`."""

    def __aiter__(self) -> AsyncIterator[Chunk]: ...

    async def __anext__(self) -> Chunk: ...

    async def aclose(self) -> None: ...


OpenStream = Callable[[Deployment, Messages], Awaitable[UpstreamStream]]


@dataclass
class StartedStream:
    """An upstream stream that has produced its first token; `head` holds what came so far."""

    head: list[Chunk]
    stream: UpstreamStream
    first_token_at: float = field(default_factory=time.monotonic)

    async def aclose(self) -> None:
        with contextlib.suppress(Exception):
            await self.stream.aclose()


class StreamInterrupted(Exception):
    """The answer broke off and no candidate could continue it."""

    def __init__(self, failure: UpstreamFailure, deployment: Deployment, detail: str) -> None:
        super().__init__(f"{deployment.id} failed mid-answer: {failure}")
        self.failure = failure
        self.deployment = deployment
        self.detail = detail

    @property
    def client_message(self) -> str:
        """What the client is told at the end of the broken answer (no secrets: the failure's
        message is masked when it is classified)."""
        failure = self.failure
        return (
            f"{self.deployment.id} failed mid-answer ({failure.kind}: {failure.message}); "
            f"{self.detail}. The answer above is incomplete."
        )


class StreamStopped(StreamInterrupted):
    """The gateway's shutdown ended the answer after its drain time."""

    def __init__(self, deployment: Deployment) -> None:
        failure = UpstreamFailure(FailureKind.SERVER_ERROR, "the gateway is shutting down")
        super().__init__(failure, deployment, "the gateway is shutting down")

    @property
    def client_message(self) -> str:
        return (
            "The gateway is shutting down and ended this answer before it finished; "
            "the answer above is incomplete."
        )


async def start_stream(
    open_stream: OpenStream, deployment: Deployment, messages: Messages, settings: RoutingSettings
) -> StartedStream:
    """Open a stream and wait for its first token, within the first-byte and TTFT limits."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    first_byte = min(settings.first_byte_timeout, deployment.timeout or settings.first_byte_timeout)
    try:
        async with asyncio.timeout(first_byte):
            stream = await open_stream(deployment, messages)
    except TimeoutError:
        raise UpstreamFailure(
            FailureKind.TIMEOUT, f"no response within {first_byte:g}s (first-byte timeout)"
        ) from None
    head: list[Chunk] = []
    try:
        while True:
            remaining = settings.first_token_timeout - (loop.time() - started)
            if remaining <= 0:
                raise TimeoutError
            async with asyncio.timeout(remaining):
                chunk = await anext(stream)
            head.append(chunk)
            if blocked_by_content_filter(chunk):
                raise UpstreamFailure(
                    FailureKind.CONTENT_POLICY,
                    "the provider's content filter refused the request",
                    status=400,
                )
            if carries_output(chunk):
                return StartedStream(head, stream)
    except TimeoutError:
        await _close(stream)
        raise UpstreamFailure(
            FailureKind.TIMEOUT,
            f"no token within {settings.first_token_timeout:g}s (time-to-first-token limit)",
        ) from None
    except StopAsyncIteration:
        await _close(stream)
        raise UpstreamFailure(
            FailureKind.SERVER_ERROR, "the stream ended before any token"
        ) from None
    except BaseException:
        await _close(stream)
        raise


class GatewayStopping(Exception):
    """The gateway's shutdown ended this answer (see gateway/routing/drain.py)."""


class StopSignal:
    """Ends a relay from outside at once, even while it waits for a chunk, by moving the
    wait's own timeout to now (no task or event per chunk on the hot path)."""

    def __init__(self) -> None:
        self.stopped = False
        self.waiting: asyncio.Timeout | None = None

    def stop(self) -> None:
        self.stopped = True
        waiting = self.waiting
        if waiting is not None and not waiting.expired():
            with contextlib.suppress(RuntimeError):  # the wait just ended on its own
                waiting.reschedule(asyncio.get_running_loop().time())


async def relay(
    started: StartedStream, idle_timeout: float, stop: StopSignal | None = None
) -> AsyncIterator[Chunk]:
    """The started stream's chunks, failing with a timeout if it goes quiet."""
    for chunk in started.head:
        yield chunk
    while True:
        if stop is not None and stop.stopped:
            raise GatewayStopping
        try:
            # asyncio.timeout, not wait_for: no task per chunk on the hot path.
            async with asyncio.timeout(idle_timeout) as waiting:
                if stop is not None:
                    stop.waiting = waiting
                chunk = await anext(started.stream)
            if stop is not None:
                stop.waiting = None
        except StopAsyncIteration:
            return
        except TimeoutError:
            if stop is not None and stop.stopped:
                raise GatewayStopping from None
            raise UpstreamFailure(
                FailureKind.TIMEOUT, f"the stream stalled: no chunk for {idle_timeout:g}s"
            ) from None
        yield chunk


async def collect_answer(
    open_stream: OpenStream,
    deployment: Deployment,
    messages: Messages,
    settings: RoutingSettings,
) -> AnswerProgress:
    """A whole answer read from a stream (non-stream requests); truncation is a failure."""
    started = await start_stream(open_stream, deployment, messages, settings)
    progress = AnswerProgress(first_token_at=started.first_token_at)
    try:
        async for chunk in relay(started, settings.stream_idle_timeout):
            progress.observe(chunk)
    finally:
        await started.aclose()
    if progress.finish_reason is None:
        raise UpstreamFailure(FailureKind.SERVER_ERROR, "the stream ended without a finish_reason")
    return progress


@dataclass(eq=False)  # hashed by identity: the drain keeps the sessions in flight in a set
class StreamSession:
    """One streamed answer: started by `start()`, relayed and repaired by `chunks()`."""

    runner: ChainRunner
    chain: Chain
    open_stream: OpenStream
    messages: Messages
    include_usage: bool
    journal: AttemptJournal | None = None
    drain: Drain | None = None
    progress: AnswerProgress = field(default_factory=AnswerProgress)
    continuations: int = 0
    stop: StopSignal = field(default_factory=StopSignal)

    def interrupt(self) -> None:
        """End the answer now (the gateway is shutting down)."""
        self.stop.stop()

    @property
    def settings(self) -> RoutingSettings:
        return self.runner.settings

    async def start(self) -> Served[StartedStream]:
        """Walk the chain to the first candidate that produces a token (raises like the
        runner when none does)."""
        self.served = await self.runner.run(
            self.chain, self._attempt(self.messages), journal=self.journal
        )
        return self.served

    def _attempt(self, messages: Messages) -> Callable[[Deployment], Awaitable[StartedStream]]:
        async def attempt(deployment: Deployment) -> StartedStream:
            return await start_stream(self.open_stream, deployment, messages, self.settings)

        return attempt

    async def chunks(self) -> AsyncIterator[Chunk]:
        """Chunks for the client, in OpenAI's shape, `model` naming who produced each."""
        deployment, started = self.served.deployment, self.served.result
        position, attempt_started = self.served.position, self.served.started
        trimmer: OverlapTrimmer | None = None
        finished = interrupted = stopped = False
        if self.drain is not None:
            self.drain.register(self)
        try:
            while True:
                try:
                    async for chunk in relay(started, self.settings.stream_idle_timeout, self.stop):
                        out = self._client_chunk(chunk, deployment, trimmer)
                        if out is not None:
                            yield out
                    break
                except GatewayStopping:
                    stopped = True
                    raise StreamStopped(deployment) from None
                except UpstreamFailure as failure:
                    await started.aclose()
                    if self.progress.finish_reason is not None:
                        break  # the answer was complete; only its ending was rough
                    if self.stop.stopped:  # a continuation would outlive the drain
                        stopped = True
                        raise StreamStopped(deployment) from None
                    self.runner.record_failure(deployment, failure)
                    if self.journal is not None:
                        self.journal.failed(deployment, failure, attempt_started)
                    interrupted = True  # until a continuation has started
                    deployment, started, position, attempt_started = await self._continue(
                        deployment, failure, position
                    )
                    interrupted = False
                    trimmer = OverlapTrimmer(self.progress.content)
            finished = True
        finally:
            if self.drain is not None:
                self.drain.unregister(self)
            await started.aclose()
            if self.journal is not None and not interrupted:
                self.journal.succeeded(
                    deployment,
                    attempt_started,
                    first_token_at=started.first_token_at,
                    usage=self.progress.usage,
                    continuation=self.continuations > 0,
                    cancelled=not finished,
                    stopped=stopped,
                )
            elif self.journal is not None:
                self.journal.ended("interrupted")  # no other candidate could continue it
        if trimmer is not None and (rest := trimmer.flush()):
            yield self._text_chunk(rest, deployment)
        if self.include_usage:
            yield self._usage_chunk(deployment)

    async def _continue(
        self, failed: Deployment, failure: UpstreamFailure, position: int
    ) -> tuple[Deployment, StartedStream, int, float]:
        log.warning("stream from %s failed mid-answer (%s)", failed.id, failure)
        if self.progress.started_tool_calls:
            raise StreamInterrupted(
                failure, failed, "a tool call was cut off and cannot be resumed"
            )
        if not self.settings.continue_interrupted_streams:
            raise StreamInterrupted(failure, failed, "continuation is switched off")
        rest = Chain(
            name=self.chain.name,
            candidates=self.chain.candidates[position:],
            virtual=self.chain.virtual,
        )
        prefill = [*self.messages, {"role": "assistant", "content": self.progress.content}]
        try:
            served = await self.runner.run(
                rest, self._attempt(prefill), continuing=True, journal=self.journal
            )
        except (ChainExhausted, RequestRejected):
            raise StreamInterrupted(
                failure, failed, "no other candidate could continue the answer"
            ) from None
        self.continuations += 1
        log.warning("continuing the answer of %s on %s", failed.id, served.deployment.id)
        return served.deployment, served.result, position + served.position, served.started

    def _client_chunk(
        self, chunk: Chunk, deployment: Deployment, trimmer: OverlapTrimmer | None
    ) -> Chunk | None:
        if chunk.get("usage"):
            self.progress.usage = chunk.pop("usage")
        choices = chunk.get("choices") or []
        if not choices:
            return None  # a usage-only chunk: the gateway sends its own at the end
        if trimmer is not None:
            for choice in choices:
                delta = choice.get("delta") or {}
                delta.pop("role", None)
                if delta.get("content"):
                    delta["content"] = trimmer.feed(delta["content"])
        self.progress.observe(chunk)
        self._stamp(chunk, deployment)
        return chunk

    def _stamp(self, chunk: Chunk, deployment: Deployment) -> None:
        first = self.progress.first or chunk
        chunk["id"] = first.get("id", chunk.get("id"))
        chunk["model"] = deployment.id

    def _text_chunk(self, text: str, deployment: Deployment) -> Chunk:
        chunk: Chunk = {
            "object": "chat.completion.chunk",
            "created": (self.progress.first or {}).get("created"),
            "choices": [{"index": 0, "delta": {"content": text}}],
        }
        self._stamp(chunk, deployment)
        return chunk

    def _usage_chunk(self, deployment: Deployment) -> Chunk:
        usage = dict(self.progress.usage or {"prompt_tokens": 0, "completion_tokens": 0})
        if self.continuations:
            # The last upstream counted the prefill as prompt; it was this answer's output.
            before = estimate_tokens(self.progress.content) - usage.get("completion_tokens", 0)
            before = max(0, before)
            usage["prompt_tokens"] = max(0, usage.get("prompt_tokens", 0) - before)
            usage["completion_tokens"] = usage.get("completion_tokens", 0) + before
        usage["total_tokens"] = usage.get("prompt_tokens", 0) + usage.get("completion_tokens", 0)
        chunk: Chunk = {
            "object": "chat.completion.chunk",
            "created": (self.progress.first or {}).get("created"),
            "choices": [],
            "usage": usage,
        }
        self._stamp(chunk, deployment)
        return chunk


async def _close(stream: UpstreamStream) -> None:
    with contextlib.suppress(Exception):
        await stream.aclose()
