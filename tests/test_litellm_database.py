"""LiteLLM's database mode through the gateway (`DATABASE_URL`).

Without a usable Prisma the gateway starts anyway, says once what is missing and how to fix it,
and serves everything else. With one, against the real PostgreSQL (a fresh database per
module): LiteLLM's migrations create its tables, its admin UI logs in through its own form and
cookie, its Models page lists the virtual models, LiteLLM virtual keys (made with the master key
or from a UI session) are checked by LiteLLM's own auth and rate limiter on the gateway's
routes, and the requests the gateway serves land in LiteLLM's spend logs under the caller's key.

Prisma's native query engine cannot be downloaded here; tests/prisma_setup.py stands npm's
WebAssembly build of the same engine in for it (see tests/prisma_engine/engine.js).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from tests.browser import DevTools, require_chromium
from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config
from tests.prisma_setup import fresh_database, jwt_claims, prisma_toolchain

MASTER = "sk-gw-master-8d1f4c2b7a"  # PROXY_API_KEY: LiteLLM's master key too
PROVIDERS = {"groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m"]}}
VIRTUAL = {"coding-elite": {"description": "the test chain", "candidates": ["groq/m"]}}
PROMPT = [{"role": "user", "content": "echo: hello"}]
OFF = "LiteLLM's database mode is off"


def _config(root: Path) -> Path:
    return write_config(root / "config", PROVIDERS, VIRTUAL)


def _chat(gateway: GatewayProcess, key: str, **extra) -> httpx.Response:
    body = {"model": "coding-elite", "messages": PROMPT, **extra}
    return httpx.post(
        gateway.url + "/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )


# --- DATABASE_URL set, Prisma not usable: the gateway starts and says why, once ----------------

NO_PRISMA = """\
import sys


class _NoPrisma:
    def find_spec(self, name, path=None, target=None):
        if name == "prisma" or name.startswith("prisma."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _NoPrisma())
