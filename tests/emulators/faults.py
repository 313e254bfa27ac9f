"""Fault specs carried in model names, and the counters behind `-once` / `-times<K>`.

Putting the fault in the model name means a gateway config (or a single request) can choose
it without any side channel to the emulator, and the same spec works for every provider.

Grammar (case-insensitive), on the last `/`-separated segment of the model name::

    fault-<kind>[-ra<N>][-once | -times<K>][-<anything else, ignored>]

    kind:  <status>         e.g. 429, 500, 503: that status with the provider's error body
           context          context-length-exceeded error in the provider's wording
           policy           content-policy rejection
           reset            read the request, then reset the TCP connection
           silent           read the request, then say nothing until the client hangs up
           slowheaders<S>   wait S seconds (float, default 1) before answering normally
           slowfirst<S>     send headers at once, wait S seconds before the first body bytes
           cut<N>           send N content chunks (default 3), then close mid-body
           stall<N>         send N content chunks (default 3), then hold the connection open
           malformed        one event in the stream is not JSON (non-stream: the body is not)
           nodone           stream without the final `data: [DONE]`
           noUsage          never report usage
           noprefill        reject (400) a conversation that ends with an assistant message
           401echo          401 whose message quotes the API key it was sent (some providers
                            do): the gateway must never pass it on
           rpm<N>           behave like a real free tier: 429 (Retry-After) once more than N
                            requests arrived in the last 60 s, otherwise answer normally
    -ra<N>    adds `Retry-After: N` (Gemini: a RetryInfo `retryDelay` in the body instead)
    -once     fail the first request for this model only; -times<K>: the first K requests
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from enum import StrEnum


class FaultKind(StrEnum):
    STATUS = "status"
    CONTEXT = "context"
    POLICY = "policy"
    RESET = "reset"
    SILENT = "silent"
    SLOW_HEADERS = "slowheaders"
    SLOW_FIRST = "slowfirst"
    CUT = "cut"
    STALL = "stall"
    MALFORMED = "malformed"
    NO_DONE = "nodone"
    NO_USAGE = "nousage"
    NO_PREFILL = "noprefill"
    RPM = "rpm"
    ECHO_KEY = "401echo"


DEFAULT_DELAY_SECONDS = 1.0
DEFAULT_CHUNKS = 3

_KIND = re.compile(
    r"fault-(?:"
    r"(?P<echo>401echo)"
    r"|(?P<status>[1-5]\d\d)"
    r"|(?P<timed>slowheaders|slowfirst)(?P<seconds>\d+(?:\.\d+)?)?"
    r"|(?P<counted>cut|stall|rpm)(?P<chunks>\d+)?"
    r"|(?P<plain>context|policy|reset|silent|malformed|nodone|nousage|noprefill)"
    r")(?=-|$)",
    re.IGNORECASE,
)
_MODIFIER = re.compile(r"-(?:ra(?P<ra>\d+)|(?P<once>once)|times(?P<times>\d+))(?=-|$)", re.I)


@dataclass(frozen=True, slots=True)
class Fault:
    kind: FaultKind
    status: int | None = None
    seconds: float = DEFAULT_DELAY_SECONDS
    chunks: int = DEFAULT_CHUNKS
    retry_after: int | None = None
    times: int | None = None  # None: every request fails


def parse_fault(model: str | None) -> Fault | None:
    """The fault a model name asks for, or None for a well-behaved model."""
    if not model:
        return None
    name = model.rsplit("/", 1)[-1]
    match = _KIND.match(name)
    if match is None:
        return None
    fields: dict = {}
    if match["echo"]:
        fields = {"kind": FaultKind.ECHO_KEY}
    elif match["status"]:
        fields = {"kind": FaultKind.STATUS, "status": int(match["status"])}
    elif match["timed"]:
        fields = {"kind": FaultKind(match["timed"].lower())}
        if match["seconds"]:
            fields["seconds"] = float(match["seconds"])
    elif match["counted"]:
        fields = {"kind": FaultKind(match["counted"].lower())}
        if match["chunks"]:
            fields["chunks"] = int(match["chunks"])
    else:
        fields = {"kind": FaultKind(match["plain"].lower())}

    position = match.end()
    while modifier := _MODIFIER.match(name, position):
        if modifier["ra"]:
            fields["retry_after"] = int(modifier["ra"])
        elif modifier["once"]:
            fields["times"] = 1
        else:
            fields["times"] = int(modifier["times"])
        position = modifier.end()
    return Fault(**fields)


class FaultCounters:
    """Counts requests per (provider, model) so `-once` / `-times<K>` faults can run out and
    `rpm<N>` can enforce its limit."""

    def __init__(self) -> None:
        self._seen: dict[tuple[str, str], int] = {}
        self._recent: dict[tuple[str, str], list[float]] = {}
        self._lock = threading.Lock()

    def fires(self, provider: str, model: str, fault: Fault) -> bool:
        if fault.kind is FaultKind.RPM:
            return self._over_rpm(provider, model, fault.chunks)
        if fault.times is None:
            return True
        with self._lock:
            count = self._seen.get((provider, model), 0) + 1
            self._seen[(provider, model)] = count
        return count <= fault.times

    def _over_rpm(self, provider: str, model: str, limit: int) -> bool:
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._recent.get((provider, model), []) if now - t < 60]
            recent.append(now)
            self._recent[(provider, model)] = recent
        return len(recent) > limit

    def reset(self) -> None:
        with self._lock:
            self._seen.clear()
            self._recent.clear()
