"""The gateway's own vocabulary for why an upstream attempt failed, independent of LiteLLM."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class FailureKind(StrEnum):
    RATE_LIMITED = "rate_limited"
    SERVER_ERROR = "server_error"
    TIMEOUT = "timeout"
    CONNECTION = "connection_error"
    AUTH = "auth_error"
    NOT_FOUND = "not_found"
    CONTEXT_WINDOW = "context_window_exceeded"
    CONTENT_POLICY = "content_policy"
    BAD_REQUEST = "bad_request"


# Failures that say nothing about the request itself: the next candidate may well succeed.
FAILOVER_KINDS = frozenset(
    {
        FailureKind.RATE_LIMITED,
        FailureKind.SERVER_ERROR,
        FailureKind.TIMEOUT,
        FailureKind.CONNECTION,
        FailureKind.AUTH,
        FailureKind.NOT_FOUND,
    }
)


@dataclass
class UpstreamFailure(Exception):
    """One failed attempt, classified. `message` never carries a key (see `redact`)."""

    kind: FailureKind
    message: str
    status: int | None = None
    retry_after: float | None = None

    def __str__(self) -> str:
        status = f" {self.status}" if self.status else ""
        return f"{self.kind}{status}: {self.message}"

    @property
    def fails_over(self) -> bool:
        return self.kind in FAILOVER_KINDS
