"""DashScope native SSE frames -> protocol-neutral events (sans-I/O).

Facts this relies on (docs/dashscope-protocol.md): `finish_reason` is the string
"null" until the last frame of a choice; `usage` is a cumulative running total on every frame
(per choice when there are several: `proxy/core/native_usage.py` adds them up);
`output.tool_info` is a cumulative snapshot of every interpreter run so far, repeated on every
later frame, whose entries may appear with empty code and be filled in later; errors arrive as
`event:error` (with the logical status in a `:HTTP_STATUS/NNN` comment) even on an HTTP 200.
"""

from __future__ import annotations

from typing import cast

import orjson

from proxy.core.errors import UpstreamError, UpstreamUnavailable
from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    Finish,
    FunctionCallDelta,
    ReasoningDelta,
    SearchResults,
    Usage,
)
from proxy.core.native_frame import (
    FrameChoice,
    FrameMessage,
    FrameToolCall,
    NativeFrame,
    ToolInfo,
)
from proxy.core.native_usage import UsageTotals
from proxy.core.sse import SSEEvent

# When an error frame carries no status of its own, DashScope's code tells which HTTP class it is.
_STATUS_BY_CODE_PREFIX = (
    ("InvalidApiKey", 401),
    ("AccessDenied", 403),
    ("Workspace.AccessDenied", 403),
    ("Model.AccessDenied", 403),
    ("ModelNotFound", 404),
    ("WorkSpaceNotFound", 404),
    ("RequestTimeOut", 408),
    ("Throttling", 429),
    ("LimitRequests", 429),
    ("InternalError", 500),
    ("SystemError", 500),
    ("ModelServiceFailed", 500),
    ("InvokePluginFailed", 500),
    ("ModelUnavailable", 503),
)


def status_for_code(code: str | None) -> int:
    for prefix, status in _STATUS_BY_CODE_PREFIX:
        if code and code.startswith(prefix):
            return status
    return 400


def native_error(body: bytes | str, status: int | None) -> UpstreamError:
    """Build the client-facing error from a native error body `{"code","message","request_id"}`.

    `status` is the most specific status known (the event's `:HTTP_STATUS`, else the HTTP one);
    a 2xx or missing status is replaced by the one DashScope's code implies.
    """
    try:
        payload = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError:
        payload = {}
    if not isinstance(payload, dict):
        payload = {}
    code = payload.get("code") if isinstance(payload.get("code"), str) else None
    message = payload.get("message")
    if not isinstance(message, str) or not message:
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        message = text.strip()[:500] or "upstream error"
    if status is None or status < 400:
        status = status_for_code(code)
    request_id = payload.get("request_id")
    return UpstreamError(
        message,
        status=status,
        code=code or "upstream_error",
        request_id=request_id if isinstance(request_id, str) else None,
    )


class _Run:
    """One code-interpreter run, as far as it has been shown to the client."""

    __slots__ = ("done", "latest", "shown")

    def __init__(self) -> None:
        self.shown = ""  # code already emitted as deltas
        self.latest = ""  # newest snapshot
        self.done = False


class _CallArguments:
    """Arguments of one function call so far. DashScope streams them as fragments when the
    output is incremental, but has sent cumulative arguments (each frame the whole text so
    far); the second non-empty fragment tells which, and cumulative ones are diffed."""

    __slots__ = ("cumulative", "text")

    def __init__(self, first: str) -> None:
        self.text = first
        self.cumulative: bool | None = None

    def fragment(self, arguments: str) -> str:
        if not arguments:
            return ""
        if self.cumulative is None and self.text:
            self.cumulative = arguments.startswith(self.text)
        if self.cumulative and arguments.startswith(self.text):
            new, self.text = arguments[len(self.text) :], arguments
            return new
        self.text += arguments
        return arguments


