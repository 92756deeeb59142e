"""What an exchange's answer was, summarised once from the protocol-neutral events (sans-I/O).

The translation base feeds every event it encodes to a `SummaryBuilder` as well, so the
traffic record, metrics and the application log all read one typed `ExchangeSummary`,
whichever client API served the exchange: nothing re-parses the encoded output. Being
protocol-neutral, it holds the model's own output: reasoning, answer, the function calls the
client executes, the code of each interpreter run (however the client saw it), finish reasons
as DashScope gave them, usage and search sources.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from proxy.core.events import (
    CodeDelta,
    CodeDone,
    ContentDelta,
    Event,
    FunctionCallDelta,
    ReasoningDelta,
    SearchResults,
    Usage,
)


@dataclass(frozen=True, slots=True)
class FunctionCall:
    """A function call the model asked the client to execute."""

    call_id: str | None  # as DashScope gave it (a client may have seen one the proxy made up)
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChoiceSummary:
    index: int
    reasoning: str
    answer: str
    function_calls: tuple[FunctionCall, ...]
    search_results: tuple[object, ...] | None  # web-search sources, when there were any
    finish_reason: str | None  # None: the answer did not finish (an error, a client gone)


@dataclass(frozen=True, slots=True)
class ExchangeSummary:
    choices: tuple[ChoiceSummary, ...]  # by index
    code_runs: tuple[str, ...]  # the final code of each interpreter run, in run order
    usage: Usage | None  # the request's tokens as last reported (every choice); None: none
    # Per run, by the builder's clock (none: empty): when its code last grew, i.e. went to the
    # interpreter, and when it settled, the model going on after the run (None: it never did).
    run_times: tuple[tuple[float, float | None], ...] = ()


EMPTY_SUMMARY = ExchangeSummary((), (), None)


class _Call:
    __slots__ = ("arguments", "call_id", "name")

    def __init__(self) -> None:
        self.call_id: str | None = None
        self.name = ""
        self.arguments: list[str] = []

    def add(self, event: FunctionCallDelta) -> None:
        # Id and name come with a call's first delta; a later one only fills what is missing.
        self.call_id = self.call_id or event.call_id
        self.name = self.name or event.name or ""
        self.arguments.append(event.arguments)

    def summary(self) -> FunctionCall:
        return FunctionCall(self.call_id, self.name, "".join(self.arguments))


class _Choice:
    __slots__ = ("answer", "calls", "finish_reason", "reasoning", "search_results")

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.answer: list[str] = []
        self.calls: dict[int, _Call] = {}  # by the upstream's call key
        self.search_results: tuple[object, ...] | None = None
        self.finish_reason: str | None = None

    def summary(self, index: int) -> ChoiceSummary:
        return ChoiceSummary(
            index,
            "".join(self.reasoning),
            "".join(self.answer),
            tuple(call.summary() for _, call in sorted(self.calls.items())),
            self.search_results,
            self.finish_reason,
        )


class SummaryBuilder:
    """Feed the events of one exchange in order; `summary()` at any point says what they were."""

    __slots__ = ("_choices", "_clock", "_runs", "_times", "_usage", "_usage_only")

    def __init__(
        self, *, usage_only: bool = False, clock: Callable[[], float] | None = None
    ) -> None:
        self._choices: dict[int, _Choice] = {}
        self._runs: dict[int, str] = {}  # run -> its code so far (final once done)
        self._usage: Usage | None = None
        # Without a traffic log only the usage is read (metrics, app log): an open stream
        # then keeps none of its text.
        self._usage_only = usage_only
        # Telemetry's clock for the runs' spans; without one no run is timed.
        self._clock = clock
        self._times: dict[int, tuple[float, float | None]] = {}

    def add(self, event: Event) -> None:
        if isinstance(event, Usage):
            self._usage = event
            return
        if self._usage_only:
            return
        choice = self._choices.get(event.choice)
        if choice is None:
            choice = self._choices[event.choice] = _Choice()
        if isinstance(event, ReasoningDelta):
            choice.reasoning.append(event.text)
        elif isinstance(event, ContentDelta):
            choice.answer.append(event.text)
        elif isinstance(event, CodeDelta):
            self._runs[event.run] = self._runs.get(event.run, "") + event.text
            if self._clock is not None:
                self._times[event.run] = (self._clock(), None)
        elif isinstance(event, CodeDone):
            self._runs[event.run] = event.code
            if self._clock is not None:
                self._settled(event.run, self._clock())
        elif isinstance(event, FunctionCallDelta):
            call = choice.calls.get(event.key)
            if call is None:
                call = choice.calls[event.key] = _Call()
            call.add(event)
        elif isinstance(event, SearchResults):
            choice.search_results = tuple(event.results)
        elif choice.finish_reason is None:  # a Finish: the first one counts
            choice.finish_reason = event.reason

    def _settled(self, run: int, moment: float) -> None:
        start, _ = self._times.get(run, (moment, None))  # a run may settle without growing
        self._times[run] = (start, moment)

    def summary(self, usage: Usage | None = None) -> ExchangeSummary:
        """The summary so far; `usage` stands in when no usage event came (a stream cut short
        still spent the tokens DashScope last reported)."""
        return ExchangeSummary(
            tuple(choice.summary(index) for index, choice in sorted(self._choices.items())),
            tuple(code for _, code in sorted(self._runs.items())),
            self._usage or usage,
            tuple(times for _, times in sorted(self._times.items())),
        )