"""


def _unusable_prisma_env(case: str, tmp_path: Path) -> dict[str, str]:
    if case == "no prisma module":
        blocker = tmp_path / "no-prisma"
        blocker.mkdir()
        (blocker / "sitecustomize.py").write_text(NO_PRISMA)
        return {"PYTHONPATH": str(blocker)}
    if case == "client never generated":
        try:
            import prisma.client  # noqa: F401
        except ImportError:
            return {}  # the project's venv holds prisma as installed: not generated
        pytest.skip("this venv's prisma package has a generated client")
    toolchain = prisma_toolchain()  # "query engine missing": a generated client, no engine
    return {"PYTHONPATH": str(toolchain.client_path), "PRISMA_QUERY_ENGINE_BINARY": "/nonexistent"}


@pytest.mark.parametrize(
    ("case", "problem"),
    [
        ("no prisma module", "the `prisma` package is not installed"),
        ("client never generated", "Prisma's client was never generated"),
        ("query engine missing", "Prisma's query engine binary is missing"),
    ],
)
def test_database_url_without_usable_prisma_starts_and_says_why_once(
    emulator, tmp_path, case, problem
):
    env = {
        **provider_env(emulator),
        **_unusable_prisma_env(case, tmp_path),
        "PROXY_API_KEY": MASTER,
        # Never reached: the gateway gives up on database mode before connecting.
        "DATABASE_URL": "postgresql://gw:db-secret-pw@127.0.0.1:5999/litellm",
    }
    if case == "no prisma module":
        # The case: the admin group opened too, which loads LiteLLM's proxy.
        env["GATEWAY_LITELLM_ROUTES"] = "admin"
    with GatewayProcess(_config(tmp_path), tmp_path / "data", env=env, startup_timeout=120) as gw:
        served = _chat(gw, MASTER)
        assert served.status_code == 200, served.text
        assert served.json()["choices"][0]["message"]["content"] == "hello"
        log = gw.log()
    assert log.count(OFF) == 1, log
    line = next(line for line in log.splitlines() if OFF in line)
    assert problem in line and "fix:" in line
    assert "db-secret-pw" not in log


# --- database mode ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def database_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url


@pytest.fixture(scope="module")
def db_gateway(emulator, tmp_path_factory, database_url) -> Iterator[GatewayProcess]:
    toolchain = prisma_toolchain()
    root = tmp_path_factory.mktemp("litellm-db")
    env = {
        **provider_env(emulator),
        **toolchain.env(),
        "PROXY_API_KEY": MASTER,
        "DATABASE_URL": database_url,
    }
    with GatewayProcess(_config(root), root / "data", env=env, startup_timeout=240) as process:
        yield process


def _generate_key(gateway: GatewayProcess, auth: str = MASTER, **fields) -> str:
    response = httpx.post(
        gateway.url + "/key/generate",
        json=fields,
        headers={"authorization": f"Bearer {auth}"},
        timeout=30,
    )
    assert response.status_code == 200, response.text
    return response.json()["key"]


def _spend_logs(database_url: str, key: str, count: int, timeout: float = 45) -> list[dict]:
    """The key's rows in LiteLLM_SpendLogs once there are `count` (LiteLLM writes them in
    batches, every few seconds)."""
    key_hash = hashlib.sha256(key.encode()).hexdigest()
    deadline = time.monotonic() + timeout
    rows: list[dict] = []
    while time.monotonic() < deadline:
        with psycopg.connect(database_url) as conn, conn.cursor() as cur:
            cur.execute(
                "SELECT call_type, model, model_group, status, prompt_tokens, completion_tokens, "
                'request_id FROM "LiteLLM_SpendLogs" WHERE api_key = %s ORDER BY "startTime"',
                (key_hash,),
            )
            names = [c.name for c in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        if len(rows) >= count:
            return rows
        time.sleep(1)
    pytest.fail(f"{len(rows)} of {count} spend-log rows after {timeout}s: {rows}")


def test_litellm_migrations_create_its_tables(db_gateway, database_url):
    from gateway.litellm_glue.database import apply_migrations, migration_files

    files = migration_files()
    with psycopg.connect(database_url) as conn:
        ledger = conn.execute(
            'SELECT migration_name, checksum FROM "_prisma_migrations" '
            "WHERE finished_at IS NOT NULL AND applied_steps_count = 1"
        ).fetchall()
        tables = {
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            )
        }
    # Prisma's own ledger, with Prisma's checksums: `prisma migrate deploy` finds them applied.
    assert {name for name, _ in ledger} == {name for name, _ in files}
    checksums = dict(ledger)
    name, path = files[0]
    assert checksums[name] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert {"LiteLLM_VerificationToken", "LiteLLM_SpendLogs", "LiteLLM_UserTable"} <= tables
    assert f"applied {len(files)} LiteLLM migrations" in db_gateway.log()
    # A second start applies nothing.
    again = apply_migrations(database_url)
    assert again.applied == [] and again.already == len(files)


def test_instances_starting_together_migrate_once():
    """Three instances migrating one new database at once (in a schema of its own, as
    `?schema=` asks): one applies every migration, the others wait on Prisma's lock and
    find them applied; the ledger holds each migration once."""
    from concurrent.futures import ThreadPoolExecutor

    from gateway.litellm_glue.database import apply_migrations, migration_files

    files = migration_files()
    with fresh_database() as url:
        target = url + "?schema=litellm"
        with ThreadPoolExecutor(3) as pool:
            reports = list(pool.map(apply_migrations, [target] * 3))
        assert sorted(len(r.applied) for r in reports) == [0, 0, len(files)]
        assert all(r.already == len(files) for r in reports if not r.applied)
        with psycopg.connect(url) as conn:
            names = [
                row[0]
                for row in conn.execute(
                    'SELECT migration_name FROM litellm."_prisma_migrations" '
                    "WHERE finished_at IS NOT NULL"
                )
            ]
        assert sorted(names) == sorted(name for name, _ in files)


def test_admin_ui_logs_in_with_its_own_form_and_cookie(db_gateway):
    with httpx.Client(base_url=db_gateway.url, timeout=30) as browser:
        # The UI's pages are LiteLLM's: served without the gateway's key.
        page = browser.get("/ui/")
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        refused = browser.post("/login", data={"username": "admin", "password": "wrong"})
        assert refused.status_code in (400, 401, 403), refused.text
        login = browser.post("/login", data={"username": "admin", "password": MASTER})
        assert login.status_code == 303, login.text
        assert "login=success" in login.headers["location"]
        token = browser.cookies["token"]
        assert browser.get("/ui/?login=success").status_code == 200
        # The dashboard calls LiteLLM's API with the session key its cookie carries.
        session = jwt_claims(token)["key"]
        assert session.startswith("sk-") and session != MASTER
        auth = {"authorization": f"Bearer {session}"}
        assert browser.get("/key/list", headers=auth).status_code == 200
        info = browser.get("/user/info", headers=auth)
        assert info.status_code == 200, info.text
        # The Models page: the virtual models next to the direct ones.
        models = browser.get("/v2/model/info", headers=auth)
        assert models.status_code == 200, models.text
        by_name = {m["model_name"]: m for m in models.json()["data"]}
        assert "groq/m" in by_name and "coding-elite" in by_name
        assert by_name["coding-elite"]["model_info"]["gateway_candidates"] == ["groq/m"]
        # The UI's playground calls the gateway's own routes with the same session key.
        played = _chat(db_gateway, session)
        assert played.status_code == 200, played.text
        assert played.headers["x-gateway-virtual-model"] == "coding-elite"


def test_gateway_routes_still_need_a_valid_key(db_gateway):
    for path in ("/v1/chat/completions", "/stats"):
        missing = httpx.post(db_gateway.url + path, json={"model": "coding-elite"}, timeout=30)
        assert missing.status_code in (401, 405)
    bad = _chat(db_gateway, "sk-not-a-key-0123")
    assert bad.status_code == 401
    assert bad.json()["error"]["code"] == "invalid_api_key"
    assert _chat(db_gateway, MASTER).status_code == 200


def test_a_virtual_key_is_served_by_every_api_and_lands_in_spend_logs(db_gateway, database_url):
    key = _generate_key(db_gateway, key_alias="every-api")
    auth = {"authorization": f"Bearer {key}"}
    url = db_gateway.url
    assert _chat(db_gateway, key).status_code == 200
    with httpx.stream(
        "POST",
        url + "/v1/chat/completions",
        json={"model": "coding-elite", "messages": PROMPT, "stream": True},
        headers=auth,
        timeout=30,
    ) as stream:
        assert stream.status_code == 200
        assert "data: [DONE]" in stream.read().decode()
    responses = httpx.post(
        url + "/v1/responses",
        json={"model": "coding-elite", "input": "echo: hello"},
        headers=auth,
        timeout=30,
    )
    assert responses.status_code == 200, responses.text
    messages = httpx.post(  # Claude Code's header
        url + "/v1/messages",
        json={"model": "coding-elite", "max_tokens": 20, "messages": PROMPT},
        headers={"x-api-key": key},
        timeout=30,
    )
    assert messages.status_code == 200, messages.text
    rows = _spend_logs(database_url, key, 4)
    assert [r["call_type"] for r in rows] == [
        "acompletion",
        "acompletion",
        "aresponses",
        "anthropic_messages",
    ]
    for row in rows:
        assert row["status"] == "success"
        assert row["model"] == "groq/m" and row["model_group"] == "coding-elite"
        assert row["prompt_tokens"] > 0 and row["completion_tokens"] > 0
        assert key not in str(row)
    # LiteLLM's own spend API (the UI's Logs page) reads the same rows.
    logs = httpx.get(
        url + "/spend/logs",
        params={"api_key": hashlib.sha256(key.encode()).hexdigest()},
        headers={"authorization": f"Bearer {MASTER}"},
        timeout=30,
    )
    assert logs.status_code == 200 and len(logs.json()) >= 4


def test_a_key_made_in_a_ui_session_is_accepted(db_gateway):
    with httpx.Client(base_url=db_gateway.url, timeout=30) as browser:
        login = browser.post("/login", data={"username": "admin", "password": MASTER})
        session = jwt_claims(login.cookies["token"])["key"]
    key = _generate_key(db_gateway, auth=session, key_alias="made-in-the-ui")
    answered = _chat(db_gateway, key)
    assert answered.status_code == 200, answered.text


def test_a_virtual_keys_rate_limit_is_enforced_in_the_callers_shape(db_gateway):
    key = _generate_key(db_gateway, key_alias="one-a-minute", rpm_limit=1)
    assert _chat(db_gateway, key).status_code == 200
    limited = _chat(db_gateway, key)
    assert limited.status_code == 429, limited.text
    assert "Rate limit exceeded" in limited.json()["error"]["message"]
    anthropic = httpx.post(
        db_gateway.url + "/v1/messages",
        json={"model": "coding-elite", "max_tokens": 20, "messages": PROMPT},
        headers={"x-api-key": key},
        timeout=30,
    )
    assert anthropic.status_code == 429
    assert anthropic.json()["type"] == "error"
    assert key not in limited.text + anthropic.text


def test_a_virtual_key_is_limited_to_its_models(db_gateway):
    key = _generate_key(db_gateway, key_alias="direct-only", models=["groq/m"])
    refused = _chat(db_gateway, key)
    assert refused.status_code == 403, refused.text
    assert "coding-elite" in refused.json()["error"]["message"]
    allowed = httpx.post(
        db_gateway.url + "/v1/chat/completions",
        json={"model": "groq/m", "messages": PROMPT},
        headers={"authorization": f"Bearer {key}"},
        timeout=30,
    )
    assert allowed.status_code == 200, allowed.text


def test_budgets_count_only_priced_models(db_gateway):
    """LiteLLM skips budget checks for models that cost nothing, and every free-tier model is
    priced at zero: a key over its budget is still served (README: budgets)."""
    key = _generate_key(db_gateway, key_alias="over-budget", max_budget=0.5, spend=1.0)
    assert _chat(db_gateway, key).status_code == 200


# Routes the UI has pages for that stay closed through the gateway: MCP, agents and prompt
# management (its "test" runs a model) are served by LiteLLM alone, outside the chains; the
# subscription accounts' table is missing from the installable migrations (see README,
# "LiteLLM admin UI and database mode").
CLOSED_FOR_THE_UI = ("/v1/mcp/", "/v1/agents", "/prompts/", "/subscription_accounts/")


def test_routes_that_call_models_around_the_chains_stay_closed(db_gateway):
    """The admin group opens LiteLLM's management, never a route that makes a model call of
    its own: a deep `/health` check, a prompt test, MCP."""
    auth = {"authorization": f"Bearer {MASTER}"}
    for method, path in (
        ("GET", "/health"),
        ("POST", "/prompts/test"),
        ("GET", "/v1/mcp/server"),
        ("POST", "/v1/vector_stores/x/search"),
    ):
        answer = httpx.request(method, db_gateway.url + path, headers=auth, json={}, timeout=30)
        assert answer.status_code in (404, 405), (path, answer.status_code, answer.text)
        assert "No such endpoint" in answer.json()["error"]["message"], (path, answer.text)


def test_admin_ui_in_headless_chromium(db_gateway):
    """LiteLLM's admin UI rendered and clicked in a real browser through the gateway: its
    login form, the dashboard staying logged in (it logs out when one of its API calls is
    refused), the Models page listing the virtual model, and a key made with the UI's own
    "Create New Key" form, limited to `coding-elite`, that the gateway then accepts."""
    with DevTools(require_chromium()) as page:
        page.goto(db_gateway.url + "/ui/")
        page.wait_for("!!document.querySelector('input[type=password]')")
        page.type_into("input:not([type=password])", "admin")
        page.type_into("input[type=password]", MASTER)
        page.evaluate("document.querySelector('button[type=submit]').click()")
        page.wait_for("!location.pathname.startsWith('/ui/login')")

        page.goto(db_gateway.url + "/ui/models-and-endpoints/")
        page.wait_for("document.body.innerText.includes('coding-elite')")
        assert "/ui/login" not in page.evaluate("location.href")
        assert "token=" in page.evaluate("document.cookie")  # still logged in

        page.goto(db_gateway.url + "/ui/api-keys/")
        create = page.with_text("button", "+ Create New Key")
        page.wait_for(f"!!{create}")
        page.evaluate(f"{create}.click()")
        page.wait_for("!!document.querySelector('[role=dialog] input[data-slot=input]')")
        page.type_into("[role=dialog] input[data-slot=input]", "made-in-chromium")
        page.type_into("#models", "coding")
        option = page.with_text("[role=option]", "coding-elite")
        page.wait_for(f"!!{option}")
        page.evaluate(f"{option}.click()")
        page.evaluate("document.querySelector('[role=dialog] button[type=submit]').click()")
        key = page.wait_for(
            "([...document.querySelectorAll('[role=dialog]')].map(d => d.innerText).join(' ')"
            ".match(/sk-[A-Za-z0-9_-]{16,}/) || [null])[0]"
        )

        for path in ("/ui/logs/", "/ui/usage/", "/ui/playground/", "/ui/"):
            page.goto(db_gateway.url + path)
            page.wait_for("document.body.innerText.length > 200")
        time.sleep(2)  # the last page's API calls
        responses = page.responses()
        assert "/ui/login" not in page.evaluate("location.href")
        assert "token=" in page.evaluate("document.cookie")

    assert isinstance(key, str)
    answered = _chat(db_gateway, key)
    assert answered.status_code == 200, answered.text
    assert answered.headers["x-gateway-virtual-model"] == "coding-elite"
    other = _chat(db_gateway, key, model="groq/m")
    assert other.status_code == 403, other.text  # the key is limited to coding-elite

    failed = [(status, url) for status, _, url in responses if status >= 500]
    assert not failed, failed
    refused = [
        url
        for status, _, url in responses
        if status == 404 and "/_next/" not in url and "litellm-runtime-config" not in url
    ]
    unexpected = [u for u in refused if not urlsplit(u).path.startswith(CLOSED_FOR_THE_UI)]
    # LiteLLM's own 404s (a page asking for a route this build does not have) are fine;
    # the gateway's ("No such endpoint") would mean a route the UI needs is still closed.
    master = {"authorization": f"Bearer {MASTER}"}
    closed = [
        u for u in unexpected if "No such endpoint" in httpx.get(u, headers=master, timeout=30).text
    ]
    assert not closed, closed
