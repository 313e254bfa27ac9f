"""Keep secrets out of logs, telemetry, error messages and `/stats`."""

from __future__ import annotations

import os
import re
from urllib.parse import urlsplit, urlunsplit

# Shapes of common API keys and bearer tokens.
_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._\-]{8,}"),
    re.compile(r"\b(gsk_|ghp_|github_pat_|sk-|AIza)[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)([?&]key=)[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(x-goog-api-key['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9_\-]{8,}"),
)
_SECRET_ENV_SUFFIXES = ("_API_KEY", "_API_TOKEN", "_TOKEN", "_SECRET")
MASK = "***"


def _secret_values() -> list[str]:
    values = []
    for name, value in os.environ.items():
        if (name.endswith(_SECRET_ENV_SUFFIXES) or name == "PROXY_API_KEY") and len(value) >= 6:
            values.append(value)
    return sorted(values, key=len, reverse=True)


def redact(text: str) -> str:
    """Mask every configured secret value and anything shaped like a key."""
    for value in _secret_values():
        if value in text:
            text = text.replace(value, MASK)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + MASK, text)
    return text


def hide_password(url: str) -> str:
    """A connection URL (database, Redis) with its password masked, for logs and `/stats`."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    host = f"[{host}]" if ":" in host else host  # IPv6
    netloc = f"{parts.username or ''}:{MASK}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))
