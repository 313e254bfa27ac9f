"""LiteLLM's database mode: is Prisma usable, and LiteLLM's tables.

With `DATABASE_URL` set, LiteLLM's proxy keeps virtual keys, users, teams, budgets and spend
logs in PostgreSQL through Prisma's Python client, which needs three things LiteLLM's
`[proxy]` install does not bring: the `prisma` package, its client generated from LiteLLM's
schema (`prisma generate`), and Prisma's query engine binary (downloaded by `prisma generate`
from Prisma's own host). `prisma_problem()` says which one is missing, and how to fix it,
without starting anything, so the gateway can serve everything else instead of failing.

LiteLLM creates its tables with `prisma migrate deploy` (the Prisma CLI, a Node program, and
Prisma's schema engine, another downloaded binary) from the `litellm` command, which the gateway
does not run. `apply_migrations()` applies the same migration files
(`litellm_proxy_extras/migrations/*/migration.sql`) in the same order, each as one script, and
records them in Prisma's own ledger (`_prisma_migrations`, same checksums) under Prisma's
advisory lock: a later `prisma migrate deploy` sees them as applied, and a database LiteLLM
migrated is picked up where it stands.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("gateway.litellm")

# Prisma's migration lock (`pg_advisory_lock(72707369)`, the key `prisma migrate` takes).
PRISMA_ADVISORY_LOCK_KEY = 72707369
# How long an instance waits for another one's migrations (LiteLLM's take seconds).
MIGRATION_LOCK_TIMEOUT = 300.0
LEDGER_DDL = (
    'CREATE TABLE IF NOT EXISTS "_prisma_migrations" ('
    '"id" VARCHAR(36) PRIMARY KEY NOT NULL, "checksum" VARCHAR(64) NOT NULL, '
    '"finished_at" TIMESTAMPTZ, "migration_name" VARCHAR(255) NOT NULL, "logs" TEXT, '
    '"rolled_back_at" TIMESTAMPTZ, "started_at" TIMESTAMPTZ NOT NULL DEFAULT now(), '
    '"applied_steps_count" INTEGER NOT NULL DEFAULT 0)'
)


def litellm_schema_path() -> Path:
    """The Prisma schema LiteLLM's client is generated from (`litellm/proxy/schema.prisma`),
    found without importing LiteLLM."""
    import importlib.util

    spec = importlib.util.find_spec("litellm")
    locations = list(spec.submodule_search_locations or []) if spec else []
    return Path(locations[0] if locations else "litellm").resolve() / "proxy" / "schema.prisma"


def generate_command() -> str:
    return f"prisma generate --schema {litellm_schema_path()}"


def prisma_problem() -> str | None:
    """Why LiteLLM cannot use its database here, with the fix; None when it can.

    Checks, in order, what LiteLLM's `PrismaClient` will need: the `prisma` package, the client
    generated from LiteLLM's schema, and a query engine binary of the version that client
    expects (found the way prisma-client-py finds it: `PRISMA_QUERY_ENGINE_BINARY`, the working
    directory, the paths `prisma generate` wrote, Prisma's cache). Nothing is started.
    """
    install = "pip install 'free-llm-gateway[database]'"
    try:
        import prisma
    except ImportError as exc:
        return (
            f"the `prisma` package is not installed ({exc}); fix: `{install}` (or "
            f"`pip install prisma`), then `{generate_command()}` on a machine that reaches "
            "Prisma's binary host"
        )
    try:
        from prisma.client import BINARY_PATHS
    except ImportError:
        return (
            f"Prisma's client was never generated from LiteLLM's schema (prisma "
            f"{prisma.__version__} is installed); fix: `{generate_command()}` (it downloads "
            "Prisma's engines, so run it where Prisma's binary host is reachable, e.g. when "
            "building an image)"
        )
    from prisma.engine import errors as engine_errors
    from prisma.engine.utils import ensure

    try:
        ensure(BINARY_PATHS.query_engine)
    except engine_errors.BinaryNotFoundError as exc:
        first_line = str(exc).splitlines()[0]
        return (
            f"Prisma's query engine binary is missing ({first_line}); fix: run "
            f"`{generate_command()}` (or `prisma py fetch`) where Prisma's binary host is "
            "reachable, or point PRISMA_QUERY_ENGINE_BINARY at a query engine of version "
            f"{prisma.config.expected_engine_version}"
        )
    except engine_errors.MismatchedVersionsError as exc:
        return f"Prisma's query engine has the wrong version ({exc}); fix: `{generate_command()}`"
    except Exception as exc:  # a binary that cannot run (wrong platform, not executable)
        return (
            f"Prisma's query engine cannot run ({type(exc).__name__}: {exc}); fix: "
            f"`{generate_command()}` on this platform"
        )
    return None


# LiteLLM's spend ledger table (litellm/proxy/schema.prisma, `LiteLLM_SpendLogDelivery`), as
# `prisma migrate` writes it, for installs whose litellm-proxy-extras predates it: LiteLLM's
# accounting worker reads it on every spend flush and logs a traceback while it is missing.
# Created only when the migrations did not create it; a later migration that creates it
# counts as applied (see `_apply_one`).
LEDGER_TABLE = "LiteLLM_SpendLogDelivery"
LEDGER_TABLE_DDL = """
CREATE TYPE "AccountingDeliveryState" AS ENUM ('pending', 'applied', 'parked');
CREATE TABLE "LiteLLM_SpendLogDelivery" (
    "delivery_id" TEXT NOT NULL,
    "request_id" TEXT NOT NULL,
    "state" "AccountingDeliveryState" NOT NULL DEFAULT 'pending',
    "accounting_payload" JSONB NOT NULL,
    "is_batch" BOOLEAN NOT NULL,
    "attempts" INTEGER NOT NULL DEFAULT 0,
    "next_attempt_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "applied_at" TIMESTAMP(3),
    "last_error" TEXT,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT "LiteLLM_SpendLogDelivery_pkey" PRIMARY KEY ("delivery_id")
);
CREATE INDEX "LiteLLM_SpendLogDelivery_state_next_attempt_at_idx"
    ON "LiteLLM_SpendLogDelivery"("state", "next_attempt_at");
CREATE INDEX "LiteLLM_SpendLogDelivery_state_applied_at_idx"
    ON "LiteLLM_SpendLogDelivery"("state", "applied_at");
CREATE INDEX "LiteLLM_SpendLogDelivery_request_id_idx" ON "LiteLLM_SpendLogDelivery"("request_id");
"""
# A migration failing only because what it creates exists already: LiteLLM's own resolver
# marks such a migration applied (`_is_idempotent_error`); so does the gateway.
_ALREADY_EXISTS = frozenset({"42P07", "42710", "42701"})  # table/index, object, column


@dataclass
class MigrationReport:
    applied: list[str] = field(default_factory=list)
    already: int = 0
    missing_tables: list[str] = field(default_factory=list)
    ledger_added: bool = False  # the gateway created LiteLLM's spend ledger table


class MigrationFailed(RuntimeError):
    pass


def _wait_for_lock(conn: Any, timeout: float = MIGRATION_LOCK_TIMEOUT) -> None:
    """Take Prisma's migration lock, polling. Not `pg_advisory_lock`: a session blocked in it
    holds a transaction open, and the holder's `CREATE INDEX CONCURRENTLY` waits for every
    open transaction to end, so two instances starting together deadlock."""
    deadline = time.monotonic() + timeout
    while not conn.execute(
        "SELECT pg_try_advisory_lock(%s)", (PRISMA_ADVISORY_LOCK_KEY,)
    ).fetchone()[0]:
        if time.monotonic() > deadline:
            raise MigrationFailed(
                f"another instance held the migration lock for over {timeout:.0f} s; if none "
                "is migrating, a stale session holds it (see pg_locks, objid "
                f"{PRISMA_ADVISORY_LOCK_KEY})"
            )
        time.sleep(0.5)


def migrations_dir() -> Path:
    import litellm_proxy_extras

    return Path(litellm_proxy_extras.__file__).resolve().parent / "migrations"


def migration_files(directory: Path | None = None) -> list[tuple[str, Path]]:
    """(name, migration.sql) in the order Prisma applies them: by folder name."""
    directory = directory or migrations_dir()
    return sorted((p.parent.name, p) for p in directory.glob("*/migration.sql"))


def libpq_url(database_url: str) -> tuple[str, str]:
    """A Prisma-style URL as libpq takes it, and the schema it targets (`?schema=`)."""
    from litellm_proxy_extras.utils import ProxyExtrasDBManager

    schema = ProxyExtrasDBManager._prisma_schema_param(database_url) or "public"
    return ProxyExtrasDBManager._strip_prisma_query_params(database_url), schema


def apply_migrations(database_url: str, directory: Path | None = None) -> MigrationReport:
    """Apply LiteLLM's pending migrations as `prisma migrate deploy` would; raises
    `MigrationFailed` naming the migration that failed (which is then recorded as failed in
    the ledger, as Prisma records it)."""
    import psycopg
    from psycopg import sql

    url, schema = libpq_url(database_url)
    report = MigrationReport()
    with psycopg.connect(url, autocommit=True, connect_timeout=10) as conn:
        # Instances starting together queue here; the schema is created under the lock too
        # (PostgreSQL's CREATE SCHEMA IF NOT EXISTS is not safe against a concurrent one).
        _wait_for_lock(conn)
        try:
            conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
            conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
            conn.execute(LEDGER_DDL)
            rows = conn.execute(
                'SELECT migration_name, finished_at IS NOT NULL FROM "_prisma_migrations" '
                "WHERE rolled_back_at IS NULL"
            ).fetchall()
            finished = {name for name, done in rows if done}
            failed = sorted({name for name, done in rows if not done} - finished)
            if failed:
                raise MigrationFailed(
                    f"LiteLLM migration {failed[0]} failed earlier and is recorded as failed "
                    "in _prisma_migrations; fix the database, then mark it with `prisma "
                    f"migrate resolve --applied {failed[0]}` (or delete its row)"
                )
            for name, path in migration_files(directory):
                if name in finished:
                    report.already += 1
                    continue
                _apply_one(conn, name, path.read_bytes())
                report.applied.append(name)
            report.missing_tables = _missing_tables(conn, schema)
            if LEDGER_TABLE in report.missing_tables:
                conn.execute(LEDGER_TABLE_DDL.encode())
                report.missing_tables.remove(LEDGER_TABLE)
                report.ledger_added = True
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (PRISMA_ADVISORY_LOCK_KEY,))
    return report


def _apply_one(conn, name: str, script: bytes) -> None:
    import psycopg

    row_id = str(uuid.uuid4())
    conn.execute(
        'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, '
        "applied_steps_count) VALUES (%s, %s, %s, now(), 0)",
        (row_id, hashlib.sha256(script).hexdigest(), name),
    )
    text = script.decode("utf-8")
    try:
        # One script, as Prisma sends it: PostgreSQL runs a multi-statement query as one
        # implicit transaction, so a failed migration leaves nothing half-applied.
        conn.execute(text.encode())
    except psycopg.Error as exc:
        if exc.sqlstate in _ALREADY_EXISTS:
            log.warning("gateway: LiteLLM migration %s: %s; counted as applied", name, exc)
        elif "cannot run inside a transaction block" in str(exc):
            # CREATE INDEX CONCURRENTLY next to other statements: one statement at a time.
            try:
                for statement in split_statements(text):
                    conn.execute(statement.encode())
            except psycopg.Error as exc2:
                _record_failure(conn, row_id, exc2)
                raise MigrationFailed(f"LiteLLM migration {name} failed: {exc2}") from None
        else:
            _record_failure(conn, row_id, exc)
            raise MigrationFailed(f"LiteLLM migration {name} failed: {exc}") from None
    conn.execute(
        'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 '
        "WHERE id = %s",
        (row_id,),
    )


def _record_failure(conn, row_id: str, exc: Exception) -> None:
    conn.execute('UPDATE "_prisma_migrations" SET logs = %s WHERE id = %s', (str(exc), row_id))


_TOKEN = re.compile(r"\$[A-Za-z_]*\$|'|\"|--|/\*|;")


def split_statements(script: str) -> list[str]:
    """SQL statements of a script: `;` outside quotes, dollar quotes and comments."""
    statements: list[str] = []
    start = pos = 0
    while (match := _TOKEN.search(script, pos)) is not None:
        token = match.group()
        if token == ";":
            statements.append(script[start : match.end()])
            start = pos = match.end()
            continue
        end_token = {"--": "\n", "/*": "*/"}.get(token, token)
        end = script.find(end_token, match.end())
        pos = len(script) if end < 0 else end + len(end_token)
    if script[start:].strip():
        statements.append(script[start:])
    return [s for s in statements if _has_code(s)]


def _has_code(statement: str) -> bool:
    without = re.sub(r"--[^\n]*|/\*.*?\*/", "", statement, flags=re.S)
    return bool(without.strip(" \n\t;"))


def schema_tables(schema_path: Path | None = None) -> list[str]:
    """The table of every model in LiteLLM's Prisma schema (`@@map` or the model's name)."""
    text = (schema_path or litellm_schema_path()).read_text(encoding="utf-8")
    tables = []
    for match in re.finditer(r"^model\s+(\w+)\s*{(.*?)^}", text, flags=re.M | re.S):
        mapped = re.search(r'@@map\(\s*(?:name:\s*)?"([^"]+)"', match.group(2))
        tables.append(mapped.group(1) if mapped else match.group(1))
    return tables


def _missing_tables(conn, schema: str) -> list[str]:
    present = {
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,)
        )
    }
    return [t for t in schema_tables() if t not in present]


# --- database mode at startup -------------------------------------------------------------------


@dataclass
class DatabaseMode:
    """`DATABASE_URL` is set and LiteLLM can use it: Prisma is usable, the tables exist."""

    url: str
    report: MigrationReport

    def proxy_config(self, config: dict, catalog) -> dict:
        """The LiteLLM proxy config for database mode: spend logs on, and the virtual models
        listed next to the direct ones (LiteLLM's Models page, key model lists)."""
        config = {**config, "general_settings": dict(config.get("general_settings") or {})}
        settings = config["general_settings"]
        settings["disable_spend_logs"] = False
        if self.report.ledger_added:
            # The installed litellm-proxy-extras predates LiteLLM's spend ledger: spend goes
            # to the keys, users and teams directly (LiteLLM's pre-ledger path), not through
            # the ledger table the gateway only created to keep LiteLLM's worker quiet.
            settings["use_spend_logs_ledger"] = False
        direct = list(config.get("model_list", []))
        config["model_list"] = [*direct, *virtual_model_entries(catalog, direct)]
        return config


def virtual_model_entries(catalog, direct: list[dict]) -> list[dict]:
    """One LiteLLM model entry per virtual model, named like it, so LiteLLM's UI lists it and
    keys can be limited to it. Its parameters are its first candidate's (what LiteLLM's own
    routes would call, were they opened with `all`); the gateway's routes serve the chain."""
    by_name = {entry["model_name"]: entry for entry in direct}
    entries = []
    for name, chain in catalog.virtual_models.items():
        first = next((by_name[c.ref] for c in chain.candidates if c.ref in by_name), None)
        if first is None:
            continue
        model_info = {
            **first["model_info"],
            "id": f"virtual/{name}",
            "description": chain.description or f"gateway virtual model {name}",
            "gateway_candidates": [c.ref for c in chain.candidates],
        }
        params = first["litellm_params"]
        entries.append({"model_name": name, "litellm_params": params, "model_info": model_info})
    return entries


def database_mode() -> DatabaseMode | None:
    """LiteLLM's database mode when `DATABASE_URL` is set and usable; otherwise None, after
    saying once what is wrong and how to fix it (and hiding `DATABASE_URL` from LiteLLM,
    which would otherwise fail to start)."""
    import os

    url = (os.environ.get("DATABASE_URL") or "").strip()
    if not url:
        os.environ.pop("DATABASE_URL", None)  # empty (as .env.example has it): LiteLLM's too
        return None
    problem = prisma_problem()
    if problem is None:
        try:
            report = apply_migrations(url)
        except MigrationFailed as exc:
            problem = str(exc)
        except Exception as exc:
            problem = f"LiteLLM's tables could not be created ({type(exc).__name__}: {exc})"
        else:
            if report.applied:
                log.info(
                    "gateway: applied %d LiteLLM migrations to its database (%d already were)",
                    len(report.applied),
                    report.already,
                )
            if report.missing_tables:
                log.warning(
                    "gateway: LiteLLM's schema has tables its installed migrations "
                    "(litellm-proxy-extras) do not create: %s; the features that use them "
                    "fail. Fix: install the litellm-proxy-extras version LiteLLM requires",
                    ", ".join(report.missing_tables),
                )
            return DatabaseMode(url, report)
    from gateway.redact import redact

    log.warning(
        "gateway: DATABASE_URL is set, but LiteLLM's database mode is off: %s. The gateway "
        "serves everything else (its model APIs, /v1/models, /stats) without LiteLLM's "
        "keys, spend logs and admin UI login.",
        redact(problem),
    )
    os.environ.pop("DATABASE_URL", None)
    return None
