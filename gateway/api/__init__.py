"""The gateway's own HTTP routes, mounted in front of LiteLLM's proxy routes."""
