"""`make run` serves the gateway, and the README's curl answers from the first usable candidate."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import httpx

from tests.conftest import provider_env
from tests.gateway_process import REPO, free_port, write_config


def test_make_run_and_curl(emulator, tmp_path):
    config = write_config(
        tmp_path / "config",
        {
            "groq": {"type": "groq", "api_key_env": "GROQ_KEY_NOT_SET", "models": ["first"]},
            "gemini": {"type": "gemini", "api_key_env": "GEMINI_API_KEY", "models": ["second"]},
            "mybox": {
                "type": "openai_compatible",
                "api_base": emulator.base_url + "/v1",
                "models": ["third"],
            },
        },
        {"coding-elite": {"candidates": ["groq/first", "gemini/second", "mybox/third"]}},
    )
    port = free_port()
    env = {
        **os.environ,
        **provider_env(emulator),
        "GATEWAY_CONFIG_DIR": str(config),
        "GATEWAY_DATA_DIR": str(tmp_path / "data"),
        "GATEWAY_DOTENV": str(tmp_path / "none.env"),
    }
    env.pop("PROXY_API_KEY", None)
    process = subprocess.Popen(
        ["make", "-s", "run", f"PORT={port}"],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            assert process.poll() is None, process.stdout.read().decode()
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health/liveliness").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        body = '{"model":"coding-elite","messages":[{"role":"user","content":"echo: from curl"}]}'
        curl = subprocess.run(
            ["curl", "-s", f"localhost:{port}/v1/chat/completions", "-d", body],
            capture_output=True,
            text=True,
            timeout=30,
        )
        answer = json.loads(curl.stdout)
        assert answer["model"] == "gemini/second"  # groq/first has no key: first *usable* wins
        assert answer["choices"][0]["message"]["content"] == "from curl"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(15)
