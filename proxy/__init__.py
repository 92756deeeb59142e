"""dashscope-proxy: an OpenAI-compatible streaming proxy for DashScope's native protocol."""

__version__ = "0.1.0"
