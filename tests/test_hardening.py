"""What a security review and a load test found, kept fixed: malformed parameters never cool
a healthy route down, no CORS unless configured, bounded bodies and headers, idle
connections closed, a graceful drain on shutdown, load shed with a 503 rather than blamed on
a provider."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import provider_env
from tests.gateway_process import GatewayProcess, write_config

PROMPT = [{"role": "user", "content": "echo: fine"}]


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


# -- 1. a malformed request never takes a healthy route down ------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tools", "tools"),
        ("tools", [{"type": "function", "function": {"description": "no name"}}]),
        ("response_format", "json"),
        ("response_format", {"type": "xml"}),
        ("temperature", "hot"),
        ("max_tokens", -1),
        ("max_tokens", True),
        ("tool_choice", 5),
        ("stop", [1, 2]),
        ("stream_options", "yes"),
        ("top_p", 7),
    ],
)
def test_malformed_parameter_is_a_400_and_no_cooldown(gateway, field, value):
    bad = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "coding-elite", "messages": PROMPT, field: value},
        timeout=30,
    )
    assert bad.status_code == 400, bad.text
    assert bad.json()["error"]["param"] == field
    good = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "coding-elite", "messages": PROMPT},
        timeout=30,
    )
    assert good.status_code == 200
    assert good.headers["x-gateway-candidate"] == "1"
    assert good.headers["x-gateway-attempt"] == "1"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": 42}]}),
        ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "x"}]}),
        ("/v1/responses", {"input": "x", "tools": "tools"}),
        ("/v1/responses", {"input": "x", "temperature": "warm"}),
        ("/v1/messages", {"max_tokens": 10, "messages": PROMPT, "tools": "tools"}),
        ("/v1/messages", {"max_tokens": "ten", "messages": PROMPT}),
        ("/v1/completions", {"prompt": "x", "max_tokens": "ten"}),
    ],
)
def test_malformed_requests_on_every_api_are_400s(gateway, path, body):
    response = httpx.post(gateway.url + path, json={"model": "coding-elite", **body}, timeout=30)
    assert response.status_code == 400, response.text
    stats = httpx.get(gateway.url + "/stats", timeout=30).json()
    first = stats["providers"]["groq"]["models"]["groq/llama-3.3-70b-versatile"]
    assert first["cooldown"] is None


# -- 2 and 7. CORS and OPTIONS ------------------------------------------------------------


def test_no_cross_origin_access_by_default(gateway):
    response = httpx.get(gateway.url + "/v1/models", headers={"origin": "https://evil.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
    preflight = httpx.options(
        gateway.url + "/v1/chat/completions",
        headers={
            "origin": "https://evil.example",
            "access-control-request-method": "POST",
        },
    )
    assert "access-control-allow-origin" not in preflight.headers
    assert preflight.headers["content-type"] == "application/json"


@pytest.fixture(scope="module")
def cors_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("cors")
    config = write_config(
        root / "config",
        {"groq": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["m"]}},
        {"coding-elite": {"candidates": ["groq/m"]}},
    )
    env = {
        **provider_env(emulator),
        "PROXY_API_KEY": "cors-test-key-123456",
        "GATEWAY_CORS_ORIGINS": "https://app.example, http://localhost:3000",
    }
    with GatewayProcess(config, root / "data", env=env) as process:
        yield process


def test_configured_origins_get_cors_and_others_do_not(cors_gateway):
    url = cors_gateway.url + "/v1/chat/completions"
    preflight = httpx.options(
        url,
        headers={
            "origin": "https://app.example",
            "access-control-request-method": "POST",
            "access-control-request-headers": "authorization, content-type",
        },
    )
    assert preflight.status_code == 204  # answered without a key
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "authorization" in preflight.headers["access-control-allow-headers"]
    answer = httpx.post(
        url,
        json={"model": "coding-elite", "messages": PROMPT},
        headers={"origin": "https://app.example", "authorization": "Bearer cors-test-key-123456"},
        timeout=30,
    )
    assert answer.headers["access-control-allow-origin"] == "https://app.example"
    assert "x-gateway-served-by" in answer.headers["access-control-expose-headers"]
    other = httpx.options(
        url, headers={"origin": "https://evil.example", "access-control-request-method": "POST"}
    )
    assert other.status_code == 401  # not a preflight it answers: the key is needed
    assert "access-control-allow-origin" not in other.headers


def test_options_without_a_key_is_401_unless_an_allowed_preflight(cors_gateway):
    plain = httpx.options(cors_gateway.url + "/v1/chat/completions")
    assert plain.status_code == 401
    assert plain.json()["error"]["code"] == "invalid_api_key"
    stats = httpx.options(cors_gateway.url + "/stats", headers={"origin": "https://app.example"})
    assert stats.status_code == 401  # an Origin without Access-Control-Request-Method


# -- 3. bounded bodies ---------------------------------------------------------------------


def _post_raw(url: str, head: bytes, body_chunks, timeout: float = 30) -> bytes:
    """Send a request over a plain socket (so the client does not choke when the server
    answers early) and return what came back."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(head)
        try:
            for chunk in body_chunks:
                sock.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        data = b""
        try:
            while chunk := sock.recv(65536):
                data += chunk
        except (ConnectionResetError, TimeoutError):
            pass
    return data


