"""Native `usage` objects -> the neutral `Usage` of the whole request (sans-I/O).

Facts this relies on (docs/dashscope-protocol.md, "Usage"): every frame's `usage` is a running
total. With `n > 1` each frame carries one choice, and its `usage` is that choice's running
total: the prompt counts are the same in every choice's frames, and the request's output is
the sum of each choice's last `output_tokens` (what the DashScope Python SDK computes when it
merges an `n > 1` stream). With one choice that sum is simply the last frame's count.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from proxy.core.events import Usage
from proxy.core.native_frame import FrameUsage

# Token counts beyond this are nonsense, and their sum would not even serialise to JSON.
_MAX_COUNT = 2**53 - 1


def read_usage(usage: FrameUsage) -> Usage:
    """One frame's `usage`, every count checked (a count that is not one is unknown)."""
    output = _object(usage.get("output_tokens_details"))
    prompt = _object(usage.get("prompt_tokens_details"))
    media = _object(usage.get("input_tokens_details"))
    plugins = _object(usage.get("plugins"))
    return Usage(
        prompt_tokens=_count(usage.get("input_tokens")) or 0,
        completion_tokens=_count(usage.get("output_tokens")) or 0,
        reasoning_tokens=_count(output.get("reasoning_tokens")),
        cached_tokens=_first(prompt.get("cached_tokens"), usage.get("cached_tokens")),
        code_interpreter_runs=_count(_object(plugins.get("code_interpreter")).get("count")),
        cache_write_tokens=_first(
            prompt.get("cache_creation_input_tokens"), usage.get("cache_creation_input_tokens")
        ),
        web_searches=_count(_object(plugins.get("search")).get("count")),
        prompt_text_tokens=_count(media.get("text_tokens")),
        prompt_image_tokens=_first(media.get("image_tokens"), usage.get("image_tokens")),
        prompt_audio_tokens=_first(media.get("audio_tokens"), usage.get("audio_tokens")),
        prompt_video_tokens=_first(media.get("video_tokens"), usage.get("video_tokens")),
    )


class UsageTotals:
    """The request's usage from the frames seen so far: the prompt side and the tools as the
    latest frame reports them, the output summed over the choices (each at its latest).

    Every frame carries a running total, but only the latest of each choice counts, so a
    frame's `usage` is kept as it came and read only when the total is asked for (at the end):
    reading every frame's was a tenth of a stream's translation."""

    __slots__ = ("_by_choice", "_latest")

    def __init__(self) -> None:
        self._latest: FrameUsage | None = None
        self._by_choice: dict[int, FrameUsage] = {}

    def add(self, choice: int, usage: FrameUsage) -> None:
        """`usage` as the frame carrying `choice` reports it."""
        self._latest = self._by_choice[choice] = usage

    @property
    def total(self) -> Usage | None:
        """None until a frame has reported usage."""
        if self._latest is None:
            return None
        latest = read_usage(self._latest)
        if len(self._by_choice) == 1:
            return latest
        choices = [read_usage(usage) for usage in self._by_choice.values()]
        reasoning = [u.reasoning_tokens for u in choices if u.reasoning_tokens is not None]
        return replace(
            latest,
            completion_tokens=min(_MAX_COUNT, sum(u.completion_tokens for u in choices)),
            reasoning_tokens=min(_MAX_COUNT, sum(reasoning)) if reasoning else None,
        )


def _object(value: object) -> Mapping[str, object]:
    return value if isinstance(value, dict) else {}


def _count(value: object) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_COUNT:
        return value
    return None


def _first(*values: object) -> int | None:
    """The first value that is a count (DashScope puts some counts in two places)."""
    for value in values:
        count = _count(value)
        if count is not None:
            return count
    return None
