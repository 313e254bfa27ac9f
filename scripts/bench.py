"""Benchmark our gateway against a stock LiteLLM proxy and two peer gateways, in one run.

    make bench                                 # full run (~5 min on 2 idle cores)
    make bench BENCH_ARGS=--quick              # smoke run (~1 min)
    make bench BENCH_ARGS="--quick --no-peers" # only the emulator, stock and ours

One provider emulator (tests/emulators) answers every request instantly, so what is measured
is the proxies' own overhead. Six targets get the same load from this process:

    emulator         the emulator directly: the floor, and proof the client is not the limit
    stock            stock `litellm --config` with one equivalent deployment, defaults kept
    gateway-virtual  our gateway, virtual model `bench` (one-candidate chain)
    gateway-direct   our gateway, direct name `groq/bench-model`
    portkey          Portkey's open-source gateway (npm), provider `openai` at the emulator
    mlflow           MLflow's AI Gateway (`mlflow gateway start`), one `openai` chat endpoint

for non-stream and stream (SSE read to the end), at concurrency 1 and `--concurrency`, all of it
repeated `--rounds` times with the tables showing per-figure medians (this is a shared 2-core
box: one disturbed round must not decide a verdict). It also times each proxy's startup (spawn
to first 200 on its health path), reads its RSS after the load, and reads from /proc the CPU
time (utime+stime) each server's process tree spent per request in each cell. Results: a
markdown report on stdout (and `--markdown FILE`), JSON in data/bench/latest.json, server logs
in data/bench/logs/.

The peers are installed on first use into ~/.cache/free-llm-gateway/bench-peers (see
bench/peers.py); one that cannot be installed or started is skipped with the reason printed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

# `bench` below is the helper package scripts/bench/, found next to this file (a package
# directory wins over this module of the same name).
from bench import peers, servers
from bench.clients import CLIENTS
from bench.load import MODES, LoadResult, Target, Workload, measure, median_of_rounds
from bench.procs import REPO, Fleet, LaunchSpec, ServerError, ServerProcess
from bench.report import (
    EMULATOR,
    GATEWAY,
    STOCK,
    BenchReport,
    StartupResult,
    compute_cpu_verdicts,
    compute_peer_ratios,
    compute_ratios,
    render_markdown,
    write_json,
)

T = TypeVar("T")

BENCH_DIR = REPO / "data" / "bench"
LOG_DIR = BENCH_DIR / "logs"
STARTUP_TIMEOUT_S = 120.0
SETTLE_S = 0.3  # lets a server finish post-response work (logging tasks) between runs
NOISY_FOREIGN_CPU_PCT = 15


@dataclass(frozen=True)
class Options:
    requests: int
    concurrent_requests: int
    concurrency: int
    warmup: int
    startup_runs: int
    rounds: int
    skip_stock: bool
    workers: int | None
    stock_auth: str
    client: str
    with_peers: bool
    json_path: Path
    markdown_path: Path | None


def parse_args(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(
        prog="scripts/bench.py",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="smoke run: 30 / 200 requests")
    parser.add_argument("--requests", type=int, help="sequential requests at c=1 (default 200)")
    parser.add_argument(
        "--concurrent-requests", type=int, help="requests at --concurrency (default 1000)"
    )
    parser.add_argument("--concurrency", type=int, default=32, help="workers (default 32)")
    parser.add_argument("--warmup", type=int, help="untimed requests first (default 20)")
    parser.add_argument("--startup-runs", type=int, help="starts per proxy (default 3)")
    parser.add_argument(
        "--rounds", type=int, help="repeat all load runs, report medians (default 3)"
    )
    parser.add_argument("--skip-stock", action="store_true", help="no stock LiteLLM proxy")
    parser.add_argument(
        "--no-peers", action="store_true", help="no peer gateways (Portkey, MLflow)"
    )
    parser.add_argument(
        "--workers", type=int, help="server processes, if `gateway run` supports --workers"
    )
    parser.add_argument(
        "--stock-auth",
        choices=("master-key", "open"),
        default="master-key",
        help="stock proxy with a master key (the documented setup) or open like our gateway",
    )
    parser.add_argument(
        "--client",
        choices=sorted(CLIENTS),
        default="aiohttp",
        help="load client (default aiohttp: far less CPU per request than httpx at c>1)",
    )
    parser.add_argument(
        "--json", type=Path, default=BENCH_DIR / "latest.json", help="where to write the JSON"
    )
    parser.add_argument("--markdown", type=Path, help="also write the markdown report here")
    args = parser.parse_args(argv)
    return Options(
        requests=_positive(args.requests, 30 if args.quick else 200),
        concurrent_requests=_positive(args.concurrent_requests, 200 if args.quick else 1000),
        concurrency=max(2, args.concurrency),
        warmup=_positive(args.warmup, 10 if args.quick else 20),
        startup_runs=_positive(args.startup_runs, 1 if args.quick else 3),
        rounds=_positive(args.rounds, 1 if args.quick else 3),
        skip_stock=args.skip_stock,
        workers=args.workers,
        stock_auth=args.stock_auth,
        client=args.client,
        with_peers=not args.no_peers,
        json_path=args.json,
        markdown_path=args.markdown,
    )


def _positive(value: int | None, default: int) -> int:
    return default if value is None else max(1, value)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    # `kill <bench pid>` must clean up like Ctrl-C does: both unwind through Fleet.__exit__.
    signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        report = run(options)
    except KeyboardInterrupt:
        print("\ninterrupted; servers stopped", file=sys.stderr)
        return 130
    except ServerError as exc:
        print(f"\nbenchmark aborted: {exc}", file=sys.stderr)
        return 1
    markdown = render_markdown(report)
    print(markdown)
    write_json(report, options.json_path)
    if options.markdown_path:
        options.markdown_path.parent.mkdir(parents=True, exist_ok=True)
        options.markdown_path.write_text(markdown, encoding="utf-8")
    log(f"JSON: {options.json_path}; server logs: {LOG_DIR}")
    # A failing peer is reported in the notes; only our side of the comparison fails the run.
    failed = [r for r in report.loads if r.errors and r.target not in report.peers]
    return 1 if failed else 0


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


# --- orchestration --------------------------------------------------------------------------


def run(options: Options) -> BenchReport:
    started_at = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
    notes: list[str] = []
    # Installs run first, so that they never compete with a timed start or a load.
    peer_homes: dict[str, Path] = {}
    if options.with_peers:
        peer_homes, skipped = peers.install(log)
        notes += skipped
    with tempfile.TemporaryDirectory(prefix="gateway-bench-") as tmp, Fleet(LOG_DIR) as fleet:
        emulator = start_emulator(fleet)
        launcher = Launcher(Path(tmp), emulator.spec.port, options, notes, peer_homes)
        warm_import_cache()
        startups, proxies = start_proxies(fleet, launcher, options, notes)
        targets = build_targets(emulator, proxies, launcher)
        rounds = run_async(
            run_loads(targets, workloads(options), options.rounds, fleet.foreign_cpu_seconds)
        )
        rss = {name: server.rss_mb() for name, server in proxies.items()}
    loads = [median_of_rounds(list(same)) for same in zip(*rounds, strict=True)]
    measured_peers = {n: p.version for n, p in launcher.peers.items() if n in proxies}
    notes += interpretation_notes([r for round_ in rounds for r in round_], options)
    notes.append(cpu_note(options))
    if options.with_peers:
        notes += [peer.note for name, peer in launcher.peers.items() if name in measured_peers]
        notes.append(peers.BIFROST_NOTE)
    meta = build_meta(options, started_at, measured_peers)
    report = BenchReport(meta, loads, startups, rss, notes, rounds, peers=measured_peers)
    if not options.skip_stock:
        report.ratios = compute_ratios(report, options.concurrency)
    report.peer_ratios = compute_peer_ratios(report, options.concurrency)
    report.cpu_verdicts = compute_cpu_verdicts(report)
    return report


class Launcher:
    """Writes every config once and hands out a fresh launch spec (new port) per start."""

    def __init__(
        self,
        workdir: Path,
        emulator_port: int,
        options: Options,
        notes: list[str],
        peer_homes: dict[str, Path],
    ):
        self.stock_auth = servers.StockAuth(
            "sk-bench-" + os.urandom(16).hex() if options.stock_auth == "master-key" else None
        )
        self._emulator_port = emulator_port
        self._data_dir = workdir / "gateway-data"
        self._gateway_config = servers.write_gateway_config(workdir / "gateway-config")
        self._stock_config = servers.write_stock_config(
            workdir / "stock" / "config.yaml", emulator_port, self.stock_auth
        )
        self.gateway_workers, self.stock_workers = _resolve_workers(options.workers, notes)
        self.peers: dict[str, peers.Peer] = {}
        for name, home in peer_homes.items():
            self.peers[name] = peers.configure(
                name, home, workdir, emulator_port, self.gateway_workers
            )

    def spec(self, name: str) -> LaunchSpec:
        if name in self.peers:
            return self.peers[name].make_spec()
        if name == STOCK:
            return servers.stock_spec(self._stock_config, self.stock_workers)
        return servers.gateway_spec(
            self._gateway_config, self._data_dir, self._emulator_port, self.gateway_workers
        )


def _resolve_workers(requested: int | None, notes: list[str]) -> tuple[int | None, int]:
    """(gateway --workers, stock --num_workers). Both proxies get the same process count, or
    the comparison would be between machines' core counts rather than proxies."""
    if requested is None:
        return None, 1
    if servers.gateway_supports_workers():
        notes.append(f"--workers {requested}: gateway and stock both ran {requested} workers.")
        return requested, requested
    notes.append(
        f"--workers {requested} ignored: `gateway run` has no --workers option, so both "
        "proxies ran one process."
    )
    return None, 1