class NativeStreamTranslator:
    """Feed decoded native SSE events; get events. `finish()` once the upstream stream ends."""

    def __init__(self) -> None:
        # Keyed by position in tool_info: entries that are not code runs leave gaps.
        self._runs: dict[int, _Run] = {}
        self._usage = UsageTotals()
        self._usage_choice = 0  # the choice of the last frame that carried one
        self._open_choices: set[int] = set()
        self._finished: set[int] = set()
        self._calls: dict[tuple[int, int], _CallArguments] = {}
        self._searched = False
        self._unsettled = 0  # runs not yet done
        self.request_id: str | None = None

    @property
    def last_usage(self) -> Usage | None:
        """The request's usage as DashScope last reported it (running totals, each choice's
        added up), even if the stream broke off: tokens spent on a failed answer are spent."""
        return self._usage.total

    @property
    def truncated(self) -> bool:
        """True when the stream ended before every started choice had its finish_reason."""
        return not self._finished or bool(self._open_choices - self._finished)

    def feed(self, event: SSEEvent) -> list[Event]:
        payload = self._payload(event)
        if payload is None:
            return []
        out: list[Event] = []
        output = payload.get("output")
        if not isinstance(output, dict):
            output = None
        choices = output.get("choices") if output is not None else None
        usage = payload.get("usage")
        if isinstance(usage, dict) and usage:  # a search answer's first frame sends `{}`
            self._usage.add(self._frame_choice(choices), usage)
        if output is None:
            return out
        if "search_info" in output:
            self._search_info(output["search_info"], out)
        tool_info = output.get("tool_info")
        if isinstance(tool_info, list) and tool_info:
            self._diff_runs(tool_info, out)
        if isinstance(choices, list):
            for position, choice in enumerate(choices):
                if isinstance(choice, dict):
                    self._choice(choice, position, out)
        elif "text" in output:  # result_format "text": only if an upstream ignores our request
            text: FrameMessage = {"content": output["text"]}
            self._choice(
                {"message": text, "finish_reason": output.get("finish_reason", "null")}, 0, out
            )
        return out

    def finish(self) -> list[Event]:
        out: list[Event] = []
        self._settle_runs(out, include_empty=True)
        usage = self._usage.total
        if usage is not None:
            out.append(usage)
        return out

    def _frame_choice(self, choices: object) -> int:
        """The choice a frame's usage counts: its first choice's index (a frame carries one),
        else the last one seen (frames with no choices belong to the answer in progress)."""
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            index = choices[0].get("index", 0)
            self._usage_choice = index if isinstance(index, int) else 0
        return self._usage_choice

    def _payload(self, event: SSEEvent) -> NativeFrame | None:
        status = event.status
        if event.event == "error" or (status is not None and status >= 400):
            raise native_error(event.data, status)
        if not event.data:
            return None
        try:
            payload = orjson.loads(event.data)
        except orjson.JSONDecodeError:
            raise UpstreamUnavailable(
                "DashScope sent a frame that is not JSON", code="upstream_protocol_error"
            ) from None
        if not isinstance(payload, dict):
            raise UpstreamUnavailable(
                "DashScope sent a frame that is not a JSON object", code="upstream_protocol_error"
            )
        if payload.get("code") and "output" not in payload:
            raise native_error(event.data, status)
        if self.request_id is None:
            request_id = payload.get("request_id")
            if isinstance(request_id, str):
                self.request_id = request_id
        return cast(NativeFrame, payload)

    def _choice(self, choice: FrameChoice, position: int, out: list[Event]) -> None:
        index = choice.get("index", position)
        if not isinstance(index, int):
            index = position
        message = choice.get("message")
        if isinstance(message, dict):
            logprobs = choice.get("logprobs")
            content = logprobs.get("content") if isinstance(logprobs, dict) else None
            self._message(index, message, content if isinstance(content, list) else None, out)
        reason = choice.get("finish_reason")
        # "null" (a string) means still generating; an empty string is not a finish either.
        if isinstance(reason, str) and reason not in ("null", "") and index not in self._finished:
            if index == 0:
                self._settle_runs(out, include_empty=True)
            self._finished.add(index)
            self._open_choices.add(index)
            out.append(Finish(index, reason))

    def _message(
        self,
        index: int,
        message: FrameMessage,
        logprobs: list[object] | None,
        out: list[Event],
    ) -> None:
        self._open_choices.add(index)
        reasoning = message.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            if index == 0:
                self._settle_runs(out)
            out.append(ReasoningDelta(index, reasoning))
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list):
            for call in tool_calls:
                if isinstance(call, dict):
                    self._function_call(index, call, out)
        content = message.get("content")
        if not isinstance(content, str):
            content = _text(content)
        if content or logprobs:
            if index == 0:
                self._settle_runs(out)
            out.append(ContentDelta(index, content, logprobs))

    def _function_call(self, choice: int, call: FrameToolCall, out: list[Event]) -> None:
        delta = _function_call(choice, call)
        state = self._calls.get((choice, delta.key))
        if state is None:
            self._calls[(choice, delta.key)] = _CallArguments(delta.arguments)
        else:
            arguments = state.fragment(delta.arguments)
            if not arguments:  # a repeat (cumulative upstreams resend id and name too)
                return
            delta = FunctionCallDelta(choice, delta.key, delta.call_id, delta.name, arguments)
        out.append(delta)

    def _search_info(self, info: object, out: list[Event]) -> None:
        results = info.get("search_results") if isinstance(info, dict) else None
        # Sent in full once; later frames repeat it empty (unlike tool_info, it is no snapshot).
        if isinstance(results, list) and results and not self._searched:
            self._searched = True
            out.append(SearchResults(0, results))

    def _diff_runs(self, tool_info: list[ToolInfo], out: list[Event]) -> None:
        self._open_choices.add(0)
        for position, entry in enumerate(tool_info):
            code = _run_code(entry)
            if code is None:
                continue
            run = self._runs.get(position)
            if run is None:
                run = self._runs[position] = _Run()
                self._unsettled += 1
            if run.done or code == run.latest:
                continue
            # A new run with code settles the earlier ones: the interpreter runs them in order.
            if code and not run.shown:
                self._settle_runs(out, before=position)
            run.latest = code
            if code.startswith(run.shown) and len(code) > len(run.shown):
                out.append(CodeDelta(0, position, code[len(run.shown) :]))
                run.shown = code

    def _settle_runs(
        self, out: list[Event], *, before: int | None = None, include_empty: bool = False
    ) -> None:
        if not self._unsettled:  # answer text comes in every frame after a run: keep it cheap
            return
        for position, run in sorted(self._runs.items()):
            if before is not None and position >= before:
                break
            if run.done or not (run.shown or include_empty):
                continue
            run.done = True
            self._unsettled -= 1
            out.append(CodeDone(0, position, run.latest))


def _run_code(entry: object) -> str | None:
    """The code of a code-interpreter entry; None for anything else `tool_info` may hold."""
    if not isinstance(entry, dict) or entry.get("type", "code_interpreter") != "code_interpreter":
        return None
    body = entry.get("code_interpreter")
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    return code if isinstance(code, str) else ""


def _text(content: object) -> str:
    """Text of a multimodal message's content, `[{"text": ...}]` (the text endpoint's is a
    string, read as it is)."""
    if isinstance(content, list):
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _function_call(choice: int, call: FrameToolCall) -> FunctionCallDelta:
    function = call.get("function")
    function = function if isinstance(function, dict) else {}
    call_id = call.get("id")
    name = function.get("name")
    arguments = function.get("arguments")
    index = call.get("index")
    return FunctionCallDelta(
        choice,
        index if isinstance(index, int) else 0,
        call_id if isinstance(call_id, str) and call_id else None,
        name if isinstance(name, str) and name else None,
        arguments if isinstance(arguments, str) else "",
    )
