"""What is recorded about each upstream attempt (the domain side; no database here)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import StrEnum

from gateway.routing.failures import FailureKind


class Outcome(StrEnum):
    SUCCESS = "success"
    RATE_LIMITED = "rate_limited"
    TIMEOUT = "timeout"
    SERVER_ERROR = "server_error"
    AUTH_ERROR = "auth_error"
    BAD_REQUEST = "bad_request"
    CANCELLED = "cancelled"
    CONTINUATION = "continuation"  # a successful attempt that finished another's broken answer
    SHUTDOWN = "shutdown"  # ended by the gateway's shutdown after the drain time


_OUTCOME_BY_FAILURE = {
    FailureKind.RATE_LIMITED: Outcome.RATE_LIMITED,
    FailureKind.TIMEOUT: Outcome.TIMEOUT,
    FailureKind.SERVER_ERROR: Outcome.SERVER_ERROR,
    FailureKind.CONNECTION: Outcome.SERVER_ERROR,
    FailureKind.AUTH: Outcome.AUTH_ERROR,
    FailureKind.NOT_FOUND: Outcome.BAD_REQUEST,
    FailureKind.CONTEXT_WINDOW: Outcome.BAD_REQUEST,
    FailureKind.CONTENT_POLICY: Outcome.BAD_REQUEST,
    FailureKind.BAD_REQUEST: Outcome.BAD_REQUEST,
}


def outcome_for(kind: FailureKind) -> Outcome:
    return _OUTCOME_BY_FAILURE[kind]


@dataclass
class AttemptRecord:
    """One call to one upstream route. Messages are already free of secrets."""

    request_id: str
    virtual_model: str | None
    provider: str
    model: str
    attempt: int
    outcome: Outcome
    stream: bool
    latency_ms: float
    ts: datetime | None = None
    http_status: int | None = None
    error_class: str | None = None
    error_message: str | None = None
    ttft_ms: float | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    tokens_per_second: float | None = None
    cost: float = 0.0
    client: str | None = None
    fallback_reason: str | None = None

    def __post_init__(self) -> None:
        if self.ts is None:
            self.ts = datetime.now(UTC)
        if self.error_message and len(self.error_message) > 1000:
            self.error_message = self.error_message[:1000]
        if (
            self.tokens_per_second is None
            and self.output_tokens
            and self.latency_ms
            and self.ttft_ms is not None
        ):
            generation = (self.latency_ms - self.ttft_ms) / 1000
            if generation > 0:
                self.tokens_per_second = round(self.output_tokens / generation, 2)

    def as_row(self) -> dict[str, object]:
        # Not dataclasses.asdict: it deep-copies every value, for flat rows written per request.
        row = {name: getattr(self, name) for name in _FIELDS}
        row["outcome"] = str(self.outcome)
        return row


_FIELDS = tuple(f.name for f in fields(AttemptRecord))