def start_emulator(fleet: Fleet) -> ServerProcess:
    emulator = fleet.start(servers.emulator_spec())
    emulator.wait_for_log(rf"^READY {emulator.spec.port}$", timeout=30)
    log(f"emulator ready on port {emulator.spec.port}")
    return emulator


def warm_import_cache() -> None:
    """Import LiteLLM's proxy once, untimed, so the first timed start (whichever proxy goes
    first) does not pay for a cold page cache that the second one then gets for free."""
    subprocess.run(
        [sys.executable, "-c", "import litellm.proxy.proxy_server"],
        cwd=REPO,
        env=servers.base_env(),
        capture_output=True,
        timeout=STARTUP_TIMEOUT_S,
        check=False,
    )


def start_proxies(
    fleet: Fleet, launcher: Launcher, options: Options, notes: list[str]
) -> tuple[dict[str, StartupResult], dict[str, ServerProcess]]:
    """Start each proxy `startup_runs` times, one at a time so they never compete for CPU;
    the last start of each is kept running for the load and counts as a sample too. A peer
    that does not start is dropped with a note; ours or stock failing aborts the run."""
    names = [GATEWAY] if options.skip_stock else [STOCK, GATEWAY]
    names += list(launcher.peers)
    samples: dict[str, list[float]] = {name: [] for name in names}
    kept: dict[str, ServerProcess] = {}
    for run_index in range(1, options.startup_runs + 1):
        last = run_index == options.startup_runs
        for name in list(names):
            log_name = name if last else f"{name}-start{run_index}"
            try:
                server, seconds = timed_start(fleet, launcher.spec(name), log_name)
            except ServerError as exc:
                if name not in launcher.peers:
                    raise
                names.remove(name)
                del samples[name]
                notes.append(f"{name} skipped: it did not start: {_one_line(exc)}")
                log(f"{name} skipped: {exc}")
                continue
            samples[name].append(seconds)
            if last:
                kept[name] = server
            else:
                fleet.stop(server)
    return {name: StartupResult(name, s) for name, s in samples.items()}, kept