def test_a_64_mb_body_is_refused_without_being_read(gateway):
    pid = gateway.process.pid
    before = rss_mb(pid)
    size = 64 * 1024 * 1024
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"content-length: %d\r\n\r\n" % size
    )
    reply = _post_raw(gateway.url, head, [b" " * (1024 * 1024)] * 64)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert b'"request_too_large"' in reply
    assert rss_mb(pid) - before < 100


def test_a_chunked_body_over_the_limit_is_refused_while_it_streams(gateway):
    pid = gateway.process.pid
    before = rss_mb(pid)
    head = (
        b"POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
        b"transfer-encoding: chunked\r\n\r\n"
    )
    piece = b" " * (1024 * 1024)
    chunks = (b"%x\r\n%s\r\n" % (len(piece), piece) for _ in range(64))
    reply = _post_raw(gateway.url, head, chunks)
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert rss_mb(pid) - before < 100
    assert httpx.get(gateway.url + "/v1/models").status_code == 200  # still serving


# -- 4. non-stream requests get the first-byte limit with the shipped config ---------------


def test_a_silent_provider_on_a_non_stream_request_fails_over_within_12s(gateway):
    started = time.monotonic()
    response = httpx.post(
        gateway.url + "/v1/chat/completions",
        json={"model": "silent-default", "messages": PROMPT},
        timeout=60,
    )
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["model"] == "gemini/gemini-3-pro"
    assert elapsed < 12


# -- 8. headers and idle connections -------------------------------------------------------


def test_an_oversized_header_is_a_431(gateway):
    big = b"GET /v1/models HTTP/1.1\r\nhost: x\r\nx-big: " + b"a" * (1024 * 1024) + b"\r\n\r\n"
    reply = _post_raw(gateway.url, big, [])
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert b'"headers_too_large"' in reply
    many = b"".join(b"x-h%d: v\r\n" % i for i in range(10_000))
    reply = _post_raw(gateway.url, b"GET /v1/models HTTP/1.1\r\nhost: x\r\n" + many + b"\r\n", [])
    assert reply.startswith(b"HTTP/1.1 431"), reply[:200]
    assert httpx.get(gateway.url + "/v1/models").status_code == 200


def test_a_malformed_request_line_is_a_json_400(gateway):
    reply = _post_raw(gateway.url, b"NOT HTTP AT ALL\r\n\r\n", [])
    assert reply.startswith(b"HTTP/1.1 400")
    assert b'"invalid_http_request"' in reply


