"""The container, compose and Kubernetes files (Dockerfile, compose.yaml, deploy/).

No Docker engine runs here and no image can be pulled, so these tests check what can be
checked without one: the Dockerfile's instructions, and the command the image runs, run from a
fresh copy of the repository installed the way the image installs it, in the environment and
directory layout the Dockerfile sets up, answered by the image's own HEALTHCHECK command;
compose.yaml's wiring; the nginx balancer (`nginx -t`, and requests spread over every address
its resolver returns, re-read as replicas come and go, with real nginx and a stub DNS server on
loopback); every Kubernetes manifest against the Kubernetes schema (kubernetes-validate,
offline) and against the gateway's real paths, ports and settings.
"""

from __future__ import annotations

import contextlib
import copy
import http.server
import json
import os
import re
import shlex
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import sys
import sysconfig
import threading
import time
import tomllib
from collections import Counter
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

import httpx
import pytest
import yaml

from tests.gateway_process import free_port

REPO = Path(__file__).resolve().parent.parent
DOCKERFILE = REPO / "Dockerfile"
COMPOSE = REPO / "compose.yaml"
NGINX_CONF = REPO / "deploy" / "nginx" / "gateway.conf"
K8S = REPO / "deploy" / "k8s"
K8S_VERSIONS = ("1.29.0", "1.37.0")  # oldest still common, newest the validator carries


# -- the Dockerfile, parsed ------------------------------------------------------------------


def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) per logical line: continuations joined, comments dropped."""
    instructions: list[tuple[str, str]] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        keyword, _, rest = line.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


def args_of(keyword: str) -> list[str]:
    return [rest for name, rest in dockerfile() if name == keyword]


def image_env() -> dict[str, str]:
    env: dict[str, str] = {}
    for rest in args_of("ENV"):
        for pair in shlex.split(rest):
            key, sep, value = pair.partition("=")
            assert sep, f"ENV {pair!r}: use KEY=VALUE"
            env[key] = value
    return env


def image_cmd() -> list[str]:
    (cmd,) = args_of("CMD")
    return json.loads(cmd)  # exec form: the gateway is PID 1 and gets SIGTERM itself


def healthcheck() -> tuple[dict[str, str], list[str]]:
    (rest,) = args_of("HEALTHCHECK")
    options, sep, command = rest.partition(" CMD ")
    assert sep, "HEALTHCHECK ... CMD [...]"
    parsed = dict(o.lstrip("-").split("=", 1) for o in options.split())
    return parsed, json.loads(command)


def cmd_port() -> int:
    cmd = image_cmd()
    return int(cmd[cmd.index("--port") + 1])


def seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+(?:\.\d+)?)(s|m)?", str(value))
    assert match, value
    return float(match.group(1)) * (60 if match.group(2) == "m" else 1)


def test_dockerfile_base_user_install_and_command():
    instructions = dockerfile()
    assert instructions[0] == ("FROM", "python:3.11-slim")

    # The package from the repository, not editable, no dev extra.
    runs = " ".join(args_of("RUN"))
    assert re.search(r'pip install "?\.(\[database\])?"?(\s|$)', runs), runs
    assert "pip install -e" not in runs and "[dev]" not in runs and "--editable" not in runs

    # Non-root: the last USER is the numeric uid the image creates (Kubernetes' runAsNonRoot
    # can only check a numeric one), and it comes after every RUN.
    users = [i for i, (name, _) in enumerate(instructions) if name == "USER"]
    assert users, "no USER: the gateway would run as root"
    user = instructions[users[-1]][1]
    uid = user.split(":")[0]
    assert uid.isdigit() and int(uid) != 0, user
    assert f"--uid {uid}" in runs
    assert all(name != "RUN" for name, _ in instructions[users[-1] :])

    assert image_cmd() == ["gateway", "run", "--host", "0.0.0.0", "--port", "8000"]
    assert args_of("EXPOSE") == [str(cmd_port())]


def test_dockerfile_directories_are_set_copied_and_volumes():
    env = image_env()
    for name in ("GATEWAY_CONFIG_DIR", "GATEWAY_DATA_DIR", "GATEWAY_RANKINGS_DIR"):
        # The gateway's defaults are relative to a checkout: an installed package needs these.
        assert PurePosixPath(env[name]).is_absolute(), name
    copies = {}
    for rest in args_of("COPY"):
        *sources, destination = rest.split()
        copies[destination.rstrip("/")] = sources[0]
    assert copies[env["GATEWAY_CONFIG_DIR"]].rstrip("/") == "litellm_config"
    assert copies[env["GATEWAY_RANKINGS_DIR"]].rstrip("/") == "rankings"
    (volumes,) = args_of("VOLUME")
    assert set(json.loads(volumes)) == {env["GATEWAY_CONFIG_DIR"], env["GATEWAY_DATA_DIR"]}
    runs = " ".join(args_of("RUN"))
    assert f"chown -R gateway:gateway {env['GATEWAY_DATA_DIR']}" in runs  # writable by USER


def test_dockerfile_healthcheck_probes_liveness_with_python_on_the_cmd_port():
    options, command = healthcheck()
    assert command[:2] == ["python", "-c"]  # slim has no curl
    assert f"http://127.0.0.1:{cmd_port()}/health/liveliness" in command[2]
    assert seconds(options["start-period"]) >= 30  # LiteLLM takes seconds to import
    assert seconds(options["timeout"]) < seconds(options["interval"])


def test_dockerfile_generates_the_prisma_client_litellm_expects():
    """prisma pinned at the version LiteLLM's own image installs (0.11.0), inside the range the
    installed LiteLLM declares, and `prisma generate` run on LiteLLM's schema."""
    from packaging.requirements import Requirement

    runs = " ".join(args_of("RUN"))
    assert 'pip install ".[database]"' in runs, runs
    extra = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    pins = [r for r in extra["optional-dependencies"]["database"] if r.startswith("prisma")]
    pinned = re.fullmatch(r"prisma==([\d.]+)", pins[0]) if pins else None
    assert pinned, "prisma must be pinned in the `database` extra"
    declared = [
        Requirement(r)
        for r in metadata.requires("litellm") or []
        if r.startswith("prisma") and "extra-proxy" in r
    ]
    assert declared, "LiteLLM no longer declares prisma in its extra-proxy extra"
    assert declared[0].specifier.contains(pinned.group(1)), (declared[0], pinned.group(1))
    assert "prisma generate --schema" in runs
    assert '/ "proxy" / "schema.prisma"' in runs
    import litellm

    assert (Path(litellm.__file__).parent / "proxy" / "schema.prisma").is_file()
    assert "PRISMA_BINARY_CACHE_DIR" in image_env()  # engines and CLI kept in the image


