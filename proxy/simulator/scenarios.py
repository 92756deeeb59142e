"""What the simulated DashScope answers, as data: status line, content type, frames or body.

Pure: the app in `proxy.simulator.app` only picks a scenario and writes it to the wire. What
DashScope refuses before it generates is in `proxy.simulator.refusals`; the model table says
whether a request thinks when it does not say so.
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

import orjson

from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelTable
from proxy.simulator import feature_scripts, scripts
from proxy.simulator.refusals import Refusal, thinks
from proxy.simulator.request_view import (
    flag,
    has_tool_result,
    last_user_text,
    media,
    parameters,
)
from proxy.simulator.scripts import Script
from proxy.simulator.timeline import PlayOptions, Step, play

SSE_CONTENT_TYPE = "text/event-stream;charset=UTF-8"
JSON_CONTENT_TYPE = "application/json"


@dataclass(frozen=True, slots=True)
class SimFrame:
    event: str  # "result" | "error"
    status: int  # the per-event `:HTTP_STATUS/NNN`, independent of the status line
    data: dict[str, Any]
    pause: float = 0.0  # seconds of silence before this frame (the interpreter running code)


@dataclass(frozen=True, slots=True, kw_only=True)
class Scenario:
    http_status: int
    content_type: str
    request_id: str  # also sent as the `x-request-id` header
    frames: tuple[SimFrame, ...] = ()  # an SSE body when non-empty
    body: dict[str, Any] | None = None  # a JSON body otherwise


Builder = Callable[[Mapping[str, Any]], Scenario]


def render_frame(n: int, frame: SimFrame) -> bytes:
    """One native SSE event: no space after the colons, one-line JSON, UTF-8 left unescaped."""
    head = f"id:{n}\nevent:{frame.event}\n:HTTP_STATUS/{frame.status}\ndata:".encode()
    return head + orjson.dumps(frame.data) + b"\n\n"


# ---- request inspection ---------------------------------------------------------------------

_MARKER = re.compile(r"\[sim:([^\]\s]+)\]")
# A code run's silence when the request does not say (`[sim:long_run:SECONDS]` does): tens of
# seconds are common, and the gateway ends a stream after about 300.
LONG_RUN_GAP = 30.0


def select_scenario(request_body: Mapping[str, Any]) -> str:
    """`[sim:NAME]` (or `[sim:NAME:SECONDS]`, the silence after each code run) in the last user
    message wins; else what a real model would do."""
    match = _MARKER.search(last_user_text(request_body))
    if match:
        return match.group(1)
    if flag(request_body, "enable_code_interpreter"):
        return "seed_single_run"
    if parameters(request_body).get("tools"):
        # A model given functions calls one (get_weather), then answers from its result.
        return "function_call"
    if flag(request_body, "enable_search"):
        return "search"
    return "plain_text"


# ---- building blocks ------------------------------------------------------------------------


def json_error(status: int, code: str, message: str, request_id: str) -> Scenario:
    body = {"code": code, "message": message, "request_id": request_id}
    return Scenario(
        http_status=status, content_type=JSON_CONTENT_TYPE, request_id=request_id, body=body
    )


def _error_frame(status: int, code: str, message: str, request_id: str) -> SimFrame:
    return SimFrame("error", status, {"code": code, "message": message, "request_id": request_id})


def refused(refusal: Refusal) -> Scenario:
    """A request DashScope validates and refuses on a streaming call: HTTP 200, then a single
    `event:error` frame with the real status in `:HTTP_STATUS` (the recorded exchanges)."""
    frame = _error_frame(400, refusal.code, refusal.message, refusal.request_id)
    return _sse(refusal.request_id, (frame,))


def _top_logprobs(body: Mapping[str, Any]) -> int | None:
    """Alternatives per token when `logprobs` was asked for (any scenario honours it)."""
    if not flag(body, "logprobs"):
        return None
    top = parameters(body).get("top_logprobs")
    return top if isinstance(top, int) and not isinstance(top, bool) and 0 < top <= 5 else 0


def _results(
    script: Script, body: Mapping[str, Any], *, thinking: bool, **options: Any
) -> tuple[SimFrame, ...]:
    opts = PlayOptions(
        request_id=script.request_id,
        input_tokens=script.input_tokens,
        thinking=thinking,
        incremental=flag(body, "incremental_output"),
        top_logprobs=_top_logprobs(body),
        **options,
    )
    return tuple(SimFrame("result", 200, data) for data in play(script.steps, opts))


def _sse(request_id: str, frames: tuple[SimFrame, ...], http_status: int = 200) -> Scenario:
    return Scenario(
        http_status=http_status,
        content_type=SSE_CONTENT_TYPE,
        request_id=request_id,
        frames=frames,
    )


def _code_run(script: Callable[[], Script]) -> Builder:
    # The interpreter only works in thinking mode, so these always reason.
    def build(body: Mapping[str, Any]) -> Scenario:
        played = script()
        return _sse(played.request_id, _results(played, body, thinking=True))

    return build


def _answer(script: Callable[[bool], Script], **options: Any) -> Builder:
    def build(body: Mapping[str, Any]) -> Scenario:
        thinking = flag(body, "enable_thinking")
        played = script(thinking)
        return _sse(played.request_id, _results(played, body, thinking=thinking, **options))

    return build


def _function_calls(
    calls: Callable[[bool], Script], answer: Callable[[bool], Script], **options: Any
) -> Builder:
    """Calls a function; once the conversation carries a `tool` result, answers in text."""

    def build(body: Mapping[str, Any]) -> Scenario:
        thinking = flag(body, "enable_thinking")
        played = answer(thinking) if has_tool_result(body) else calls(thinking)
        return _sse(played.request_id, _results(played, body, thinking=thinking, **options))

    return build


def _parallel(body: Mapping[str, Any]) -> Scenario:
    """Both calls only when the request allows parallel calls; DashScope's default is one."""
    parallel = parameters(body).get("parallel_tool_calls") is True
    calls = feature_scripts.parallel_calls if parallel else feature_scripts.first_parallel_call
    return _function_calls(calls, feature_scripts.parallel_answer, indexed=True)(body)


