"""The load: N workers sharing one pooled keep-alive client and one request budget.

Concurrency 1 is the same loop with one worker, so both levels share one code path. Every
request is checked (see `clients`): a proxy that answers errors fast must not look fast.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from bench.clients import CLIENTS, DONE, Call, RequestFailed
from bench.stats import median, percentile

STREAM = "stream"
NON_STREAM = "non-stream"
MODES = (NON_STREAM, STREAM)

# The kernel counts CPU time in 10 ms ticks: over shorter walls a CPU percentage is noise
# (the emulator at c=1 finishes 30 requests in under 10 ms).
MIN_CPU_WALL_S = 0.5
# Stop a measurement after this many failed requests: a dead server would otherwise cost
# one client timeout per remaining request.
MAX_ERRORS = 10


@dataclass(frozen=True)
class Target:
    """One way to reach the emulated model: directly, or through one of the proxies."""

    key: str
    url: str
    model: str
    headers: dict[str, str]
    cpu_seconds: Callable[[], float]  # CPU time of the server process(es) behind `url`
    stream_end: bytes = DONE  # in the tail of every complete stream


@dataclass(frozen=True)
class Workload:
    """What to send. `time_limit_s` bounds the timed part, so one pathologically slow target
    cannot blow the run's time budget; `LoadResult.requests` then says how many were done."""

    mode: str
    concurrency: int
    requests: int
    warmup: int
    client: str = "aiohttp"
    time_limit_s: float = 90.0


@dataclass
class LoadResult:
    """One target under one workload. Latencies are per request, end to end (the whole SSE
    stream for `stream`); CPU percentages are of one core over the timed wall time."""

    target: str
    mode: str
    concurrency: int
    requests: int
    errors: int
    wall_s: float
    rps: float
    p50_ms: float | None
    p99_ms: float | None
    mean_ms: float | None
    client_cpu_pct: float | None  # None when the run was too short to tell (MIN_CPU_WALL_S)
    server_cpu_pct: float | None
    # utime+stime of the server's process tree over the timed part, per successful request.
    server_cpu_ms_per_req: float | None
    foreign_cpu_pct: float | None  # CPU used by processes outside the benchmark
    first_error: str | None = None


def median_of_rounds(rounds: list[LoadResult]) -> LoadResult:
    """One result from the same measurement repeated in several rounds: the median of each
    figure, so one round disturbed by a neighbour on a shared box does not decide the table.
    Counts (requests, errors, wall time) are summed."""
    first = rounds[0]

    def mid(name: str) -> float | None:
        values = [v for r in rounds if (v := getattr(r, name)) is not None]
        return median(values)

    return LoadResult(
        target=first.target,
        mode=first.mode,
        concurrency=first.concurrency,
        requests=sum(r.requests for r in rounds),
        errors=sum(r.errors for r in rounds),
        wall_s=round(sum(r.wall_s for r in rounds), 3),
        rps=mid("rps") or 0.0,
        p50_ms=mid("p50_ms"),
        p99_ms=mid("p99_ms"),
        mean_ms=mid("mean_ms"),
        client_cpu_pct=mid("client_cpu_pct"),
        server_cpu_pct=mid("server_cpu_pct"),
        server_cpu_ms_per_req=mid("server_cpu_ms_per_req"),
        foreign_cpu_pct=mid("foreign_cpu_pct"),
        first_error=next((r.first_error for r in rounds if r.first_error), None),
    )


@dataclass
class _Outcome:
    latencies: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    wall_s: float = 0.0


@dataclass
class _CpuSnapshot:
    """CPU seconds so far: the target's server, this client, and everyone else."""

    server: float
    client: float
    foreign: float | None

    @classmethod
    def take(cls, target: Target, foreign: Callable[[], float] | None) -> _CpuSnapshot:
        return cls(target.cpu_seconds(), time.process_time(), foreign() if foreign else None)

    def __sub__(self, earlier: _CpuSnapshot) -> _CpuSnapshot:
        foreign = (
            None
            if self.foreign is None or earlier.foreign is None
            # Clamped: tick rounding can make the difference of two differences negative.
            else max(0.0, self.foreign - earlier.foreign)
        )
        return _CpuSnapshot(self.server - earlier.server, self.client - earlier.client, foreign)


async def measure(
    target: Target, workload: Workload, foreign_cpu: Callable[[], float] | None = None
) -> LoadResult:
    """Warm up (connections opened, lazy imports done), then time `workload.requests`.

    `foreign_cpu` returns the CPU seconds used so far by processes outside the benchmark; on
    a shared 2-core box that is the first thing to check when numbers move between runs.
    """
    async with CLIENTS[workload.client](workload.concurrency) as client:
        stream = workload.mode == STREAM
        call = client.call(target.url, target.headers, target.model, stream, target.stream_end)
        await _drive(call, workload.warmup, workload.concurrency, workload.time_limit_s)
        before = _CpuSnapshot.take(target, foreign_cpu)
        outcome = await _drive(call, workload.requests, workload.concurrency, workload.time_limit_s)
        used = _CpuSnapshot.take(target, foreign_cpu) - before
    return _result(target, workload, outcome, used)


async def _drive(call: Call, total: int, concurrency: int, time_limit_s: float) -> _Outcome:
    """`concurrency` workers take requests from one shared budget until it is spent (or too
    many failed, or time is up)."""
    outcome = _Outcome()
    issued = 0
    deadline = time.perf_counter() + time_limit_s

    def more() -> bool:
        return (
            issued < total and len(outcome.errors) < MAX_ERRORS and time.perf_counter() < deadline
        )

    async def worker() -> None:
        nonlocal issued
        while more():
            issued += 1
            started = time.perf_counter()
            try:
                await call()
            except RequestFailed as exc:
                outcome.errors.append(str(exc))
                continue
            outcome.latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(min(concurrency, max(total, 1)))))
    outcome.wall_s = time.perf_counter() - started
    return outcome


def _result(target: Target, workload: Workload, outcome: _Outcome, cpu: _CpuSnapshot) -> LoadResult:
    latencies = sorted(outcome.latencies)
    wall = outcome.wall_s or float("inf")
    return LoadResult(
        target=target.key,
        mode=workload.mode,
        concurrency=workload.concurrency,
        requests=len(latencies),
        errors=len(outcome.errors),
        wall_s=round(outcome.wall_s, 3),
        rps=round(len(latencies) / wall, 1),
        p50_ms=_ms(percentile(latencies, 0.50)),
        p99_ms=_ms(percentile(latencies, 0.99)),
        mean_ms=_ms(sum(latencies) / len(latencies) if latencies else None),
        client_cpu_pct=_pct(cpu.client, outcome.wall_s),
        server_cpu_pct=_pct(cpu.server, outcome.wall_s),
        server_cpu_ms_per_req=_ms_per_request(cpu.server, len(latencies)),
        foreign_cpu_pct=_pct(cpu.foreign, outcome.wall_s),
        first_error=outcome.errors[0] if outcome.errors else None,
    )


def _pct(cpu_seconds: float | None, wall_s: float) -> float | None:
    if cpu_seconds is None or wall_s < MIN_CPU_WALL_S:
        return None
    return round(100 * cpu_seconds / wall_s, 1)


def _ms_per_request(cpu_seconds: float, requests: int) -> float | None:
    """Unlike the percentages, kept for short runs too: the kernel's 10 ms ticks then limit
    its precision to about 10 ms / requests per process (see the report's notes)."""
    return round(1000 * cpu_seconds / requests, 3) if requests else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 3)
