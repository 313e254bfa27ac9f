"""What clients sent, kept for assertions.

The log is bounded so a long benchmark cannot grow memory, and locked because the server
appends from its own thread while tests read from theirs.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .faults import Fault


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    provider: str  # groq | gemini | github | cloudflare | openai | unknown (no route)
    method: str
    path: str  # without the query string
    model: str | None
    headers: dict[str, str]  # names lowercased
    body: Any  # the parsed JSON body, or None
    status: int | None  # None when no status was sent (fault-reset, fault-silent)
    fault: Fault | None  # the fault applied to this request, if any
    ts: float  # time.time() when the request was handled
    api_key: str | None = None  # Bearer token, or Gemini's x-goog-api-key / ?key=
    query: dict[str, str] | None = None


class RequestLog:
    def __init__(self, maxlen: int) -> None:
        self._items: deque[RecordedRequest] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def append(self, item: RecordedRequest) -> None:
        with self._lock:
            self._items.append(item)

    def snapshot(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._items)

    def count(
        self, provider: str | None = None, model: str | None = None, status: int | None = None
    ) -> int:
        return sum(
            1
            for item in self.snapshot()
            if (provider is None or item.provider == provider)
            and (model is None or item.model == model)
            and (status is None or item.status == status)
        )

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