def _one_line(exc: Exception) -> str:
    """`<name> exited early:` and the log's last error line (else its last line)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    errors = [line for line in lines[1:] if "error" in line.lower()]
    return " ... ".join(dict.fromkeys([lines[0], (errors or lines)[-1]]))


def timed_start(fleet: Fleet, spec: LaunchSpec, log_name: str) -> tuple[ServerProcess, float]:
    server = fleet.start(spec, log_name)
    seconds = server.wait_ready(STARTUP_TIMEOUT_S)
    log(f"{spec.name} ready in {seconds:.2f}s (pid {server.pid}, port {spec.port})")
    return server, seconds


def build_targets(
    emulator: ServerProcess, proxies: dict[str, ServerProcess], launcher: Launcher
) -> list[Target]:
    """Every target gets the same request body and headers: the stock master key is sent to
    all of them (the emulator accepts any key, the gateway runs without PROXY_API_KEY). Peers
    differ only in the model name they route on and, for Portkey, its routing headers."""
    headers = launcher.stock_auth.headers
    emulator_url = servers.upstream_api_base(emulator.spec.port) + "/chat/completions"
    targets = [
        Target(EMULATOR, emulator_url, servers.UPSTREAM_MODEL, headers, emulator.cpu_seconds)
    ]
    if (stock := proxies.get(STOCK)) is not None:
        url = stock.base_url + "/v1/chat/completions"
        targets.append(Target(STOCK, url, servers.VIRTUAL_MODEL, headers, stock.cpu_seconds))
    gateway = proxies[GATEWAY]
    url = gateway.base_url + "/v1/chat/completions"
    targets += [
        Target("gateway-virtual", url, servers.VIRTUAL_MODEL, headers, gateway.cpu_seconds),
        Target("gateway-direct", url, servers.DIRECT_MODEL, headers, gateway.cpu_seconds),
    ]
    for name, peer in launcher.peers.items():
        if (server := proxies.get(name)) is None:
            continue
        url = server.base_url + "/v1/chat/completions"
        peer_headers = {**headers, **peer.headers}
        targets.append(
            Target(name, url, peer.model, peer_headers, server.cpu_seconds, peer.stream_end)
        )
    return targets


def workloads(options: Options) -> list[Workload]:
    """Interleaved by (mode, concurrency): every target runs each workload back to back, so
    slow drift on the machine hits all targets alike."""
    return [
        # The warmup at c>1 must at least open every pooled connection.
        Workload(mode, concurrency, requests, max(options.warmup, concurrency), options.client)
        for mode in MODES
        for concurrency, requests in (
            (1, options.requests),
            (options.concurrency, options.concurrent_requests),
        )
    ]


async def run_loads(
    targets: list[Target], plan: list[Workload], rounds: int, foreign_cpu: Callable[[], float]
) -> list[list[LoadResult]]:
    """The whole plan `rounds` times; each round lists its results in the same order."""
    results: list[list[LoadResult]] = []
    for round_number in range(1, rounds + 1):
        log(f"round {round_number} of {rounds}")
        results.append([])
        for workload in plan:
            for target in targets:
                result = await measure(target, workload, foreign_cpu)
                results[-1].append(result)
                log(_progress_line(result))
                await asyncio.sleep(SETTLE_S)
    return results


def _progress_line(result: LoadResult) -> str:
    errors = f", {result.errors} errors: {result.first_error}" if result.errors else ""
    return (
        f"{result.target:<16} {result.mode:<10} c={result.concurrency:<3} "
        f"p50 {result.p50_ms or 0:7.2f} ms  p99 {result.p99_ms or 0:7.2f} ms  "
        f"{result.rps:7.0f} req/s  server CPU {_pct(result.server_cpu_pct)}  "
        f"other CPU {_pct(result.foreign_cpu_pct)}{errors}"
    )


def _pct(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:4.0f}%"


def run_async(coroutine: Coroutine[Any, Any, T]) -> T:
    """uvloop when available: a cheaper client leaves more of the 2 cores to the servers."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(coroutine)


