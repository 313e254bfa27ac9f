"""The engine: upstream calls sent and read by the gateway itself (LiteLLM translates)."""
