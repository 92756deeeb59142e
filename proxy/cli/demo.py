"""`dashscope-proxy demo`: the proxy in front of the built-in DashScope simulator, driven by the
real OpenAI SDK exactly as the vendor's code-interpreter page does. Offline; loopback only."""

from __future__ import annotations

import json
import sys
import time
from typing import Any, TextIO

from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.inspect.commands import DEMO_TRAFFIC_LOG
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import create_simulator_app

_QUESTION = "What is 123 to the power of 21?"


class _Style:
    def __init__(self, stream: TextIO) -> None:
        self._on = stream.isatty()

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._on else text


def run_demo(
    *,
    serve: bool = False,
    port: int = 0,
    out: TextIO | None = None,
    traffic_log: str = DEMO_TRAFFIC_LOG,
) -> int:
    out = out or sys.stdout  # looked up now: tests and callers may have redirected it
    simulator = BackgroundServer(create_simulator_app(frame_delay=0 if not serve else 0.02))
    with simulator:
        settings = Settings(
            upstream=UpstreamSettings(base_url=simulator.url, api_key="sk-demo-simulator"),
            # Captured in full so `dashscope-proxy logs show` and `logs replay` have it all.
            traffic_log=TrafficLogSettings(
                path=traffic_log, capture_frames=True, capture_chunks=True
            ),
        )
        proxy_port = (port or 8000) if serve else 0
        with BackgroundServer(create_app(settings), port=proxy_port) as proxy:
            if serve:
                return _wait(proxy.url, simulator.url, out)
            status = _sample_request(f"{proxy.url}/v1", out)
    print(
        f"\nThe exchange is in the traffic log {traffic_log}. Look at it with:\n"
        "  dashscope-proxy logs list\n  dashscope-proxy logs show <id>",
        file=out,
    )
    return status


def _wait(proxy_url: str, simulator_url: str, out: TextIO) -> int:
    print(
        f"proxy:     {proxy_url}/v1  (any API key; the simulator stands in for DashScope)", file=out
    )
    print(f"simulator: {simulator_url}", file=out)
    print("Put [sim:NAME] in a user message to pick a scenario. Ctrl-C stops.", file=out)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _sample_request(base_url: str, out: TextIO) -> int:
    try:
        from openai import OpenAI
    except ImportError:
        print("The demo drives the proxy with the OpenAI SDK: pip install 'openai>=1.60'", file=out)
        return 1
    style = _Style(out)
    client = OpenAI(base_url=base_url, api_key="sk-demo-client")
    print(style(f"POST {base_url}/chat/completions  model=qwen3-max-preview", "1"), file=out)
    print(style(f"user: {_QUESTION}", "1"), file=out)
    stream = client.chat.completions.create(
        model="qwen3-max-preview",
        messages=[{"role": "user", "content": _QUESTION}],
        extra_body={"enable_code_interpreter": True, "enable_thinking": True},
        stream=True,
        stream_options={"include_usage": True},
    )
    section = ""
    calls: dict[int, dict[str, str]] = {}
    for chunk in stream:
        if chunk.usage is not None:
            _print_usage(chunk.usage.model_dump(), style, out)
        for choice in chunk.choices:
            delta = choice.delta
            reasoning = getattr(delta, "reasoning_content", None)
            if reasoning:
                section = _enter(section, "thinking", style, out)
                out.write(style(reasoning, "2"))
            for call in delta.tool_calls or ():
                slot = calls.setdefault(call.index, {"name": "", "arguments": ""})
                if call.function and call.function.name:
                    slot["name"] = call.function.name
                if call.function and call.function.arguments:
                    slot["arguments"] += call.function.arguments
                if _complete(slot["arguments"]):
                    section = _enter(section, f"code run {call.index + 1}", style, out)
                    code = json.loads(slot["arguments"])["code"]
                    out.write(style(f"```python\n{code}\n```", "36"))
            if delta.content:
                section = _enter(section, "answer", style, out)
                out.write(delta.content)
            if choice.finish_reason:
                out.write(style(f"\n\n[finish_reason: {choice.finish_reason}]", "2"))
    out.write("\n")
    return 0


def _complete(arguments: str) -> bool:
    try:
        json.loads(arguments)
    except ValueError:
        return False
    return True


def _enter(current: str, name: str, style: _Style, out: TextIO) -> str:
    if current != name:
        out.write(style(f"\n\n== {name} ==\n", "1;33"))
    return name


def _print_usage(usage: dict[str, Any], style: _Style, out: TextIO) -> None:
    details = usage.get("completion_tokens_details") or {}
    runs = (usage.get("x_tools") or {}).get("code_interpreter", {}).get("count")
    out.write(
        style(
            f"\n== usage ==\nprompt {usage['prompt_tokens']}, completion "
            f"{usage['completion_tokens']} (reasoning {details.get('reasoning_tokens')}), "
            f"total {usage['total_tokens']}, interpreter runs {runs}",
            "2",
        )
    )
