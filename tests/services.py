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


def require_postgres() -> str:
    if _reachable("127.0.0.1", 5432):
        return POSTGRES_URL
    message = "PostgreSQL is not running on 127.0.0.1:5432"
    if os.environ.get("GATEWAY_REQUIRE_SERVICES") == "1":
        pytest.fail(message + " (GATEWAY_REQUIRE_SERVICES=1: required in CI)")
    pytest.skip(message)
