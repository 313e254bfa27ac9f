"""LiteLLM's database mode in tests: a Prisma client and query engine that work offline, and a
fresh PostgreSQL database per test module.

Prisma's native engines come from Prisma's own binary host, which these machines cannot reach.
What the registries do carry is enough: npm's @prisma/client ships the same query engine
compiled to WebAssembly, and tests/prisma_engine/engine.js runs it behind the HTTP interface
prisma-client-py expects from the `query-engine` binary (see that file). `prisma_toolchain()`
installs it from npm into ~/.cache/free-llm-gateway (once, into a scratch directory renamed
into place), generates prisma-client-py's client from LiteLLM's schema next to it (the Prisma
CLI that `prisma generate` runs comes from npm too), and returns what a gateway process needs:
`PRISMA_QUERY_ENGINE_BINARY` and a `PYTHONPATH` entry holding the generated `prisma` package.

Skipped where node/npm or the `prisma` package are missing, failed instead when
GATEWAY_REQUIRE_SERVICES=1 (CI).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from tests.sdk_clients import CACHE, _install_once, _run_install, _unavailable
from tests.services import require_postgres

ENGINE_DIR = Path(__file__).resolve().parent / "prisma_engine"


@dataclass(frozen=True)
class PrismaToolchain:
    engine: Path  # an executable standing in for Prisma's query-engine binary
    client_path: Path  # a directory holding the generated `prisma` package

    def env(self) -> dict[str, str]:
        """What a gateway process needs to use them."""
        return {
            "PRISMA_QUERY_ENGINE_BINARY": str(self.engine),
            "PYTHONPATH": str(self.client_path),
        }


def prisma_toolchain() -> PrismaToolchain:
    if shutil.which("npm") is None or shutil.which("node") is None:
        _unavailable("node/npm not installed: cannot run Prisma's query engine for LiteLLM")
    try:
        import prisma
    except ImportError as exc:
        _unavailable(f"the `prisma` package is not installed ({exc}): `make install` installs it")
    schema = litellm_schema()
    digest = hashlib.sha256()
    for part in (
        (ENGINE_DIR / "package.json").read_bytes(),
        (ENGINE_DIR / "engine.js").read_bytes(),
        schema.read_bytes(),
        prisma.__version__.encode(),
    ):
        digest.update(part)
    version = prisma.config.expected_engine_version

    def install(scratch: Path) -> None:
        shutil.copyfile(ENGINE_DIR / "package.json", scratch / "package.json")
        shutil.copyfile(ENGINE_DIR / "engine.js", scratch / "engine.js")
        npm = ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"]
        _run_install(npm, scratch)
        # The client's paths name the final directory, so generate there: `target` is where
        # this scratch directory is renamed to.
        _write_engine_wrapper(scratch, target, version)
        _generate_client(schema, scratch, target)

    target = CACHE / f"prisma-engine-{prisma.__version__}-{digest.hexdigest()[:12]}"
    root = _install_once(target, install, "Prisma's query engine (npm) and LiteLLM's client")
    return PrismaToolchain(engine=root / "query-engine", client_path=root / "client")


def litellm_schema() -> Path:
    """LiteLLM's Prisma schema, found without importing LiteLLM (slow)."""
    spec = importlib.util.find_spec("litellm")
    assert spec is not None and spec.submodule_search_locations
    return Path(next(iter(spec.submodule_search_locations))) / "proxy" / "schema.prisma"


def _write_engine_wrapper(scratch: Path, target: Path, version: str) -> None:
    wrapper = scratch / "query-engine"
    wrapper.write_text(
        f'#!/bin/sh\nexport PRISMA_STANDIN_VERSION={version}\nexec node "{target}/engine.js" "$@"\n'
    )
    wrapper.chmod(0o755)


def _generate_client(schema: Path, scratch: Path, target: Path) -> None:
    """`prisma generate` of LiteLLM's schema into `<target>/client/prisma`, run in the scratch
    directory (the generator writes where the schema says; the text is then moved)."""
    text = schema.read_text(encoding="utf-8")
    output = scratch / "client" / "prisma"
    text = text.replace(
        'provider = "prisma-client-py"',
        f'provider = "prisma-client-py"\n  output = "{output}"',
        1,
    )
    (scratch / "schema.prisma").write_text(text, encoding="utf-8")
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        # The Prisma CLI is the npm package installed above; the engines are this stand-in
        # (`prisma generate` only needs them to exist).
        "PRISMA_BINARY_CACHE_DIR": str(scratch),
        "PRISMA_QUERY_ENGINE_BINARY": str(scratch / "query-engine"),
        "PRISMA_SCHEMA_ENGINE_BINARY": str(scratch / "query-engine"),
        "PRISMA_HIDE_UPDATE_MESSAGE": "1",
        "PRISMA_USE_GLOBAL_NODE": "1",
    }
    command = [str(Path(sys.executable).parent / "prisma"), "generate", "--schema", "schema.prisma"]
    subprocess.run(command, cwd=scratch, env=env, check=True, capture_output=True, text=True)
    # The generated client names its own directory in a few places: point them at the target.
    for path in output.rglob("*.py"):
        content = path.read_text(encoding="utf-8")
        if str(scratch) in content:
            path.write_text(content.replace(str(scratch), str(target)), encoding="utf-8")


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new, empty PostgreSQL database for one test module (dropped afterwards), so runs and
    modules never see each other's tables."""
    import psycopg

    server_url = require_postgres()
    name = f"gw_test_{secrets.token_hex(6)}"
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    parts = urlsplit(server_url)
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def jwt_claims(token: str) -> dict:
    """The claims of a JWT (LiteLLM's UI cookie), unverified."""
    import base64

    payload = token.split(".")[1]
    payload += "=" * (-len(payload) % 4)
    return json.loads(base64.urlsafe_b64decode(payload))
