"""Scripted generations for the request features beside the code interpreter: function calling,
several choices (`n`), web search, logprobs, structured output and images.

Function-call frames follow the recorded native captures (docs/dashscope-protocol.md,
"Function calls"): `index` identifies a call, `id` and `function.name` come only in its first
piece (later pieces have `id: ""` and no name), arguments are string fragments, and the
terminal `finish_reason: "tool_calls"` frame carries the last fragment. One frame may hold
pieces of two calls.
"""

from dataclasses import replace

from proxy.simulator.scripts import Script
from proxy.simulator.timeline import CallDelta, Step, call, finish, say_text, think_text

WEATHER_TOOL = "get_weather"
WEATHER_CALL_ID = "call_8f2a6c0b1d3e4f5a9b7c6d"
SHANGHAI_CALL_ID = "call_2d4e6f8a0b1c3d5e7f9a1b"
WEATHER_ARGUMENTS = '{"city": "Hangzhou"}'
SHANGHAI_ARGUMENTS = '{"city": "Shanghai"}'
WEATHER_ANSWER = "It is sunny in Hangzhou."
PARALLEL_ANSWER = "It is sunny in Hangzhou and cloudy in Shanghai."


def _reasoning(thinking: bool, text: str) -> tuple[Step, ...]:
    return tuple(think_text(text)) if thinking else ()


def weather_call(thinking: bool) -> Script:
    """One `get_weather` call for Hangzhou, its arguments in three fragments."""
    steps = (
        *_reasoning(thinking, "The user asks about the weather, so I should call get_weather."),
        call(CallDelta(0, '{"city": ', WEATHER_CALL_ID, WEATHER_TOOL), tokens=12),
        call(CallDelta(0, '"Hang'), tokens=2),
        call(CallDelta(0, 'zhou"}'), tokens=3, reason="tool_calls"),
    )
    return Script("1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b", 176, steps)


def weather_answer(thinking: bool) -> Script:
    """The reply once the conversation carries the call's result."""
    steps = (
        *_reasoning(thinking, "The tool says it is sunny; I will tell the user."),
        *say_text(WEATHER_ANSWER),
        finish("stop"),
    )
    return Script("2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d", 214, steps)


def parallel_calls(thinking: bool) -> Script:
    """Two `get_weather` calls; the middle frame carries pieces of both."""
    steps = (
        *_reasoning(thinking, "Two cities: I will call get_weather for each of them."),
        call(CallDelta(0, '{"city": ', WEATHER_CALL_ID, WEATHER_TOOL), tokens=12),
        call(
            CallDelta(0, '"Hangzhou"}'),
            CallDelta(1, '{"city": ', SHANGHAI_CALL_ID, WEATHER_TOOL),
            tokens=16,
        ),
        call(CallDelta(1, '"Shanghai"}'), tokens=4, reason="tool_calls"),
    )
    return Script("3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f", 181, steps)


def first_parallel_call(thinking: bool) -> Script:
    """What the same question gets without `parallel_tool_calls`: the first call only, as the
    Function calling page shows for two cities."""
    steps = (
        *_reasoning(thinking, "Two cities: I will call get_weather for the first one."),
        call(CallDelta(0, '{"city": ', WEATHER_CALL_ID, WEATHER_TOOL), tokens=12),
        call(CallDelta(0, '"Hangzhou"}'), tokens=4, reason="tool_calls"),
    )
    return Script("3c4d5e6f-7a8b-4c9d-8e0f-2a3b4c5d6e7f", 181, steps)


def parallel_answer(thinking: bool) -> Script:
    steps = (
        *_reasoning(thinking, "Both results are in; I will summarise them."),
        *say_text(PARALLEL_ANSWER),
        finish("stop"),
    )
    return Script("4d5e6f7a-8b9c-4d0e-9f1a-3b4c5d6e7f8a", 262, steps)


CHOICE_TEXTS = (
    "First choice: a short answer.",
    "Second choice: a longer answer that keeps going after the first one has finished.",
)


def choices(n: int) -> Script:
    """`n` choices (1 or 2); native streams interleave them, one choice per frame."""
    per_choice = [
        [*(replace(step, choice=i) for step in say_text(text)), Step(finish="stop", choice=i)]
        for i, text in enumerate(CHOICE_TEXTS[: max(1, min(n, 2))])
    ]
    steps: list[Step] = []
    for position in range(max(len(c) for c in per_choice)):
        steps.extend(c[position] for c in per_choice if position < len(c))
    return Script("5e6f7a8b-9c0d-4e1f-8a2b-4c5d6e7f8a9b", 19, tuple(steps))


SEARCH_RESULTS = (
    {
        "index": 1,
        "title": "Hangzhou weather today",
        "url": "https://weather.example.com/hangzhou",
        "site_name": "Example Weather",
        "icon": "https://weather.example.com/favicon.ico",
    },
    {
        "index": 2,
        "title": "Zhejiang forecast",
        "url": "https://news.example.org/zhejiang-forecast",
        "site_name": "Example News",
        "icon": "https://news.example.org/icon.png",
    },
)
SEARCH_ANSWER = "Hangzhou is sunny today{1}, with a high of 21 degrees{2}."
DEFAULT_CITATION_FORMAT = "[<number>]"  # DashScope's, when `enable_citation` names none


def search_text(citation_format: str | None) -> str:
    """The answer, citing the sources in `citation_format` (None: no marks, as DashScope
    answers without `enable_citation`)."""
    marks = [
        "" if citation_format is None else " " + citation_format.replace("<number>", str(n))
        for n in (1, 2)
    ]
    return SEARCH_ANSWER.replace("{1}", marks[0]).replace("{2}", marks[1])


def search_answer(thinking: bool, citation_format: str | None = None) -> Script:
    steps = (
        *_reasoning(thinking, "The search results describe today's weather in Hangzhou."),
        *say_text(search_text(citation_format)),
        finish("stop"),
    )
    return Script("6f7a8b9c-0d1e-4f2a-9b3c-5d6e7f8a9b0c", 1204, steps)


LOGPROBS_ANSWER = "Every token of this answer comes with its log probability."


def logprobs_answer(thinking: bool) -> Script:
    steps = (*say_text(LOGPROBS_ANSWER), finish("stop"))
    return Script("7a8b9c0d-1e2f-4a3b-8c4d-6e7f8a9b0c1d", 21, steps)


JSON_ANSWER = '{"city": "Hangzhou", "temperature": 21}'


def json_answer(thinking: bool) -> Script:
    """A JSON object matching `{"city": str, "temperature": int}`, as structured output gives."""
    steps = (*say_text(JSON_ANSWER, words=1), finish("stop"))
    return Script("8b9c0d1e-2f3a-4b4c-9d5e-7f8a9b0c1d2e", 88, steps)


VISION_ANSWER = "The image shows a cat."


def vision_answer(media: list[tuple[str, str]]) -> Script:
    """Describes a cat and names every image and video it received, so tests see what arrived."""
    received = "; ".join(f"{kind} {url}" for kind, url in media) or "nothing"
    steps = (*say_text(VISION_ANSWER), *say_text(f" Received: {received}."), finish("stop"))
    return Script("9c0d1e2f-3a4b-4c5d-8e6f-8a9b0c1d2e3f", 1250, steps)
