"""An OpenAI-compatible LLM gateway for agentic coding on free providers, on top of LiteLLM."""

__version__ = "0.1.0"