def test_dockerignore_keeps_secrets_and_local_state_out_but_not_the_sources():
    patterns = [
        line.strip()
        for line in (REPO / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    for needed in (".venv", "data", ".git", ".env", "**/__pycache__", ".pytest_cache"):
        assert needed in patterns, needed
    copied = {source.rstrip("/") for rest in args_of("COPY") for source in rest.split()[:-1]}
    assert copied == {"pyproject.toml", "README.md", "gateway", "litellm_config", "rankings"}
    for source in copied:
        assert source not in patterns, source


# -- the image's command from a fresh clone --------------------------------------------------


def _tracked_and_new_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError) as exc:
        pytest.skip(f"not a git checkout: {exc}")
    return [name for name in out.decode().split("\0") if name and (REPO / name).is_file()]


def _fresh_clone(target: Path) -> Path:
    """The working tree's tracked files plus new untracked ones (what a clone of it would
    hold once committed), without ignored files: no .venv, data/, .env or caches."""
    for name in _tracked_and_new_files():
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, destination)
    return target


def _build_layout(context: Path, root: Path) -> Path:
    """Play the Dockerfile's WORKDIR/COPY/VOLUME into `root` (standing for `/`). RUN steps are
    the package install below; the rest (apt, useradd, prisma) needs the real build."""
    workdir = PurePosixPath("/")
    for name, rest in dockerfile():
        if name == "WORKDIR":
            workdir = workdir / rest
        elif name == "COPY":
            *sources, destination = rest.split()
            target = root / str(workdir / destination).lstrip("/")
            for source in sources:
                origin = context / source.rstrip("/")
                if origin.is_dir():
                    shutil.copytree(origin, target, dirs_exist_ok=True)
                else:
                    into = target if destination.endswith("/") or len(sources) > 1 else None
                    (into or target.parent).mkdir(parents=True, exist_ok=True)
                    shutil.copy2(origin, into / origin.name if into else target)
        elif name == "VOLUME":
            for volume in json.loads(rest):
                (root / volume.lstrip("/")).mkdir(parents=True, exist_ok=True)
    return root / str(workdir).lstrip("/")


