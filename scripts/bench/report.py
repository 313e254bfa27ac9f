"""Turn measurements into the gateway-vs-stock ratios, a markdown report and JSON.

The ratios are always gateway / stock LiteLLM (or gateway / a peer gateway) on the same
machine in the same run, which is what makes them comparable across machines even when the
absolute numbers are not. CPU per request is judged against absolute budgets instead: it is
what a deployment pays for, whatever the peers cost.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench.load import MODES, NON_STREAM, STREAM, LoadResult
from bench.stats import median, ratio

EMULATOR = "emulator"
STOCK = "stock"
GATEWAY = "gateway"
GATEWAY_TARGETS = ("gateway-virtual", "gateway-direct")
# Peers are compared with the virtual model: like MLflow's endpoint, a name the proxy maps.
GATEWAY_VS_PEERS = "gateway-virtual"
# The gateway's own CPU per request, server process tree, utime+stime.
CPU_BUDGET_MS = {NON_STREAM: 5.0, STREAM: 8.0}


@dataclass
class StartupResult:
    """Seconds from spawn to the first 200 on /health/liveliness, one sample per start."""

    server: str
    samples_s: list[float]

    @property
    def median_s(self) -> float | None:
        return median(self.samples_s)


@dataclass(frozen=True)
class RatioRule:
    """How to judge one gateway/stock ratio. `target` is the bar to pass, `goal` the aim."""

    metric: str
    higher_is_better: bool
    target: float | None
    goal: float | None

    def verdict(self, value: float | None) -> str:
        if value is None:
            return "n/a"
        if self.goal is not None and self._meets(value, self.goal):
            return "goal met"
        if self.target is not None and self._meets(value, self.target):
            return "target met"
        return "MISSED"

    def bar(self, limit: float | None) -> str:
        if limit is None:
            return "-"
        return f"{'≥' if self.higher_is_better else '≤'} {limit:g}"

    def _meets(self, value: float, limit: float) -> bool:
        return value >= limit if self.higher_is_better else value <= limit


ADDED_LATENCY = RatioRule("added p50 latency, c=1", False, target=1.0, goal=0.5)
THROUGHPUT = RatioRule("req/s, c={c}", True, target=None, goal=2.0)
STARTUP = RatioRule("startup time (median)", False, target=1.0, goal=None)
MEMORY = RatioRule("RSS after load", False, target=1.2, goal=None)


@dataclass
class Ratio:
    """One row of the verdict table: both raw values, their ratio, and how it was judged."""

    metric: str
    mode: str
    via: str
    gateway: float | None
    stock: float | None
    ratio: float | None
    target: str
    goal: str
    verdict: str


@dataclass
class PeerRatio:
    """Gateway (virtual model) against one peer gateway, for one figure."""

    metric: str
    mode: str
    concurrency: int
    peer: str
    gateway: float | None
    peer_value: float | None
    ratio: float | None  # gateway / peer


@dataclass
class CpuVerdict:
    """The gateway's CPU per request in one cell against its budget (worse of both names)."""

    mode: str
    concurrency: int
    gateway_ms: float | None
    budget_ms: float
    verdict: str


@dataclass
class BenchReport:
    """Everything one run measured; rendered to markdown and JSON from this one object."""

    meta: dict[str, Any]
    loads: list[LoadResult]
    startups: dict[str, StartupResult]
    rss_mb: dict[str, float]
    notes: list[str] = field(default_factory=list)
    rounds: list[list[LoadResult]] = field(default_factory=list)  # `loads` is their median
    ratios: list[Ratio] = field(default_factory=list)
    peers: dict[str, str] = field(default_factory=dict)  # measured peer -> version
    peer_ratios: list[PeerRatio] = field(default_factory=list)
    cpu_verdicts: list[CpuVerdict] = field(default_factory=list)

    def result(self, target: str, mode: str, concurrency: int) -> LoadResult | None:
        for load in self.loads:
            if (load.target, load.mode, load.concurrency) == (target, mode, concurrency):
                return load
        return None

    def added_p50_ms(self, load: LoadResult) -> float | None:
        """Target p50 minus the emulator-direct p50 for the same mode and concurrency."""
        base = self.result(EMULATOR, load.mode, load.concurrency)
        if load.target == EMULATOR or base is None:
            return None
        if load.p50_ms is None or base.p50_ms is None:
            return None
        return load.p50_ms - base.p50_ms

    def to_json(self) -> dict[str, Any]:
        return {
            "meta": self.meta,
            "notes": self.notes,
            "loads": [
                {**asdict(r), "added_p50_ms": _round(self.added_p50_ms(r))} for r in self.loads
            ],
            "startup": {
                name: {
                    "median_s": _round(s.median_s),
                    "samples_s": [_round(x) for x in s.samples_s],
                }
                for name, s in self.startups.items()
            },
            "rss_mb": {name: _round(mb, 1) for name, mb in self.rss_mb.items()},
            "ratios": [asdict(r) for r in self.ratios],
            "peers": self.peers,
            "peer_ratios": [asdict(r) for r in self.peer_ratios],
            "cpu_verdicts": [asdict(v) for v in self.cpu_verdicts],
            "rounds": [[asdict(r) for r in round_] for round_ in self.rounds],
        }


