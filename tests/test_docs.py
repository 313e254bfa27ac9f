"""The README and `.env.example` stay true: every environment variable the gateway reads is
documented in both."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
# Variables the gateway sets for LiteLLM itself, not for users.
INTERNAL = {"CONFIG_FILE_PATH"}


def variables_read_by_the_gateway() -> set[str]:
    names: set[str] = set()
    for path in (REPO / "gateway").rglob("*.py"):
        text = path.read_text()
        names.update(re.findall(r"environ(?:\.get)?\(\s*\"([A-Z][A-Z0-9_]+)\"", text))
        names.update(re.findall(r"env\.get\(\s*\"([A-Z][A-Z0-9_]+)\"", text))
        names.update(re.findall(r"environ\[\"([A-Z][A-Z0-9_]+)\"\]", text))
        names.update(re.findall(r"_env=\"([A-Z][A-Z0-9_]+)\"", text))
        names.update(re.findall(r"_ENV = \"([A-Z][A-Z0-9_]+)\"", text))
    return names - INTERNAL


def test_the_scan_finds_variables():
    found = variables_read_by_the_gateway()
    assert {"PROXY_API_KEY", "GATEWAY_DB_URL", "GROQ_API_KEY", "CLOUDFLARE_ACCOUNT_ID"} <= found


def test_every_variable_is_in_env_example_and_readme():
    example = (REPO / ".env.example").read_text()
    readme = (REPO / "README.md").read_text()
    missing_example = sorted(n for n in variables_read_by_the_gateway() if n not in example)
    missing_readme = sorted(n for n in variables_read_by_the_gateway() if n not in readme)
    assert not missing_example, f".env.example lacks {missing_example}"
    assert not missing_readme, f"README.md lacks {missing_readme}"