def _venv_with_the_package(build_dir: Path, venv: Path) -> Path:
    """`pip install .` of the copied sources into a new venv (no deps: those come from this
    test run's environment, added to the venv's path)."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    (purelib / "test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run(
        [
            *(sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install"),
            *("--no-deps", "--no-input", "--disable-pip-version-check", "--quiet", str(build_dir)),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (purelib / "gateway" / "__init__.py").is_file()  # a real install, not a link
    return venv / "bin"


def test_the_image_command_serves_from_a_fresh_clone(tmp_path):
    context = _fresh_clone(tmp_path / "clone")
    root = tmp_path / "image"
    workdir = _build_layout(context, root)
    (build_dir,) = {  # the directory `pip install .` runs in
        root / str(PurePosixPath(rest)).lstrip("/")
        for name, rest in dockerfile()
        if name == "WORKDIR" and (root / rest.lstrip("/") / "pyproject.toml").is_file()
    }
    bin_dir = _venv_with_the_package(build_dir, tmp_path / "venv")

    # The container's environment: the image's ENV (paths under `root`), nothing inherited.
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "LANG": "C.UTF-8"}
    for key, value in image_env().items():
        env[key] = str(root / value.lstrip("/")) if value.startswith("/") else value
    Path(env["HOME"]).mkdir(parents=True, exist_ok=True)
    # Safety net (not in the image): no provider call may leave this machine.
    for name in ("GROQ", "GEMINI", "GITHUB_MODELS", "CLOUDFLARE", "BRAVE", "TAVILY"):
        env[f"{name}_API_BASE"] = "http://127.0.0.1:9/v1"
    env["DUCKDUCKGO_API_BASE"] = "http://127.0.0.1:9/html/"
    config_before = sorted(p.name for p in Path(env["GATEWAY_CONFIG_DIR"]).iterdir())

    port = free_port()
    cmd = image_cmd()
    cmd[cmd.index("--host") + 1] = "127.0.0.1"  # bind loopback only, on a free port
    cmd[cmd.index("--port") + 1] = str(port)
    _, check = healthcheck()
    check = [part.replace(f"127.0.0.1:{cmd_port()}", f"127.0.0.1:{port}") for part in check]
    log = tmp_path / "gateway.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            cmd, cwd=workdir, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 90
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            result = subprocess.run(check, env=env, capture_output=True, timeout=10)
            if result.returncode == 0:
                break
            assert time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)

        base = f"http://127.0.0.1:{port}"
        ready = httpx.get(base + "/health/readiness", timeout=10)
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
        models = {m["id"] for m in httpx.get(base + "/v1/models", timeout=10).json()["data"]}
        assert {"coding-elite", "coding-fast", "chat-smart"} <= models  # the image's config
        generated = Path(env["GATEWAY_DATA_DIR"]) / "generated" / "litellm_config.yaml"
        assert generated.is_file()  # runtime files go to the data volume...
        # ...and the config volume is only read (compose and Kubernetes mount it read-only).
        assert sorted(p.name for p in Path(env["GATEWAY_CONFIG_DIR"]).iterdir()) == config_before
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # what `docker stop` sends
        try:
            returncode = process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            raise
    # A clean drain: uvicorn finishes, then ends by the signal it got (exit status 143 in
    # docker, what `docker stop` expects).
    assert returncode in (0, -signal.SIGTERM), log.read_text()[-3000:]
    assert "Application shutdown complete." in log.read_text()


# -- compose.yaml ------------------------------------------------------------------------------


def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def test_compose_services_and_scalable_gateway():
    services = compose()["services"]
    assert {"gateway", "lb", "redis", "postgres"} <= set(services)
    gateway = services["gateway"]
    # `--scale gateway=3`: no fixed host port and no fixed container name on the gateway.
    assert "ports" not in gateway and "container_name" not in gateway
    assert str(cmd_port()) in [str(p) for p in gateway["expose"]]
    assert gateway["build"] == "."
    assert gateway["env_file"] in (".env", [".env"])  # the keys
    assert seconds(gateway["stop_grace_period"]) > 20 + 5  # drain (20 s) + shutdown margin
    assert services["lb"]["ports"], "the balancer publishes the one address"
    assert services["lb"]["depends_on"]["gateway"]["condition"] == "service_healthy"


def test_compose_wires_redis_postgres_and_the_image_directories():
    doc = compose()
    services = doc["services"]
    gateway = services["gateway"]
    env = gateway["environment"]
    # .env (env_file) is a copy of .env.example with empty GATEWAY_* lines, which would blank
    # the image's ENV: compose's `environment` wins over env_file, so it repeats them.
    for key, value in image_env().items():
        if key.startswith("GATEWAY_"):
            assert env[key] == value, key
    assert env["GATEWAY_REDIS_URL"] == "redis://redis:6379/0"
    postgres_env = services["postgres"]["environment"]
    db = re.fullmatch(r"postgresql://([^:]+):([^@]+)@postgres:5432/(\w+)", env["GATEWAY_DB_URL"])
    assert db, env["GATEWAY_DB_URL"]
    assert db.group(1) == postgres_env["POSTGRES_USER"]
    assert db.group(2) == postgres_env["POSTGRES_PASSWORD"]
    assert db.group(3) == postgres_env["POSTGRES_DB"]
    for needed in ("redis", "postgres"):
        assert gateway["depends_on"][needed]["condition"] == "service_healthy"
        assert services[needed]["healthcheck"]["test"]
        volume = services[needed]["volumes"][0].split(":")[0]
        assert volume in doc["volumes"], f"{needed} keeps its data in a named volume"
    assert services["lb"]["healthcheck"]["test"]
    mounts = {m.split(":")[1]: m.split(":") for m in gateway["volumes"]}
    config = mounts[image_env()["GATEWAY_CONFIG_DIR"]]
    assert config[0] == "./litellm_config" and config[2] == "ro"
    for mount in gateway["volumes"] + services["lb"]["volumes"] + services["postgres"]["volumes"]:
        source = mount.split(":")[0]
        if source.startswith("./"):
            assert (REPO / source).exists(), source
    init = (REPO / "deploy" / "postgres" / "init.sql").read_text()
    assert "CREATE DATABASE litellm;" in init  # LiteLLM's database mode, apart from ours


# -- the nginx load balancer ------------------------------------------------------------------


def test_nginx_config_resolves_the_replicas_at_run_time():
    text = NGINX_CONF.read_text()
    code = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    assert code.count("{") == code.count("}")
    assert re.search(r"^\s*resolver 127\.0\.0\.11 valid=\d+s", code, re.M)  # Docker's DNS
    upstream = re.search(r"set \$(\w+) http://(\w+):(\d+);", code)
    assert upstream, "the upstream must be a variable, or nginx resolves it once at startup"
    assert re.search(rf"proxy_pass \${upstream.group(1)};", code)
    assert upstream.group(2) in compose()["services"]  # the compose service name
    assert int(upstream.group(3)) == cmd_port()
    assert "proxy_buffering off;" in code  # streams pass through as written
    assert "client_max_body_size 0;" in code  # the gateway's own 413 applies
    lb = compose()["services"]["lb"]
    assert "./deploy/nginx/gateway.conf:/etc/nginx/conf.d/default.conf:ro" in lb["volumes"]


def _nginx() -> str:
    """Debian's nginx (`make test` installs it: scripts/ensure-nginx.sh)."""
    path = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")
    if not path:
        message = "nginx is not installed (scripts/ensure-nginx.sh); the parse check still ran"
        if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " (GATEWAY_REQUIRE_SERVICES=1: required in CI)")
        pytest.skip(message)
    return path


