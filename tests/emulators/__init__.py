"""Provider emulators: real wire formats and scripted faults on 127.0.0.1, for tests.

One raw-asyncio HTTP/1.1 server answers as Groq, Gemini, GitHub Models, Cloudflare Workers AI
and a generic OpenAI-compatible API, each on its real path, and misbehaves on request: the
model name picks the fault (see `faults`).
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
