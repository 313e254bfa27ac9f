"""Local PostgreSQL/Redis for tests: skipped when absent, except in CI where absence fails."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get(
    "GATEWAY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def require_postgres() -> str:
    return _require("PostgreSQL", 5432, POSTGRES_URL)


def require_redis() -> str:
    return _require("Redis", 6379, REDIS_URL)


def _require(service: str, port: int, url: str) -> str:
    """`url` if the service listens locally; else skip the test (fail it in CI)."""
    if _reachable("127.0.0.1", port):
        return url
    message = f"{service} is not running on 127.0.0.1:{port}"
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (GATEWAY_REQUIRE_SERVICES=1: required in CI)")
    pytest.skip(message)