def _n_choices(body: Mapping[str, Any]) -> Scenario:
    played = feature_scripts.choices(2 if parameters(body).get("n") == 2 else 1)
    thinking = flag(body, "enable_thinking")
    frames = _results(played, body, thinking=thinking, indexed=True, per_choice_usage=True)
    return _sse(played.request_id, frames)


def _search(body: Mapping[str, Any]) -> Scenario:
    """Sources (`search_info`) only with `search_options.enable_source`, and citation marks
    only with `enable_citation` (in its `citation_format`), as DashScope does."""
    searched = flag(body, "enable_search")
    options = parameters(body).get("search_options")
    options = options if searched and isinstance(options, dict) else {}
    sources = options.get("enable_source")
    citation_format = None
    if options.get("enable_citation") is True:
        named = options.get("citation_format")
        default = feature_scripts.DEFAULT_CITATION_FORMAT
        citation_format = named if isinstance(named, str) else default
    thinking = flag(body, "enable_thinking")
    played = feature_scripts.search_answer(thinking, citation_format)
    if searched:  # the sources come first, on a frame of their own
        played = replace(played, steps=(Step(), *played.steps))
    frames = _results(
        played,
        body,
        thinking=thinking,
        search_results=feature_scripts.SEARCH_RESULTS if sources is True else None,
        search_count=1 if searched else None,
    )
    return _sse(played.request_id, frames)


def _vision(body: Mapping[str, Any]) -> Scenario:
    played = feature_scripts.vision_answer(media(body))
    return _sse(played.request_id, _results(played, body, thinking=flag(body, "enable_thinking")))


def _json(status: int, code: str, message: str, request_id: str) -> Builder:
    def build(body: Mapping[str, Any]) -> Scenario:
        return json_error(status, code, message, request_id)

    return build


# ---- streams that fail ----------------------------------------------------------------------


def _error_event_first(body: Mapping[str, Any]) -> Scenario:
    # Verbatim recorded exchange: a validation error on an HTTP 200 event stream.
    request_id = "7671ecd8-93cc-9ee9-bc89-739f0fd8b809"
    message = "Role must be user or assistant and Content length must be greater than 0"
    return _sse(request_id, (_error_frame(400, "InvalidParameter", message, request_id),))


def _error_sse_non2xx(body: Mapping[str, Any]) -> Scenario:
    # Gateway errors come with a non-2xx status line and still an event-stream body.
    request_id = "566e3621-7b1c-4f0a-9d2e-3c4b5a6f7e8d"
    data = {
        "request_id": request_id,
        "code": "Throttling.AllocationQuota",
        "message": "Allocated quota exceeded, please increase your quota limit.",
    }
    return _sse(request_id, (SimFrame("error", 429, data),), http_status=429)


def _error_event_midstream(body: Mapping[str, Any]) -> Scenario:
    thinking = flag(body, "enable_thinking")
    played = scripts.before_moderation(thinking)
    message = "Output data may contain inappropriate content."
    error = _error_frame(400, "DataInspectionFailed", message, played.request_id)
    return _sse(played.request_id, (*_results(played, body, thinking=thinking), error))


INPUT_INSPECTION_MESSAGE = "Input data may contain inappropriate content."