def compute_ratios(report: BenchReport, concurrency: int) -> list[Ratio]:
    """Every gateway/stock ratio we track, per mode and per gateway entry point."""
    ratios: list[Ratio] = []
    for mode in MODES:
        for via in GATEWAY_TARGETS:
            ratios.append(_added_latency_ratio(report, mode, via))
            ratios.append(_throughput_ratio(report, mode, via, concurrency))
    ratios.append(_make(STARTUP, "-", "-", _startup(report, GATEWAY), _startup(report, STOCK)))
    ratios.append(
        _make(MEMORY, "-", "-", report.rss_mb.get(GATEWAY), report.rss_mb.get(STOCK), digits=1)
    )
    return ratios


def _added_latency_ratio(report: BenchReport, mode: str, via: str) -> Ratio:
    ours, stock = report.result(via, mode, 1), report.result(STOCK, mode, 1)
    return _make(
        ADDED_LATENCY,
        mode,
        via,
        report.added_p50_ms(ours) if ours else None,
        report.added_p50_ms(stock) if stock else None,
    )


def _throughput_ratio(report: BenchReport, mode: str, via: str, concurrency: int) -> Ratio:
    ours, stock = report.result(via, mode, concurrency), report.result(STOCK, mode, concurrency)
    rule = replace(THROUGHPUT, metric=THROUGHPUT.metric.format(c=concurrency))
    return _make(rule, mode, via, ours.rps if ours else None, stock.rps if stock else None)


def _startup(report: BenchReport, server: str) -> float | None:
    result = report.startups.get(server)
    return result.median_s if result else None


def _make(
    rule: RatioRule,
    mode: str,
    via: str,
    gateway: float | None,
    stock: float | None,
    digits: int = 3,
) -> Ratio:
    value = ratio(gateway, stock)
    return Ratio(
        metric=rule.metric,
        mode=mode,
        via=via,
        gateway=_round(gateway, digits),
        stock=_round(stock, digits),
        ratio=_round(value, 2),
        target=rule.bar(rule.target),
        goal=rule.bar(rule.goal),
        verdict=rule.verdict(value),
    )


def compute_peer_ratios(report: BenchReport, concurrency: int) -> list[PeerRatio]:
    """Added p50 at c=1 and req/s at c=`concurrency`, per mode, gateway / each peer."""
    ratios: list[PeerRatio] = []
    for peer in report.peers:
        for mode in MODES:
            ours, theirs = report.result(GATEWAY_VS_PEERS, mode, 1), report.result(peer, mode, 1)
            ours_ms = report.added_p50_ms(ours) if ours else None
            theirs_ms = report.added_p50_ms(theirs) if theirs else None
            ratios.append(_peer_ratio(ADDED_LATENCY.metric, mode, 1, peer, ours_ms, theirs_ms))
        for mode in MODES:
            ours = report.result(GATEWAY_VS_PEERS, mode, concurrency)
            theirs = report.result(peer, mode, concurrency)
            ratios.append(
                _peer_ratio(
                    THROUGHPUT.metric.format(c=concurrency),
                    mode,
                    concurrency,
                    peer,
                    ours.rps if ours else None,
                    theirs.rps if theirs else None,
                )
            )
    return ratios


def _peer_ratio(
    metric: str, mode: str, concurrency: int, peer: str, ours: float | None, theirs: float | None
) -> PeerRatio:
    value = ratio(ours, theirs)
    return PeerRatio(
        metric, mode, concurrency, peer, _round(ours), _round(theirs), _round(value, 2)
    )


def compute_cpu_verdicts(report: BenchReport) -> list[CpuVerdict]:
    """Per cell, the worse of the two gateway names against CPU_BUDGET_MS."""
    verdicts = []
    cells = sorted({(r.mode, r.concurrency) for r in report.loads}, key=_cell_order)
    for mode, concurrency in cells:
        values = [
            load.server_cpu_ms_per_req
            for via in GATEWAY_TARGETS
            if (load := report.result(via, mode, concurrency)) is not None
            and load.server_cpu_ms_per_req is not None
        ]
        worst = max(values, default=None)
        budget = CPU_BUDGET_MS[mode]
        verdict = "n/a" if worst is None else "met" if worst <= budget else "MISSED"
        verdicts.append(CpuVerdict(mode, concurrency, _round(worst), budget, verdict))
    return verdicts


def _cell_order(cell: tuple[str, int]) -> tuple[int, int]:
    return MODES.index(cell[0]), cell[1]


# --- markdown -----------------------------------------------------------------------------


