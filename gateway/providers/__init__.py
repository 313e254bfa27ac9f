"""Provider types by name, one module each: chat providers, and web-search providers."""

from gateway.providers.base import ProviderType, ResolvedEndpoint
from gateway.providers.brave import BRAVE
from gateway.providers.cloudflare import CLOUDFLARE
from gateway.providers.duckduckgo import DUCKDUCKGO
from gateway.providers.g4f import G4F
from gateway.providers.gemini import GEMINI
from gateway.providers.github import GITHUB
from gateway.providers.groq import GROQ
from gateway.providers.openai_compatible import OPENAI_COMPATIBLE, PLACEHOLDER_KEY
from gateway.providers.tavily import TAVILY

PROVIDER_TYPES: dict[str, ProviderType] = {
    t.name: t for t in (GROQ, GEMINI, GITHUB, CLOUDFLARE, G4F, OPENAI_COMPATIBLE)
}

SEARCH_PROVIDER_TYPES: dict[str, ProviderType] = {t.name: t for t in (DUCKDUCKGO, BRAVE, TAVILY)}

__all__ = [
    "PLACEHOLDER_KEY",
    "PROVIDER_TYPES",
    "SEARCH_PROVIDER_TYPES",
    "ProviderType",
    "ResolvedEndpoint",
]
