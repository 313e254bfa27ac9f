"""Provider emulators: real wire formats and scripted faults on 127.0.0.1, for tests.

One raw-asyncio HTTP/1.1 server answers as Groq, Gemini, GitHub Models, Cloudflare Workers AI
and a generic OpenAI-compatible API, each on its real path, and misbehaves on request: the
model name picks the fault (see `faults`).

    with Emulator() as emu:
        litellm.completion(model="groq/fault-429-ra5", api_base=emu.api_base("groq"), ...)
        assert emu.count(provider="groq", status=429) == 1

api_base per provider (LiteLLM model prefix in brackets): groq `/openai/v1` [groq/],
gemini `/v1beta` [gemini/], github `/inference` [github/], cloudflare
`/client/v4/accounts/<acct>/ai/v1` [openai/@cf/...], generic `/v1` [openai/].
"""

from .faults import Fault, FaultKind, parse_fault
from .recording import RecordedRequest
from .server import API_BASE_PATHS, PROVIDERS, Emulator, ProviderEmulator

__all__ = [
    "API_BASE_PATHS",
    "PROVIDERS",
    "Emulator",
    "Fault",
    "FaultKind",
    "ProviderEmulator",
    "RecordedRequest",
    "parse_fault",
]
