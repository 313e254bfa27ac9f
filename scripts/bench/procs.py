"""Server subprocesses: spawn, wait until ready, read RSS and CPU time, stop.

Every server runs in its own session (process group) so that stopping it also stops any
worker processes it forked, and a Ctrl-C in the terminal reaches only the benchmark, which
then stops the servers itself (in `Fleet.__exit__`).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_POLL_SECONDS = 0.02


class ServerError(RuntimeError):
    """A server exited or never became ready; the message carries the tail of its log."""


@dataclass(frozen=True)
class LaunchSpec:
    """Everything needed to start one server and to know when it is ready."""

    name: str
    argv: list[str]
    env: dict[str, str]
    port: int
    ready_path: str = "/health/liveliness"


@dataclass
class ServerProcess:
    """A running server. `spawned_at` is taken just before `Popen`, so startup time includes
    interpreter start and imports, which is what a user waits for."""

    spec: LaunchSpec
    popen: subprocess.Popen[bytes]
    log_path: Path
    spawned_at: float

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.spec.port}"

    def pids(self) -> list[int]:
        """The server and every process it forked (uvicorn/gunicorn workers)."""
        return [self.pid, *_descendants(self.pid)]

    def rss_mb(self) -> float:
        """Resident memory of the whole process tree, in MiB."""
        return sum(_rss_kib(pid) for pid in self.pids()) / 1024

    def cpu_seconds(self) -> float:
        """User + system CPU time of the whole process tree so far."""
        return sum(_cpu_seconds(pid) for pid in self.pids())

    def log_tail(self, lines: int = 25) -> str:
        if not self.log_path.exists():
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> float:
        """Poll the readiness path until it answers 200; seconds since spawn."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.popen.poll() is not None:
                raise ServerError(f"{self.spec.name} exited early:\n{self.log_tail()}")
            if _answers_200(self.spec.port, self.spec.ready_path):
                return time.perf_counter() - self.spawned_at
            time.sleep(_POLL_SECONDS)
        raise ServerError(f"{self.spec.name} not ready after {timeout:.0f}s:\n{self.log_tail()}")

    def wait_for_log(self, pattern: str, timeout: float) -> re.Match[str]:
        """Wait for a line such as the emulator's `READY <port>`."""
        regex = re.compile(pattern, re.MULTILINE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = regex.search(self.log_path.read_text(errors="replace"))
            if match:
                return match
            if self.popen.poll() is not None:
                raise ServerError(f"{self.spec.name} exited early:\n{self.log_tail()}")
            time.sleep(_POLL_SECONDS)
        raise ServerError(f"{self.spec.name} printed no {pattern!r}:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after `grace` seconds.
        The group is signalled even when the leader is gone: its workers may not be."""
        _signal_group(self.pid, signal.SIGTERM)
        try:
            self.popen.wait(grace)
        except subprocess.TimeoutExpired:
            _signal_group(self.pid, signal.SIGKILL)
            self.popen.wait(5)


@dataclass
class Fleet:
    """Starts servers and remembers each one, so a single `with` block stops them all, also
    when the benchmark fails or is interrupted."""

    log_dir: Path
    _servers: list[ServerProcess] = field(default_factory=list)

    def start(self, spec: LaunchSpec, log_name: str | None = None) -> ServerProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{log_name or spec.name}.log"
        with log_path.open("wb") as log:
            spawned_at = time.perf_counter()
            popen = subprocess.Popen(
                spec.argv,
                cwd=REPO,
                env=spec.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        server = ServerProcess(spec, popen, log_path, spawned_at)
        self._servers.append(server)
        return server

    def stop(self, server: ServerProcess) -> None:
        server.stop()
        if server in self._servers:
            self._servers.remove(server)

    def cpu_seconds(self) -> float:
        """CPU time of every running server plus this process: what the benchmark itself
        uses, to be subtracted from the machine's total (see `machine_busy_seconds`)."""
        own = os.times()
        return sum(s.cpu_seconds() for s in self._servers) + own.user + own.system

    def foreign_cpu_seconds(self) -> float:
        """CPU time the machine spent on anything but this benchmark (see `Fleet.cpu_seconds`)."""
        return machine_busy_seconds() - self.cpu_seconds()

    def stop_all(self) -> None:
        for server in reversed(self._servers):
            server.stop()
        self._servers.clear()

    def __enter__(self) -> Fleet:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop_all()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def machine_busy_seconds() -> float:
    """Non-idle CPU time of the whole machine (all cores), steal included: on a shared VM
    the hypervisor taking our cores is as much noise as a neighbour process."""
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:9]
    user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields)
    return (user + nice + system + irq + softirq + steal) / _CLOCK_TICKS


def _answers_200(port: int, path: str) -> bool:
    """http.client rather than httpx: a fresh httpx client builds an SSL context on every
    poll, which costs CPU while the server we are timing is starting."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        connection.request("GET", path)
        return connection.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        connection.close()


def _signal_group(pid: int, signum: signal.Signals) -> None:
    """The server was started in its own session, so its process group id is its pid."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signum)


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of /proc/<pid>/stat after the command name (which may contain spaces)."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return text.rpartition(")")[2].split()


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for pid in _all_pids():
        fields = _stat_fields(pid)
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(pid)
    found: list[int] = []
    stack = [root]
    while stack:
        for child in children.get(stack.pop(), []):
            found.append(child)
            stack.append(child)
    return found


def _all_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_seconds(pid: int) -> float:
    fields = _stat_fields(pid)
    if fields is None:
        return 0.0
    # utime and stime are fields 14 and 15 of stat; the list starts at field 3 (state).
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
