"""What each arm is sent: the same question, in the protocol the arm speaks.

- `direct`: the simulator's native endpoint, as the proxy calls it (the proxy's floor);
- `direct-compatible`: the simulator's compatible mode, as LiteLLM calls it (LiteLLM's floor);
- `relay`: the direct arm's request through a byte relay (`bench.relay`), the floor of any
  asyncio proxy;
- `proxy`, `proxy-traffic-log`: this proxy's chat completions, code interpreter on;
- `litellm`: LiteLLM's chat completions, forwarded to compatible mode (which drops the code).
"""

from __future__ import annotations

from typing import Any

from bench.content import MODEL
from bench.upstream import COMPATIBLE_PATH, TEXT_PATH
from bench.verify import NATIVE, OPENAI

KEY = "sk-fake-bench"  # never a real key: every arm talks to the loopback simulator only
_MESSAGES = [{"role": "user", "content": "What is the sum of the first squares? Use code."}]
_CHAT = {
    "model": MODEL,
    "messages": _MESSAGES,
    "stream": True,
    "stream_options": {"include_usage": True},
}


def direct(port: int, name: str = "direct") -> dict[str, Any]:
    body = {
        "model": MODEL,
        "input": {"messages": _MESSAGES},
        "parameters": {
            "result_format": "message",
            "incremental_output": True,
            "enable_thinking": True,
            "enable_code_interpreter": True,
        },
    }
    headers = {"authorization": f"Bearer {KEY}", "x-dashscope-sse": "enable"}
    return _spec(name, port, TEXT_PATH, NATIVE, True, headers, body)


def relay(port: int) -> dict[str, Any]:
    """The direct arm's request through `bench.relay`: the same bytes both ways."""
    return direct(port, name="relay")


def direct_compatible(port: int) -> dict[str, Any]:
    body = {**_CHAT, "enable_thinking": True}
    return _spec("direct-compatible", port, COMPATIBLE_PATH, OPENAI, False, _auth(), body)


def proxy(port: int, name: str = "proxy") -> dict[str, Any]:
    body = {**_CHAT, "enable_thinking": True, "enable_code_interpreter": True}
    return _spec(name, port, "/v1/chat/completions", OPENAI, True, _auth(), body)


def litellm(port: int) -> dict[str, Any]:
    # Compatible mode drops the code, so only reasoning and answer can be checked here.
    return _spec("litellm", port, "/v1/chat/completions", OPENAI, False, _auth(), dict(_CHAT))


def _auth() -> dict[str, str]:
    return {"authorization": f"Bearer {KEY}"}


def _spec(
    name: str,
    port: int,
    path: str,
    dialect: str,
    expect_code: bool,
    headers: dict[str, str],
    body: dict[str, Any],
) -> dict[str, Any]:
    return {
        "name": name,
        "port": port,
        "path": path,
        "dialect": dialect,
        "expect_code": expect_code,
        "headers": headers,
        "body": body,
    }