def _nginx_main_config(prefix: Path, server_block: str) -> Path:
    """What nginx's image wraps conf.d/default.conf in, with paths a test can write."""
    (prefix / "logs").mkdir(parents=True, exist_ok=True)
    (prefix / "site.conf").write_text(server_block)
    temp = " ".join(
        f"{kind}_temp_path {prefix / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    main = prefix / "nginx.conf"
    main.write_text(
        f"daemon off; master_process off; pid {prefix / 'nginx.pid'};\n"
        f"error_log {prefix / 'logs' / 'error.log'} info;\n"
        "events {}\n"
        f"http {{ access_log off; {temp} include {prefix / 'site.conf'}; }}\n"
    )
    return main


def test_nginx_accepts_the_config(tmp_path):
    nginx = _nginx()
    main = _nginx_main_config(tmp_path, NGINX_CONF.read_text())
    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(main)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr


class _StubDNS:
    """Answers A queries for one name with the addresses in `self.addresses` (TTL 1 s)."""

    def __init__(self, name: str, addresses: list[str]) -> None:
        self.name = name
        self.addresses = addresses
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                query, peer = self.sock.recvfrom(512)
            except OSError:
                continue
            self.sock.sendto(self._answer(query), peer)

    def _answer(self, query: bytes) -> bytes:
        end = query.index(b"\0", 12) + 5  # the question: name, type, class
        labels, at = [], 12
        while query[at]:
            labels.append(query[at + 1 : at + 1 + query[at]].decode())
            at += 1 + query[at]
        qtype = struct.unpack("!H", query[end - 4 : end - 2])[0]
        found = ".".join(labels).lower() == self.name and qtype == 1
        answers = b"".join(
            struct.pack("!HHHIH", 0xC00C, 1, 1, 1, 4) + socket.inet_aton(a) for a in self.addresses
        )
        flags = 0x8180 if found else 0x8183  # NXDOMAIN otherwise
        count = len(self.addresses) if found else 0
        header = struct.pack("!HHHHHH", struct.unpack("!H", query[:2])[0], flags, 1, count, 0, 0)
        return header + query[12:end] + (answers if found else b"")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@contextlib.contextmanager
def _replicas(addresses: list[str], port: int) -> Iterator[dict[str, socketserver.BaseServer]]:
    """One tiny HTTP server per address (127.0.0.x), each answering with its own address."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = self.server.server_address[0].encode()
            self.send_response(200)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    servers = {}
    try:
        for address in addresses:
            server = http.server.ThreadingHTTPServer((address, port), Handler)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers[address] = server
        yield servers
    finally:
        for server in servers.values():
            server.shutdown()
            server.server_close()


def test_nginx_spreads_requests_over_every_replica_and_follows_scaling(tmp_path):
    """The shipped config, with only its addresses moved to loopback: Docker's DNS becomes a
    stub that returns the replicas' addresses, and the answer changes as if the service were
    scaled up and one replica then removed."""
    nginx = _nginx()
    listen, backend_port = free_port(), free_port()
    replicas = ["127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"]
    dns = _StubDNS("gateway", replicas[:3])
    block = NGINX_CONF.read_text()
    for old, new in (
        ("listen 80;", f"listen 127.0.0.1:{listen};"),
        ("resolver 127.0.0.11 valid=10s", f"resolver 127.0.0.1:{dns.port} valid=1s"),
        (f"http://gateway:{cmd_port()};", f"http://gateway:{backend_port};"),
    ):
        assert block.count(old) == 1, old
        block = block.replace(old, new)
    main = _nginx_main_config(tmp_path, block)
    with _replicas(replicas, backend_port) as servers:
        process = subprocess.Popen([nginx, "-p", str(tmp_path), "-c", str(main)])
        try:
            url = f"http://127.0.0.1:{listen}/v1/models"
            with httpx.Client(timeout=5) as client:
                deadline = time.monotonic() + 10
                while True:
                    try:
                        if client.get(url).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, (tmp_path / "logs/error.log").read_text()
                    time.sleep(0.1)

                def spread(n: int) -> Counter[str]:
                    answers = [client.get(url) for _ in range(n)]
                    assert all(a.status_code == 200 for a in answers)
                    return Counter(a.text for a in answers)

                # Each request goes to one address of the answer (nginx starts from a random one
                # per request): over 30 requests, all three replicas get some.
                first = spread(30)
                assert set(first) == set(replicas[:3]), first

                def seen_within(seconds: float) -> set[str]:
                    # `valid=1s`, counted by nginx in whole seconds: re-read within about 2 s.
                    deadline, seen = time.monotonic() + seconds, Counter[str]()
                    while time.monotonic() < deadline:
                        seen = spread(20)
                        if set(seen) == set(dns.addresses):
                            break
                        time.sleep(0.2)
                    return set(seen)

                dns.addresses = replicas  # --scale gateway=4
                assert seen_within(6) == set(replicas), "the new replica gets no requests"

                # One replica goes away: refused connections move on to the next address (every
                # request still answered), and once the answer is re-read it is not tried.
                gone = servers.pop("127.0.0.3")
                gone.shutdown()
                gone.server_close()
                dns.addresses = [a for a in replicas if a != "127.0.0.3"]
                assert seen_within(6) == {"127.0.0.2", "127.0.0.4", "127.0.0.5"}
                assert set(spread(30)) == {"127.0.0.2", "127.0.0.4", "127.0.0.5"}
        finally:
            process.terminate()
            process.wait(10)
            dns.close()


# -- Kubernetes --------------------------------------------------------------------------------


def k8s_docs(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((K8S / name).read_text()) if d]


def k8s(kind: str, name: str | None = None) -> dict[str, Any]:
    found = [
        d
        for path in sorted(K8S.glob("*.yaml"))
        for d in k8s_docs(path.name)
        if d.get("kind") == kind and (name is None or d["metadata"]["name"] == name)
    ]
    assert len(found) == 1, (kind, name, len(found))
    return found[0]


def test_every_manifest_validates_against_the_kubernetes_schema_offline(monkeypatch):
    import kubernetes_validate

    def no_network(*args, **kwargs):
        raise AssertionError("the validator tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    checked = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in k8s_docs(path.name):
            if doc.get("kind") == "Kustomization":
                continue
            for version in K8S_VERSIONS:
                kubernetes_validate.validate(doc, version, strict=True)
            checked.append(f"{doc['kind']}/{doc['metadata']['name']}")
    wanted = {
        "Deployment/free-llm-gateway",
        "Service/free-llm-gateway",
        "ConfigMap/free-llm-gateway-config",
        "Secret/free-llm-gateway-keys",
        "HorizontalPodAutoscaler/free-llm-gateway",
    }
    assert wanted <= set(checked), checked

    # ...and the validator does reject what the cluster would.
    broken = copy.deepcopy(k8s("Deployment", "free-llm-gateway"))
    broken["spec"]["template"]["spec"]["containers"][0]["livenessProb"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, K8S_VERSIONS[-1], strict=True)


def test_kustomization_applies_every_manifest_but_the_secret_template():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert set(kustomization["resources"]) == manifests - {"secret.template.yaml"}
    images = {i["name"] for i in kustomization["images"]}
    container = k8s("Deployment", "free-llm-gateway")["spec"]["template"]["spec"]["containers"]
    assert container[0]["image"].split(":")[0] in images


def test_the_configmap_is_litellm_config_verbatim():
    sys.path.insert(0, str(REPO / "scripts"))
    try:
        import k8s_configmap
    finally:
        sys.path.remove(str(REPO / "scripts"))
    data = k8s("ConfigMap", "free-llm-gateway-config")["data"]
    for name in ("providers.yaml", "virtual_models.yaml"):
        assert data[name] == (REPO / "litellm_config" / name).read_text(), (
            f"deploy/k8s/configmap.yaml is stale: run python scripts/k8s_configmap.py ({name})"
        )
    assert (K8S / "configmap.yaml").read_text() == k8s_configmap.render()


def test_the_secret_template_has_every_key_of_env_example_and_no_value():
    example = (REPO / ".env.example").read_text()
    secret_like = {
        name
        for name in re.findall(r"^([A-Z][A-Z0-9_]+)=", example, re.M)
        if re.search(r"(_KEY|_TOKEN|_ACCOUNT_ID)$", name)
    }
    keys = k8s("Secret", "free-llm-gateway-keys")["stringData"]
    assert set(keys) == secret_like
    postgres = k8s("Secret", "free-llm-gateway-postgres")["stringData"]
    assert all(value == "" for value in [*keys.values(), *postgres.values()])


def test_the_deployment_matches_the_image_and_the_gateway():
    from gateway.api.health import ROUTES
    from gateway.server import SHUTDOWN_MARGIN_SECONDS

    deployment = k8s("Deployment", "free-llm-gateway")
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    env = {e["name"]: e for e in container["env"]}

    # The image's command, port and user.
    assert container["args"] == image_cmd()
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports["http"] == cmd_port()
    uid = int(args_of("USER")[-1].split(":")[0])
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == uid
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    for key, value in image_env().items():
        if key.startswith("GATEWAY_"):
            assert env[key]["value"] == value, key

    # Probes on the gateway's real routes: liveness never calls a provider, readiness says
    # the app is up. A startup probe keeps liveness away while LiteLLM imports.
    paths = {path for path, _handler, _method in ROUTES}
    assert container["livenessProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert container["readinessProbe"]["httpGet"]["path"] == "/health/readiness"
    assert container["startupProbe"]["httpGet"]["path"] == "/health/liveliness"
    assert {"/health/liveliness", "/health/readiness"} <= paths
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        assert container[probe]["httpGet"]["port"] in ("http", cmd_port())

    # Graceful termination: preStop pause + drain + the server's shutdown margin fit.
    drain = float(env["GATEWAY_DRAIN_SECONDS"]["value"])
    pause = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pause + drain + SHUTDOWN_MARGIN_SECONDS

    # Resources (the HPA scales on CPU utilisation of the request).
    assert container["resources"]["requests"]["cpu"]
    assert container["resources"]["limits"]["memory"]

    # Config from the ConfigMap, keys from the Secret, Redis and PostgreSQL by Service name.
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    config_mount = mounts[image_env()["GATEWAY_CONFIG_DIR"]]
    assert config_mount["readOnly"] is True
    assert volumes[config_mount["name"]]["configMap"]["name"] == "free-llm-gateway-config"
    assert image_env()["GATEWAY_DATA_DIR"] in mounts
    assert container["envFrom"][0]["secretRef"]["name"] == "free-llm-gateway-keys"
    password = env["POSTGRES_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password["name"] == "free-llm-gateway-postgres"
    assert list(env).index("POSTGRES_PASSWORD") < list(env).index("GATEWAY_DB_URL")  # $(...)
    redis = k8s("Service", "free-llm-gateway-redis")
    postgres = k8s("Service", "free-llm-gateway-postgres")
    assert env["GATEWAY_REDIS_URL"]["value"] == f"redis://{redis['metadata']['name']}:6379/0"
    assert env["GATEWAY_DB_URL"]["value"] == (
        f"postgresql://gateway:$(POSTGRES_PASSWORD)@{postgres['metadata']['name']}:5432/gateway"
    )
    statefulset = k8s("StatefulSet", "free-llm-gateway-postgres")
    pg_env = {e["name"]: e for e in statefulset["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert pg_env["POSTGRES_USER"]["value"] == "gateway" == pg_env["POSTGRES_DB"]["value"]


def test_the_service_and_hpa_point_at_the_deployment():
    deployment = k8s("Deployment", "free-llm-gateway")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= labels.items()
    for service_name in ("free-llm-gateway", "free-llm-gateway-redis", "free-llm-gateway-postgres"):
        service = k8s("Service", service_name)
        target = {
            d["spec"]["template"]["metadata"]["labels"].get("app.kubernetes.io/component")
            for d in (
                deployment,
                k8s("Deployment", "free-llm-gateway-redis"),
                k8s("StatefulSet", "free-llm-gateway-postgres"),
            )
            if service["spec"]["selector"].items()
            <= d["spec"]["template"]["metadata"]["labels"].items()
        }
        assert len(target) == 1, service_name  # selects exactly one workload
    service = k8s("Service", "free-llm-gateway")
    assert service["spec"]["selector"].items() <= labels.items()
    assert service["spec"]["ports"][0]["targetPort"] == "http"

    hpa = k8s("HorizontalPodAutoscaler", "free-llm-gateway")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "free-llm-gateway",
    }
    (metric,) = hpa["spec"]["metrics"]
    assert metric["resource"]["name"] == "cpu"
    assert hpa["spec"]["minReplicas"] >= 2  # the PDB keeps one up during drains
    pdb = k8s("PodDisruptionBudget", "free-llm-gateway")
    assert pdb["spec"]["selector"]["matchLabels"].items() <= labels.items()
