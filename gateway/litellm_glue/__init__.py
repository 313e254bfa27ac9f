"""Everything that knows LiteLLM's names and quirks lives in this package.

The rest of the gateway speaks its own domain (catalog, chains, failures); this package turns
that into LiteLLM config, calls LiteLLM's Router, and maps LiteLLM's exceptions back.
"""