SCENARIOS: Mapping[str, Builder] = {
    "seed_single_run": _code_run(scripts.seed_single_run),
    "seed_two_runs": _code_run(scripts.seed_two_runs),
    "long_run": _code_run(scripts.seed_single_run),
    "code_growing": _code_run(scripts.code_growing),
    "interleaved": _code_run(scripts.interleaved),
    "plain_text": _answer(scripts.plain_text),
    "length": _answer(scripts.length),
    "truncated": _answer(scripts.truncated),
    "error_401": _json(
        401, "InvalidApiKey", "Invalid API-key provided.", "a1c0561c-1dfe-98a6-a62f-983577b8bc5e"
    ),
    "error_429": _json(
        429,
        "Throttling.RateQuota",
        "Requests rate limit exceeded, please try again later.",
        "4d5e6f7a-8b9c-4d0e-a1f2-b3c4d5e6f7a8",
    ),
    "error_400": _json(
        400,
        "InvalidParameter",
        "Range of input length should be [1, 129024]",
        "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
    ),
    "error_500": _json(
        500,
        "InternalError",
        "An internal error has occured, please try again later or contact service support.",
        "c3d4e5f6-a7b8-4c9d-8e0f-2a3b4c5d6e7f",
    ),
    "error_503": _json(
        503,
        "ModelUnavailable",
        "Model is unavailable, please try again later.",
        "d4e5f6a7-b8c9-4d0e-9f1a-3b4c5d6e7f8a",
    ),
    "error_event_first": _error_event_first,
    "error_sse_non2xx": _error_sse_non2xx,
    "error_event_midstream": _error_event_midstream,
    "input_inspection": _json(
        400,
        "DataInspectionFailed",
        INPUT_INSPECTION_MESSAGE,
        "f7a8b9c0-d1e2-4f3a-9b4c-6d7e8f9a0b1c",
    ),
    "function_call": _function_calls(
        feature_scripts.weather_call, feature_scripts.weather_answer, indexed=True
    ),
    "function_call_cumulative": _function_calls(
        feature_scripts.weather_call, feature_scripts.weather_answer, cumulative_calls=True
    ),
    "parallel_calls": _parallel,
    "n2": _n_choices,
    "search": _search,
    "logprobs": _answer(feature_scripts.logprobs_answer),
    "json_answer": _answer(feature_scripts.json_answer),
    "vision": _vision,
}

UNKNOWN_SCENARIO_REQUEST_ID = "e5f6a7b8-c9d0-4e1f-8a2b-4c5d6e7f8a9b"


def unknown_scenario(name: str) -> Scenario:
    valid = ", ".join(sorted(SCENARIOS))
    message = f"Unknown simulator scenario '{name}'. Valid scenarios: {valid}"
    return json_error(400, "InvalidParameter", message, UNKNOWN_SCENARIO_REQUEST_ID)


def _multimodal_frame(frame: SimFrame) -> SimFrame:
    # The multimodal endpoint sends content as a list of parts, `[]` when there is no text.
    if frame.event != "result":
        return frame
    output = frame.data["output"]
    choices = []
    for choice in output["choices"]:
        text = choice["message"]["content"]
        message = {**choice["message"], "content": [{"text": text}] if text else []}
        choices.append({**choice, "message": message})
    return SimFrame(
        frame.event, frame.status, {**frame.data, "output": {**output, "choices": choices}}
    )


def _after_runs(frames: tuple[SimFrame, ...], gap: float) -> tuple[SimFrame, ...]:
    """`gap` seconds of silence before each inference that follows a code run: the frame whose
    cumulative input count jumps, because the code's output joined the prompt."""
    paused, inputs = [], None
    for frame in frames:
        tokens = frame.data.get("usage", {}).get("input_tokens")
        jumped = inputs is not None and tokens is not None and tokens > inputs
        paused.append(replace(frame, pause=gap) if jumped else frame)
        inputs = tokens if tokens is not None else inputs
    return tuple(paused)


def _gap(name: str, argument: str) -> float | None:
    """The silence after each run `[sim:NAME:SECONDS]` asks for; None if it is not a number."""
    if not argument:
        return LONG_RUN_GAP if name == "long_run" else 0.0
    try:
        gap = float(argument)
    except ValueError:
        return None
    return gap if gap >= 0 else None


def _with_thinking(body: Mapping[str, Any], table: ModelTable) -> dict[str, Any]:
    """The body with `enable_thinking` made explicit: what the model's family does when the
    request does not say (the Qwen3.5 families think by default)."""
    params = {**parameters(body), "enable_thinking": thinks(body, table)}
    return {**body, "parameters": params}


def build_scenario(
    name: str,
    request_body: Mapping[str, Any],
    *,
    multimodal: bool = False,
    table: ModelTable = MODEL_TABLE,
) -> Scenario:
    """The scenario `name` (`NAME` or `NAME:SECONDS`) for this request; an `InvalidParameter`
    error if there is none."""
    base, _, argument = name.partition(":")
    builder = SCENARIOS.get(base)
    gap = _gap(base, argument)
    if builder is None or gap is None:
        return unknown_scenario(name)
    scenario = builder(_with_thinking(request_body, table))
    if gap:
        scenario = replace(scenario, frames=_after_runs(scenario.frames, gap))
    if multimodal:
        scenario = replace(scenario, frames=tuple(map(_multimodal_frame, scenario.frames)))
    return scenario
