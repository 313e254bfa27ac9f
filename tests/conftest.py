"""Shared fixtures: one provider emulator and one gateway for the whole session.

Every test talks HTTP to a real `gateway run` subprocess, which talks HTTP to the emulator
(tests/emulators), which speaks each provider's real wire format and injects faults picked by
model name (`fault-429-ra7`, `fault-silent`, ...).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest

from gateway.settings import OFFLINE_DEFAULTS
from tests.emulators import Emulator
from tests.gateway_process import GatewayProcess, write_config

# Tests that import litellm in this process get the gateway's offline defaults too (otherwise
# LiteLLM tries to download its cost map, retrying for seconds with no network).
for _name, _value in OFFLINE_DEFAULTS.items():
    os.environ.setdefault(_name, _value)

GROQ_KEY = "gsk_test_groq_key_0123456789"
GEMINI_KEY = "AIzaTestGeminiKey0123456789"
CF_TOKEN = "cf_test_token_0123456789"
GITHUB_KEY = "ghp_testgithubkey0123456789"
BRAVE_KEY = "BSA_test_brave_key_0123456789"
TAVILY_KEY = "tvly-test-tavily-key-0123456789"


def provider_env(emulator: Emulator) -> dict[str, str]:
    """Keys plus the environment overrides that point the built-in providers at the emulator."""
    base = emulator.base_url
    return {
        "GROQ_API_KEY": GROQ_KEY,
        "GROQ_API_BASE": f"{base}/openai/v1",
        "GEMINI_API_KEY": GEMINI_KEY,
        "GEMINI_API_BASE": f"{base}/v1beta",
        "GITHUB_MODELS_API_KEY": GITHUB_KEY,
        "GITHUB_MODELS_API_BASE": f"{base}/inference",
        "CLOUDFLARE_ACCOUNT_ID": "acct123",
        "CLOUDFLARE_API_TOKEN": CF_TOKEN,
        "CLOUDFLARE_API_BASE": f"{base}/client/v4/accounts/{{account_id}}/ai/v1",
        "DUCKDUCKGO_API_BASE": f"{base}/duckduckgo/html/",
        "BRAVE_API_KEY": BRAVE_KEY,
        "BRAVE_API_BASE": f"{base}/res/v1/web/search",
        "TAVILY_API_KEY": TAVILY_KEY,
        "TAVILY_API_BASE": f"{base}/tavily",
    }


def session_providers(emulator: Emulator) -> dict[str, Any]:
    base = emulator.base_url
    return {
        # The issue's schema, pointed at the emulator through the env; the limits are raised
        # from the issue's 30 rpm because the whole suite shares this account (quota tests
        # have gateways of their own).
        "groq": {
            "type": "groq",
            "api_base": "https://api.groq.com/openai/v1",
            "api_key_env": "GROQ_API_KEY",
            "limits": {"rpm": 1000, "rpd": 100000},
            "models": {
                "llama-3.3-70b-versatile": {"context_window": 131072},
                "fault-429-ra7": {},
                "fault-429": {},
                "fault-500": {},
                "fault-500-retry": {},
                "fault-503": {},
                "fault-404": {},
                "fault-reset": {},
                "fault-context": {"context_window": 8192},
                "fault-policy": {},
                "fault-400": {},
                "fault-cut3": {},
                "fault-429-ra20": {},
                "fault-noUsage-x": {},
                "fault-silent-d": {},
            },
        },
        # A 401 cools down the whole account, so it gets an account of its own.
        "badkey": {"type": "groq", "api_key_env": "GROQ_API_KEY", "models": ["fault-401", "other"]},
        "slowgroq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "timeout": 1.5,
            "models": ["fault-silent"],
        },
        "gemini": {
            "type": "gemini",
            "api_key_env": "GEMINI_API_KEY",
            "models": {
                "gemini-3-pro": {"context_window": 1048576},
                "gemini-small": {"context_window": 4096},
                "fault-429": {},
                "fault-429-ra5": {},
                "fault-500": {},
                "text-embedding-004": {"mode": "embedding"},
                "fault-500-embed": {"mode": "embedding"},
                "fault-429-embed": {"mode": "embedding"},
            },
        },
        "github": {"type": "github", "models": ["openai/gpt-4.1"]},
        "cloudflare": {
            "type": "cloudflare",
            "models": {
                "@cf/meta/llama-3.3-70b-instruct-fp8-fast": {"context_window": 24000},
                "@cf/baai/bge-m3": {"mode": "embedding"},
            },
        },
        "mybox": {
            "type": "openai_compatible",
            "api_base": f"{base}/v1",
            "models": {
                "some-model": {},
                "fault-noUsage-y": {},
                "thinker": {},
                "embed-box": {"mode": "embedding"},
            },
        },
        "g4f": {"type": "g4f", "api_base": f"{base}/v1", "models": ["gpt-4"]},
        # The same wires through LiteLLM's Router instead of the gateway's engine.
        "routedgroq": {
            "type": "groq",
            "engine": "litellm",
            "api_key_env": "GROQ_API_KEY",
            "models": ["routed-model"],
        },
        "routedgem": {
            "type": "gemini",
            "engine": "litellm",
            "api_key_env": "GEMINI_API_KEY",
            "models": ["routed-gemini"],
        },
        "routedbox": {
            "type": "openai_compatible",
            "engine": "litellm",
            "api_base": f"{base}/v1",
            "models": ["routed-box"],
        },
        "nokey": {"type": "groq", "api_key_env": "NOT_SET_ANYWHERE", "models": ["m1"]},
        "off": {
            "type": "openai_compatible",
            "api_base": f"{base}/v1",
            "enabled": False,
            "models": ["m2"],
        },
    }


SESSION_VIRTUAL_MODELS: dict[str, Any] = {
    "coding-elite": {
        "description": "Best agentic coding model that is up right now",
        "candidates": ["groq/llama-3.3-70b-versatile", "gemini/gemini-3-pro", "g4f/gpt-4"],
    },
    "chain-429": {"candidates": ["groq/fault-429-ra7", "gemini/gemini-3-pro"]},
    "chain-429-plain": {"candidates": ["groq/fault-429", "github/openai/gpt-4.1"]},
    "chain-500": {
        "candidates": ["groq/fault-500", "cloudflare/@cf/meta/llama-3.3-70b-instruct-fp8-fast"]
    },
    "chain-500-retry": {"candidates": ["groq/fault-500-retry", "mybox/some-model"]},
    "chain-503-stream": {"candidates": ["groq/fault-503", "mybox/some-model"]},
    "chain-timeout": {"candidates": ["slowgroq/fault-silent", "github/openai/gpt-4.1"]},
    "chain-reset": {"candidates": ["groq/fault-reset", "mybox/some-model"]},
    "chain-auth": {"candidates": ["badkey/fault-401", "groq/fault-404", "g4f/gpt-4"]},
    "badkey-other": {"candidates": ["badkey/other", "g4f/gpt-4"]},
    "chain-gemini-fails": {"candidates": ["gemini/fault-500", "groq/llama-3.3-70b-versatile"]},
    "gemini-retryinfo": {"candidates": ["gemini/fault-429-ra5"]},
    "exhausted": {"candidates": ["groq/fault-429-ra20", "gemini/fault-429", "nokey/m1"]},
    "context": {"candidates": ["groq/fault-context", "gemini/gemini-small", "gemini/gemini-3-pro"]},
    "policy": {"candidates": ["groq/fault-policy", "gemini/gemini-3-pro"]},
    "bad-request": {"candidates": ["groq/fault-400", "gemini/gemini-3-pro"]},
    "unusable": {"candidates": ["nokey/m1", "off/m2", "ghost/model"]},
    # The shipped routing defaults (no provider timeout): a silent first candidate.
    "silent-default": {"candidates": ["groq/fault-silent-d", "gemini/gemini-3-pro"]},
    "cut": {"candidates": ["groq/fault-cut3", "gemini/gemini-3-pro"]},
    "embeddings": {
        "mode": "embedding",
        "candidates": ["gemini/fault-500-embed", "cloudflare/@cf/baai/bge-m3"],
    },
    "embed-429": {
        "mode": "embedding",
        "candidates": ["gemini/fault-429-embed", "mybox/embed-box"],
    },
}


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    emu = Emulator()
    emu.start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def gateway(
    emulator: Emulator, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    root = tmp_path_factory.mktemp("gateway")
    config_dir = write_config(root / "config", session_providers(emulator), SESSION_VIRTUAL_MODELS)
    with GatewayProcess(config_dir, root / "data", env=provider_env(emulator)) as process:
        yield process


@pytest.fixture
def client(gateway: GatewayProcess) -> openai.OpenAI:
    return openai.OpenAI(base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30)


@pytest.fixture
def aclient(gateway: GatewayProcess) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=gateway.url + "/v1", api_key="unused", max_retries=0, timeout=30
    )


@pytest.fixture
def anthropic_client(gateway: GatewayProcess) -> anthropic.Anthropic:
    """Anthropic's SDK pointed at the gateway, as Claude Code points itself (no `/v1`)."""
    return anthropic.Anthropic(base_url=gateway.url, api_key="unused", max_retries=0, timeout=30)


def tool_spec(name: str = "write") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": "Write a file",
            "parameters": {
                "$schema": "http://json-schema.org/draft-07/schema#",
                "type": "object",
                "properties": {"filePath": {"type": "string"}, "content": {"type": "string"}},
                "required": ["filePath", "content"],
                "additionalProperties": False,
            },
        },
    }