@pytest.fixture(scope="module")
def strict_gateway(emulator, tmp_path_factory) -> Iterator[GatewayProcess]:
    """Short header and keep-alive timeouts, a short drain, a small in-flight limit."""
    root = tmp_path_factory.mktemp("strict")
    config = write_config(
        root / "config",
        {
            "groq": {
                "type": "groq",
                "api_key_env": "GROQ_API_KEY",
                "models": ["m", "fault-stall2-drain", "fault-slowheaders3-held"],
            }
        },
        {"coding-elite": {"candidates": ["groq/m"]}},
        routing={"stream_idle_timeout": 30},
    )
    env = {
        **provider_env(emulator),
        "GATEWAY_HEADER_TIMEOUT_SECONDS": "1",
        "GATEWAY_KEEPALIVE_SECONDS": "2",
        "GATEWAY_DRAIN_SECONDS": "1",
        "GATEWAY_MAX_IN_FLIGHT": "4",
    }
    process = GatewayProcess(config, root / "data", env=env)
    with process:
        yield process


def test_idle_connections_are_closed(strict_gateway):
    host, port = strict_gateway.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as silent:
        started = time.monotonic()
        assert silent.recv(1) == b""  # closed by the gateway, not by our timeout
        assert time.monotonic() - started < 4
    with socket.create_connection((host, int(port)), timeout=10) as slow:
        slow.sendall(b"GET /v1/models HTTP/1.1\r\nhost: x\r\n")  # headers never finish
        started = time.monotonic()
        assert slow.recv(1) == b""
        assert time.monotonic() - started < 4
    with socket.create_connection((host, int(port)), timeout=10) as kept:
        kept.sendall(b"GET /livez HTTP/1.1\r\nhost: x\r\n\r\n")
        reply = b""
        while not reply.endswith(b'"alive"}'):
            reply += kept.recv(65536)
        assert reply.startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        assert kept.recv(1) == b""  # the idle keep-alive connection is closed (2 s here)
        assert 1 < time.monotonic() - started < 5


def test_requests_past_the_in_flight_limit_are_shed_with_503(strict_gateway):
    async def run() -> list[httpx.Response]:
        async with httpx.AsyncClient(timeout=30) as client:
            body = {"model": "groq/fault-slowheaders3-held", "messages": PROMPT}
            url = strict_gateway.url + "/v1/chat/completions"
            return await asyncio.gather(*(client.post(url, json=body) for _ in range(8)))

    responses = asyncio.run(run())
    statuses = [r.status_code for r in responses]
    assert statuses.count(200) == 4 and statuses.count(503) == 4
    shed = next(r for r in responses if r.status_code == 503)
    assert shed.headers["retry-after"] == "1"
    assert shed.json()["error"]["code"] == "overloaded"


# -- 6. graceful shutdown ---------------------------------------------------------------------


def test_shutdown_ends_streams_with_an_error_event_and_keeps_telemetry(strict_gateway, emulator):
    url = strict_gateway.url + "/v1/chat/completions"
    body = {"model": "groq/fault-stall2-drain", "messages": PROMPT, "stream": True}

    async def stream_until_sigterm() -> list[list[str]]:
        async with httpx.AsyncClient(timeout=30) as client:
            started = asyncio.Event()
            begun = 0

            async def one() -> list[str]:
                nonlocal begun
                lines = []
                async with client.stream("POST", url, json=body) as response:
                    assert response.status_code == 200
                    async for line in response.aiter_lines():
                        if line.startswith("data: "):
                            lines.append(line[6:])
                            if len(lines) == 1:
                                begun += 1
                                if begun == 3:
                                    started.set()
                return lines

            tasks = [asyncio.create_task(one()) for _ in range(3)]
            await asyncio.wait_for(started.wait(), 10)
            os.kill(strict_gateway.process.pid, signal.SIGTERM)
            return await asyncio.gather(*tasks)

    streams = asyncio.run(stream_until_sigterm())
    for lines in streams:
        assert lines[-1] != "[DONE]"
        error = json.loads(lines[-1])["error"]
        assert error["code"] == "stream_interrupted"
        assert "shutting down" in error["message"]
    # uvicorn re-raises the signal once its shutdown is complete: a clean SIGTERM exit.
    assert strict_gateway.process.wait(15) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in strict_gateway.log()
    db = sqlite3.connect(strict_gateway.data_dir / "telemetry.db")
    outcomes = [row[0] for row in db.execute("select outcome from gateway_attempts")]
    assert outcomes.count("shutdown") == 3
    assert "cancelled" not in outcomes