# --- report metadata ------------------------------------------------------------------------


def interpretation_notes(loads: list[LoadResult], options: Options) -> list[str]:
    """Flag what limits what the numbers can say."""
    notes = []
    if not options.skip_stock:
        notes.append(
            "Stock LiteLLM keeps its defaults, including uvicorn's access log (one line per "
            "request, to data/bench/logs/stock.log); the gateway logs at WARNING."
        )
    ceiling = max((r.rps for r in loads if r.target == EMULATOR), default=0.0)
    busiest_proxy = max((r.rps for r in loads if r.target != EMULATOR), default=0.0)
    if ceiling and busiest_proxy > 0.5 * ceiling:
        notes.append(
            f"The fastest proxy run reached {busiest_proxy:.0f} req/s, more than half the "
            f"client+emulator ceiling ({ceiling:.0f} req/s): proxy throughput may be "
            "understated."
        )
    noisy = [r for r in loads if (r.foreign_cpu_pct or 0) > NOISY_FOREIGN_CPU_PCT]
    if noisy:
        worst = max(noisy, key=lambda r: r.foreign_cpu_pct or 0)
        notes.append(
            f"Other processes used more than {NOISY_FOREIGN_CPU_PCT}% of a core during "
            f"{len(noisy)} of {len(loads)} measurements (worst: {worst.foreign_cpu_pct:.0f}% "
            f"during {worst.target} {worst.mode} c={worst.concurrency}): rerun on an idle "
            "machine before trusting small differences."
        )
    for result in loads:
        if result.errors:
            notes.append(
                f"{result.target} {result.mode} c={result.concurrency}: {result.errors} "
                f"failed requests, first: {result.first_error}"
            )
    return notes


def cpu_note(options: Options) -> str:
    return (
        "CPU ms/req is the utime+stime of the server's process tree (/proc, all threads and "
        "forked workers) over the timed part, per successful request. /proc counts in 10 ms "
        f"ticks: at c=1 with {options.requests} requests that is about "
        f"±{10 / options.requests:.2f} ms per process."
    )


def build_meta(options: Options, started_at: str, measured_peers: dict[str, str]) -> dict[str, Any]:
    return {
        "started_at": started_at,
        "commit": _git_commit(),
        "litellm": _version("litellm"),
        "uvicorn": _version("uvicorn"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "requests": options.requests,
        "concurrent_requests": options.concurrent_requests,
        "concurrency": options.concurrency,
        "warmup": options.warmup,
        "startup_runs": options.startup_runs,
        "rounds": options.rounds,
        "stock_auth": options.stock_auth,
        "workers": options.workers,
        "client": f"{options.client} {_version(options.client)}{_loop_name()}",
        "peers": measured_peers,
    }


def _git_commit() -> str:
    result = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() or "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _loop_name() -> str:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return " on asyncio"
    return " on uvloop"


_T0 = time.monotonic()


def log(message: str) -> None:
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