def render_markdown(report: BenchReport) -> str:
    meta = report.meta
    lines = [
        "## Gateway benchmark",
        "",
        f"{meta['started_at']}, commit {meta['commit']}, LiteLLM {meta['litellm']}, "
        f"Python {meta['python']}, {meta['cpus']} CPUs. "
        f"c=1: {meta['requests']} sequential requests; c={meta['concurrency']}: "
        f"{meta['concurrent_requests']} requests; warmup {meta['warmup']} each; "
        f"median of {meta['rounds']} round(s). "
        f"Stock auth: {meta['stock_auth']}. Client: {meta['client']}.",
        "",
        "### Latency and throughput",
        "",
        *_load_table(report),
        "",
        "### Startup and memory",
        "",
        *_process_table(report),
    ]
    if report.ratios:
        lines += ["", "### Gateway / stock LiteLLM", "", *_ratio_table(report.ratios)]
    if report.peer_ratios:
        lines += [
            "",
            f"### Gateway / peer gateways (gateway = {GATEWAY_VS_PEERS})",
            "",
            "Below 1 the gateway is better on added latency; above 1, on req/s.",
            "",
            *_peer_table(report),
        ]
    if report.cpu_verdicts:
        lines += [
            "",
            "### Server CPU per request (ms, utime+stime of the process tree)",
            "",
            *_cpu_table(report),
        ]
    if report.notes:
        lines += ["", "### Notes", "", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"


def _load_table(report: BenchReport) -> list[str]:
    header = (
        "target",
        "mode",
        "c",
        "p50 ms",
        "p99 ms",
        "added p50 ms",
        "req/s",
        "errors",
        "server CPU %",
        "server CPU ms/req",
        "client CPU %",
        "other CPU %",
    )
    ordered = sorted(report.loads, key=lambda r: (MODES.index(r.mode), r.concurrency))
    rows = [
        (
            load.target,
            load.mode,
            str(load.concurrency),
            _fmt(load.p50_ms, 2),
            _fmt(load.p99_ms, 2),
            _fmt(report.added_p50_ms(load), 2),
            _fmt(load.rps, 0),
            str(load.errors),
            _fmt(load.server_cpu_pct, 0),
            _fmt(load.server_cpu_ms_per_req, 2),
            _fmt(load.client_cpu_pct, 0),
            _fmt(load.foreign_cpu_pct, 0),
        )
        for load in ordered
    ]
    return _table(header, rows)


def _process_table(report: BenchReport) -> list[str]:
    header = ("server", "startup median s", "startup samples s", "RSS after load MB")
    rows = []
    for name in (STOCK, GATEWAY, *report.peers):
        startup = report.startups.get(name)
        if startup is None:
            continue
        samples = ", ".join(f"{s:.2f}" for s in startup.samples_s)
        rows.append((name, _fmt(startup.median_s, 2), samples, _fmt(report.rss_mb.get(name), 1)))
    return _table(header, rows)


def _ratio_table(ratios: list[Ratio]) -> list[str]:
    header = (
        "metric",
        "mode",
        "via",
        "gateway",
        "stock",
        "gateway/stock",
        "target",
        "goal",
        "verdict",
    )
    rows = [
        (
            r.metric,
            r.mode,
            r.via,
            _fmt(r.gateway, 2),
            _fmt(r.stock, 2),
            _fmt(r.ratio, 2),
            r.target,
            r.goal,
            r.verdict,
        )
        for r in ratios
    ]
    return _table(header, rows)


def _peer_table(report: BenchReport) -> list[str]:
    """One row per figure, a value and a ratio column pair per peer."""
    peers = list(report.peers)
    header = ("metric", "mode", "gateway")
    for peer in peers:
        header += (peer, f"gateway/{peer}")
    rows = []
    for first in (r for r in report.peer_ratios if r.peer == peers[0]):
        row: tuple[str, ...] = (first.metric, first.mode, _fmt(first.gateway, 2))
        for peer in peers:
            match = next(
                r
                for r in report.peer_ratios
                if (r.peer, r.metric, r.mode) == (peer, first.metric, first.mode)
            )
            row += (_fmt(match.peer_value, 2), _fmt(match.ratio, 2))
        rows.append(row)
    return _table(header, rows)


def _cpu_table(report: BenchReport) -> list[str]:
    """Every server side by side per cell, then the gateway's budget and verdict."""
    servers = [EMULATOR, STOCK, *GATEWAY_TARGETS, *report.peers]
    servers = [s for s in servers if any(load.target == s for load in report.loads)]
    header = ("mode", "c", *servers, "gateway budget", "verdict")
    rows = []
    for verdict in report.cpu_verdicts:
        values = []
        for server in servers:
            load = report.result(server, verdict.mode, verdict.concurrency)
            values.append(_fmt(load.server_cpu_ms_per_req if load else None, 2))
        budget = f"≤ {verdict.budget_ms:g}"
        rows.append((verdict.mode, str(verdict.concurrency), *values, budget, verdict.verdict))
    return _table(header, rows)


def _table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> list[str]:
    widths = [max(len(cell) for cell in column) for column in zip(header, *rows, strict=True)]

    def line(cells: tuple[str, ...]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    return [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(line, rows)]


def _fmt(value: float | None, digits: int) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _round(value: float | None, digits: int = 3) -> float | None:
    return None if value is None else round(value, digits)


def write_json(report: BenchReport, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report.to_json(), indent=2) + "\n", encoding="utf-8")
