"""`dashscope-proxy demo`: the proxy in front of the built-in DashScope simulator, driven by the
real OpenAI SDK exactly as the vendor's code-interpreter page does. Offline; loopback only."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, TextIO

from proxy.config import Settings, TrafficLogSettings, UpstreamSettings
from proxy.inspect.commands import DEMO_TRAFFIC_LOG
from proxy.server.app import create_app
from proxy.server.serving import BackgroundServer
from proxy.simulator import SCENARIOS, create_simulator_app

_QUESTION = "What is 123 to the power of 21?"


class _Style:
    def __init__(self, stream: TextIO) -> None:
        self._on = stream.isatty()

    def __call__(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self._on else text


def run_demo(
    *,
    serve: bool = False,
    port: int | None = None,
    out: TextIO | None = None,
    traffic_log: str = DEMO_TRAFFIC_LOG,
) -> int:
    """Raises `CannotListen` (proxy.server.serving) when `--serve`'s port is taken."""
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
        proxy_port = (8000 if port is None else port) if serve else 0
        with BackgroundServer(create_app(settings), port=proxy_port) as proxy:
            if serve:
                return _wait(proxy.url, simulator.url, traffic_log, out)
            status = _sample_request(f"{proxy.url}/v1", out)
    me = command_name()
    print(
        f"\nThe exchange is in the traffic log {traffic_log}. Look at it with:\n"
        f"  {me} logs list\n  {me} logs show <id>",
        file=out,
    )
    return status


def command_name(
    argv0: str | None = None, executable: str | None = None, cwd: Path | None = None
) -> str:
    """How to run `dashscope-proxy` again from here, as it was run this time: the README runs
    `.venv/bin/dashscope-proxy` without activating the venv, where a bare name is not found."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    cwd = Path.cwd() if cwd is None else cwd
    # The console script, or the one beside the interpreter (`python -m proxy demo`).
    script = Path(argv0) if Path(argv0).name == "dashscope-proxy" else None
    script = Path(os.path.normpath(cwd / (script or Path(executable).parent / "dashscope-proxy")))
    if not script.is_file():
        return "dashscope-proxy"
    on_path = shutil.which("dashscope-proxy")
    if on_path is not None and os.path.samefile(on_path, script):
        return "dashscope-proxy"
    if not script.is_relative_to(cwd):
        return shlex.quote(str(script))
    relative = str(script.relative_to(cwd))
    return shlex.quote(relative if os.sep in relative else f".{os.sep}{relative}")


def _wait(proxy_url: str, simulator_url: str, traffic_log: str, out: TextIO) -> int:
    # SIGTERM stops it as Ctrl-C does: the servers shut down and the traffic log is flushed.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        _announce(proxy_url, simulator_url, traffic_log, out)
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        return 0


def _announce(proxy_url: str, simulator_url: str, traffic_log: str, out: TextIO) -> None:
    print(
        f"proxy:     {proxy_url}/v1  (any API key; the simulator stands in for DashScope)", file=out
    )
    print(f"simulator: {simulator_url}", file=out)
    print(
        "Without a marker the simulator answers as a model would: a code run with\n"
        "enable_code_interpreter, a get_weather call when given tools, plain text otherwise.\n"
        "Put [sim:NAME] in a user message to pick a scenario instead:",
        file=out,
    )
    names = ", ".join(SCENARIOS)
    print(textwrap.fill(names, width=96, initial_indent="  ", subsequent_indent="  "), file=out)
    print(f"Exchanges go to {traffic_log}: {command_name()} logs list. Ctrl-C stops.", file=out)


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
