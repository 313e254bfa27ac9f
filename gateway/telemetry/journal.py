"""Per-request bookkeeping that turns each upstream attempt into one telemetry row."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from gateway.catalog import Deployment
from gateway.routing.failures import UpstreamFailure
from gateway.telemetry.records import AttemptRecord, Outcome, outcome_for

# Request ids: a random per-process prefix and a counter (uuid4 was 3% of the CPU per request
# under load); unique across instances sharing a database.
_ID_PREFIX = secrets.token_hex(6)
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_ID_COUNTER):010x}"


class RecordSink(Protocol):
    def record(self, record: AttemptRecord) -> None: ...


class RequestObserver(Protocol):
    """Told once how a request ended (see `AttemptJournal.ended`); the metrics use it."""

    def request_ended(self, journal: AttemptJournal, outcome: str, route: str | None) -> None: ...


@dataclass
class AttemptJournal:
    """Numbers the attempts of one request and remembers why the previous one did not
    answer (the next row's `fallback_reason`); tells its observer how the request ended, and
    whether a candidate other than the first usable one answered it."""

    sinks: tuple[RecordSink, ...]
    virtual_model: str | None
    stream: bool
    client: str | None = None
    request_id: str = field(default_factory=new_request_id)
    attempts: int = 0
    last_reason: str | None = None
    observer: RequestObserver | None = None
    started: float = field(default_factory=time.monotonic)
    first_route: str | None = None  # the first usable candidate this request met
    first_miss: str | None = None  # why that one did not answer (a skip or failure kind)
    answered_by: str | None = None  # the route whose answer reached the client first
    done: bool = False

    def skipped(self, candidate: str, outcome: str, reason: str) -> None:
        self.last_reason = f"{candidate} {outcome}: {reason}"[:500]
        if self.first_route is None and outcome != "unusable":
            self.first_route, self.first_miss = candidate, outcome

    def answering(self, deployment: Deployment) -> None:
        """The chain found the route that answers (the first such, if a stream is later
        continued elsewhere)."""
        if self.answered_by is None:
            self.answered_by = deployment.id

    def ended(self, outcome: str, route: str | None = None) -> None:
        """The request is over: answered (`success`, `cancelled`, `shutdown`, by `route`) or
        not (`interrupted`, `rejected`, `exhausted`, `unusable`, `unreachable`). Only the first
        call counts."""
        if not self.done:
            self.done = True
            if self.observer is not None:
                self.observer.request_ended(self, outcome, route)

    def failed(self, deployment: Deployment, failure: UpstreamFailure, started: float) -> None:
        self._write(
            deployment,
            outcome_for(failure.kind),
            started,
            http_status=failure.status,
            error_class=str(failure.kind),
            error_message=failure.message,
        )
        self.last_reason = f"{deployment.id} {failure.kind}: {failure.message}"[:500]
        if self.first_miss is None and self.first_route == deployment.id:
            self.first_miss = str(failure.kind)

    def succeeded(
        self,
        deployment: Deployment,
        started: float,
        *,
        first_token_at: float | None = None,
        usage: dict[str, Any] | None = None,
        continuation: bool = False,
        cancelled: bool = False,
        stopped: bool = False,
    ) -> None:
        outcome = Outcome.SUCCESS
        if stopped:
            outcome = Outcome.SHUTDOWN
        elif cancelled:
            outcome = Outcome.CANCELLED
        elif continuation:
            outcome = Outcome.CONTINUATION
        usage = usage or {}
        self._write(
            deployment,
            outcome,
            started,
            http_status=200,
            ttft_ms=(first_token_at - started) * 1000 if first_token_at else None,
            input_tokens=usage.get("prompt_tokens"),
            output_tokens=usage.get("completion_tokens"),
        )
        self.ended(_REQUEST_OUTCOME[outcome], deployment.id)

    def _write(
        self, deployment: Deployment, outcome: Outcome, started: float, **fields: Any
    ) -> None:
        self.attempts += 1
        if self.first_route is None:
            self.first_route = deployment.id
        record = AttemptRecord(
            request_id=self.request_id,
            virtual_model=self.virtual_model,
            provider=deployment.provider,
            model=deployment.id,
            attempt=self.attempts,
            outcome=outcome,
            stream=self.stream,
            latency_ms=round((time.monotonic() - started) * 1000, 2),
            client=self.client,
            fallback_reason=self.last_reason,
            **fields,
        )
        for sink in self.sinks:
            sink.record(record)


# How a request that got an answer ended, by the outcome of its answering attempt.
_REQUEST_OUTCOME = {
    Outcome.SUCCESS: "success",
    Outcome.CONTINUATION: "success",
    Outcome.CANCELLED: "cancelled",
    Outcome.SHUTDOWN: "shutdown",
}
