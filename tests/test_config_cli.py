"""`gateway config` / `gateway models` and configuration errors that name file and key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.gateway_process import run_cli, write_config

SECRET = "gsk_super_secret_value_123456"


ISSUE_PROVIDERS = {
    "groq": {
        "type": "groq",
        "api_base": "https://api.groq.com/openai/v1",
        "api_key_env": "GROQ_API_KEY",
        "limits": {"rpm": 30, "rpd": 1000},
        "models": {"llama-3.3-70b-versatile": {"context_window": 131072}},
    },
    "mybox": {
        "type": "openai_compatible",
        "api_base": "http://127.0.0.1:8401/v1",
        "models": ["some-model"],
    },
}
ISSUE_VIRTUAL = {
    "coding-elite": {
        "description": "Best agentic coding model that is up right now",
        "candidates": ["groq/llama-3.3-70b-versatile", "gemini/gemini-3-pro", "g4f/gpt-4"],
    }
}


def test_models_explains_each_candidate(tmp_path):
    config = write_config(tmp_path, ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli("models", "--config-dir", str(config), env={"GROQ_API_KEY": SECRET})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("coding-elite  (1/3 usable)")
    assert "1. groq/llama-3.3-70b-versatile" in lines[1] and lines[1].endswith("ok")
    assert "unknown provider 'gemini'" in lines[2]
    assert "unknown provider 'g4f'" in lines[3]
    assert SECRET not in result.stdout


def test_models_reports_missing_key(tmp_path):
    config = write_config(tmp_path, ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli("models", "--config-dir", str(config))
    assert "groq/llama-3.3-70b-versatile" in result.stdout
    assert "unusable: GROQ_API_KEY is not set" in result.stdout


def test_config_prints_litellm_config_without_secrets(tmp_path):
    config = write_config(tmp_path, ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli(
        "config",
        "--config-dir",
        str(config),
        env={"GROQ_API_KEY": SECRET, "PROXY_API_KEY": "proxy-secret-123456"},
    )
    assert result.returncode == 0, result.stderr
    generated = yaml.safe_load(result.stdout)
    names = [entry["model_name"] for entry in generated["model_list"]]
    assert names == ["groq/llama-3.3-70b-versatile", "mybox/some-model"]
    groq = generated["model_list"][0]["litellm_params"]
    assert groq["api_key"] == "os.environ/GROQ_API_KEY"
    assert groq["api_base"] == "https://api.groq.com/openai/v1"
    assert generated["router_settings"]["num_retries"] == 0
    assert SECRET not in result.stdout and "proxy-secret-123456" not in result.stdout


def test_env_overrides_builtin_base_url(tmp_path):
    config = write_config(tmp_path, ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli(
        "config",
        "--config-dir",
        str(config),
        env={"GROQ_API_KEY": SECRET, "GROQ_API_BASE": "http://127.0.0.1:9999/openai/v1"},
    )
    groq = yaml.safe_load(result.stdout)["model_list"][0]["litellm_params"]
    assert groq["api_base"] == "http://127.0.0.1:9999/openai/v1"


def test_config_dir_from_environment(tmp_path):
    config = write_config(tmp_path, ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli("models", env={"GATEWAY_CONFIG_DIR": str(config)})
    assert result.stdout.startswith("coding-elite  (0/3 usable)")


def test_shipped_config_is_valid():
    result = run_cli("models")
    assert result.returncode == 0, result.stderr
    for name in (
        "coding-elite",
        "coding-smart",
        "coding-fast",
        "chat-smart",
        "chat-fast",
        "chat-rp",
    ):
        assert any(line.startswith(name + "  (") for line in result.stdout.splitlines())


def _broken(tmp_path: Path, providers_text: str, virtual_text: str | None = None) -> str:
    (tmp_path / "providers.yaml").write_text(providers_text)
    (tmp_path / "virtual_models.yaml").write_text(
        virtual_text or "virtual_models:\n  v: {candidates: [groq/m]}\n"
    )
    result = run_cli("models", "--config-dir", str(tmp_path))
    assert result.returncode == 2
    return result.stderr


@pytest.mark.parametrize(
    ("providers_text", "virtual_text", "expected"),
    [
        (
            "providers:\n  groq: {type: grok, models: [m]}\n",
            None,
            ["providers.yaml", "providers.groq.type", "'groq'", "(got 'grok')"],
        ),
        (
            "providers:\n  groq: {type: groq, api_kye_env: X, models: [m]}\n",
            None,
            ["providers.yaml", "providers.groq.api_kye_env: unknown key"],
        ),
        (
            "providers:\n  groq: {type: groq}\n",
            None,
            ["providers.yaml", "providers.groq.models: required key is missing"],
        ),
        (
            "providers:\n  groq: {type: groq, models: [m], limits: {rpm: -1}}\n",
            None,
            ["providers.groq.limits.rpm", "greater than or equal to 1"],
        ),
        ("providers: [\n", None, ["providers.yaml: not valid YAML"]),
        ("", None, ["providers.yaml: expected a mapping", "empty file"]),
        (
            "providers:\n  groq: {type: groq, models: [m]}\n",
            "virtual_models:\n  v: {candidates: [nomodel]}\n",
            ["virtual_models.yaml", "virtual_models.v.candidates", "'provider/model'"],
        ),
        (
            "providers:\n  groq: {type: groq, models: [m]}\n",
            "virtual_models:\n  v: {candidates: [groq/m], auto_order: true, profile: nope}\n",
            ["virtual_models.yaml", "virtual_models.v.profile", "unknown ranking profile 'nope'"],
        ),
    ],
)
def test_config_errors_name_file_and_key(tmp_path, providers_text, virtual_text, expected):
    stderr = _broken(tmp_path, providers_text, virtual_text)
    for fragment in expected:
        assert fragment in stderr, stderr


def test_missing_config_dir(tmp_path):
    result = run_cli("models", "--config-dir", str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_run_refuses_bad_config(tmp_path):
    _broken(tmp_path, "providers:\n  groq: {type: grok, models: [m]}\n")
    result = run_cli("run", "--config-dir", str(tmp_path), "--port", "1")
    assert result.returncode == 2
    assert "providers.groq.type" in result.stderr


def test_doctor_reports_problems_with_advice(tmp_path, emulator):
    providers = {
        **ISSUE_PROVIDERS,
        "up": {"type": "openai_compatible", "api_base": emulator.base_url + "/v1", "models": ["m"]},
        "dead": {"type": "openai_compatible", "api_base": "http://127.0.0.1:1/v1", "models": ["x"]},
    }
    virtual = {**ISSUE_VIRTUAL, "lonely": {"candidates": ["gemini/nothing"]}}
    config = write_config(tmp_path / "config", providers, virtual)
    result = run_cli(
        "doctor",
        "--probe",
        "--config-dir",
        str(config),
        env={"GATEWAY_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.returncode == 1
    out = result.stdout
    assert "[--] provider groq: GROQ_API_KEY is not set" in out
    assert "-> put GROQ_API_KEY=... in .env" in out
    assert "[!!] virtual model lonely: no usable candidate" in out
    assert "[ok] telemetry database: sqlite:///" in out
    assert "[ok] reach up: up" in out
    assert "[!!] reach dead: down" in out


def test_doctor_flags_an_unreachable_database(tmp_path):
    config = write_config(tmp_path / "config", ISSUE_PROVIDERS, ISSUE_VIRTUAL)
    result = run_cli(
        "doctor",
        "--config-dir",
        str(config),
        env={"GROQ_API_KEY": SECRET, "GATEWAY_DB_URL": "postgresql://x:pw@127.0.0.1:1/db"},
    )
    assert result.returncode == 1
    assert "[!!] telemetry database: postgresql+psycopg://x:***@127.0.0.1:1/db" in result.stdout
    assert "pw@" not in result.stdout and SECRET not in result.stdout


@pytest.mark.parametrize(
    ("variant", "npm"), [("chat", "@ai-sdk/openai-compatible"), ("responses", "@ai-sdk/openai")]
)
def test_opencode_config_lists_every_virtual_model_with_limits(tmp_path, variant, npm):
    import json

    providers = {
        "groq": {
            "type": "groq",
            "api_key_env": "GROQ_API_KEY",
            "models": {
                "big": {"context_window": 131072, "max_output_tokens": 32768},
                "small": {"context_window": 8192, "max_output_tokens": 4096},
            },
        }
    }
    virtual = {
        "coding-elite": {"candidates": ["groq/big", "groq/small"]},
        "plain": {"candidates": ["groq/big"]},
    }
    config = write_config(tmp_path, providers, virtual)
    result = run_cli(
        "opencode-config",
        "--config-dir",
        str(config),
        "--base-url",
        "http://127.0.0.1:9000",
        "--variant",
        variant,
        env={"PROXY_API_KEY": "k-123456"},
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    provider = document["provider"]["gateway"]
    assert provider["npm"] == npm
    assert provider["options"] == {
        "baseURL": "http://127.0.0.1:9000/v1",
        "apiKey": "{env:PROXY_API_KEY}",
    }
    assert provider["models"]["coding-elite"]["limit"] == {"context": 8192, "output": 4096}
    assert provider["models"]["plain"]["limit"] == {"context": 131072, "output": 32768}
    assert document["model"] == "gateway/coding-elite"
    assert "k-123456" not in result.stdout
