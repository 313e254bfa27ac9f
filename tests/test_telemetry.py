"""Telemetry rows through the running gateway: one per attempt, written off the request path,
surviving a locked database, and working on PostgreSQL by URL."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.exc import OperationalError

from gateway.telemetry.schema import attempts
from gateway.telemetry.writer import database_url
from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config
from tests.services import require_postgres

CHAINS = {
    "ok": ["groq/healthy"],
    "fallback": ["groq/fault-429-ra30", "groq/fault-500", "gemini/healthy-2"],
    "cut": ["groq/fault-cut3", "gemini/healthy-3"],
}
PROMPT = [{"role": "user", "content": "echo: alpha beta gamma delta epsilon"}]


def _config(root: Path, emulator) -> Path:
    models: dict[str, set[str]] = {}
    for refs in CHAINS.values():
        for ref in refs:
            provider, _, model = ref.partition("/")
            models.setdefault(provider, set()).add(model)
    providers = {
        "groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": sorted(models["groq"])},
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": sorted(models["gemini"]),
        },
    }
    virtual = {name: {"candidates": refs} for name, refs in CHAINS.items()}
    return write_config(root / "config", providers, virtual)


def _start(emulator, root: Path, db_url: str | None = None) -> GatewayProcess:
    env = provider_env(emulator)
    if db_url:
        env["GATEWAY_DB_URL"] = db_url
    return GatewayProcess(_config(root, emulator), root / "data", env=env).start()


@pytest.fixture(scope="module")
def gw(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    process = _start(emulator, tmp_path_factory.mktemp("telemetry"))
    yield process
    process.stop()


def rows_for(url: str, request_id: str, expected: int, timeout: float = 10) -> list[dict]:
    """Poll until the background writer has written `expected` rows for the request."""
    engine = create_engine(url)
    deadline = time.monotonic() + timeout
    try:
        while True:
            try:
                with engine.connect() as connection:
                    rows = [
                        dict(row._mapping)
                        for row in connection.execute(
                            select(attempts)
                            .where(attempts.c.request_id == request_id)
                            .order_by(attempts.c.attempt)
                        )
                    ]
            except OperationalError:  # the writer has not created the table yet
                rows = []
            if len(rows) >= expected or time.monotonic() > deadline:
                return rows
            time.sleep(0.2)
    finally:
        engine.dispose()


def sqlite_url(gw: GatewayProcess) -> str:
    return database_url(None, gw.data_dir)


def chat(gw: GatewayProcess, model: str, **extra) -> httpx.Response:
    body = {"model": model, "messages": PROMPT, **extra}
    if extra.get("stream"):
        with httpx.stream("POST", gw.url + "/v1/chat/completions", json=body, timeout=30) as r:
            r.read()
            return r
    return httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=30)


def test_success_row(gw):
    response = chat(gw, "ok")
    request_id = response.headers["x-gateway-request-id"]
    [row] = rows_for(sqlite_url(gw), request_id, 1)
    assert row["outcome"] == "success"
    assert row["virtual_model"] == "ok"
    assert (row["provider"], row["model"], row["attempt"]) == ("groq", "groq/healthy", 1)
    assert row["http_status"] == 200
    assert row["input_tokens"] > 0 and row["output_tokens"] == 5
    assert row["latency_ms"] > 0
    assert row["stream"] is False or row["stream"] == 0
    assert row["client"].startswith("python-httpx")
    assert row["cost"] == 0.0


def test_fallback_chain_writes_one_row_per_attempt(gw):
    response = chat(gw, "fallback")
    rows = rows_for(sqlite_url(gw), response.headers["x-gateway-request-id"], 4)
    assert [(r["model"], r["outcome"], r["http_status"]) for r in rows] == [
        ("groq/fault-429-ra30", "rate_limited", 429),
        ("groq/fault-500", "server_error", 500),
        ("groq/fault-500", "server_error", 500),  # the one quick retry
        ("gemini/healthy-2", "success", 200),
    ]
    assert [r["attempt"] for r in rows] == [1, 2, 3, 4]
    assert rows[0]["fallback_reason"] is None
    assert rows[1]["fallback_reason"].startswith("groq/fault-429-ra30 rate_limited")
    assert "Rate limit reached" in rows[0]["error_message"]
    assert rows[3]["fallback_reason"].startswith("groq/fault-500 server_error")


def test_stream_row_has_ttft_tokens_and_speed(gw):
    response = chat(gw, "ok", stream=True)
    [row] = rows_for(sqlite_url(gw), response.headers["x-gateway-request-id"], 1)
    assert row["outcome"] == "success" and row["stream"]
    assert 0 < row["ttft_ms"] <= row["latency_ms"]
    assert row["output_tokens"] == 5
    assert row["tokens_per_second"] > 0


def test_mid_stream_continuation_rows(gw):
    response = chat(gw, "cut", stream=True)
    rows = rows_for(sqlite_url(gw), response.headers["x-gateway-request-id"], 2)
    assert [(r["model"], r["outcome"]) for r in rows] == [
        ("groq/fault-cut3", "server_error"),
        ("gemini/healthy-3", "continuation"),
    ]
    assert rows[1]["ttft_ms"] is not None


def test_secrets_never_reach_telemetry(gw):
    from tests.conftest import GEMINI_KEY, GROQ_KEY

    chat(gw, "fallback")
    time.sleep(1)
    text = Path(sqlite_url(gw).removeprefix("sqlite:///")).read_bytes()
    assert GROQ_KEY.encode() not in text and GEMINI_KEY.encode() not in text


def test_locked_database_fails_no_request_and_loses_no_row(emulator, tmp_path):
    gw = _start(emulator, tmp_path)
    try:
        db_path = Path(sqlite_url(gw).removeprefix("sqlite:///"))
        first = chat(gw, "ok")  # creates the schema
        assert rows_for(sqlite_url(gw), first.headers["x-gateway-request-id"], 1)
        release = threading.Event()

        def hold_lock() -> None:
            connection = sqlite3.connect(db_path, timeout=10)
            connection.execute("BEGIN EXCLUSIVE")
            release.wait(15)
            connection.rollback()
            connection.close()

        holder = threading.Thread(target=hold_lock)
        holder.start()
        time.sleep(0.3)
        request_ids = []
        for _ in range(5):
            response = chat(gw, "ok")
            assert response.status_code == 200
            request_ids.append(response.headers["x-gateway-request-id"])
        time.sleep(3)  # the writer meets the lock (busy_timeout 2 s) and backs off
        release.set()
        holder.join()
        for request_id in request_ids:
            assert len(rows_for(sqlite_url(gw), request_id, 1, timeout=20)) == 1
        assert "telemetry: database" in gw.log() and "rows kept" in gw.log()
    finally:
        gw.stop()


def test_unreachable_database_never_fails_requests(emulator, tmp_path):
    gw = _start(emulator, tmp_path, db_url="postgresql://nobody@127.0.0.1:1/none")
    try:
        for _ in range(3):
            assert chat(gw, "ok").status_code == 200
        time.sleep(1.5)
        assert "unavailable" in gw.log()
        assert chat(gw, "ok").status_code == 200
    finally:
        gw.stop()


def test_postgres_by_url(emulator, tmp_path):
    url = require_postgres()
    gw = _start(emulator, tmp_path, db_url=url)
    try:
        response = chat(gw, "fallback")
        rows = rows_for(database_url(url, tmp_path), response.headers["x-gateway-request-id"], 4)
        assert [r["outcome"] for r in rows] == [
            "rate_limited",
            "server_error",
            "server_error",
            "success",
        ]
        assert rows[0]["ts"].tzinfo is not None
    finally:
        gw.stop()
