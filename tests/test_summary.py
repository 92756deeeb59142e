"""The exchange summary, made from the protocol-neutral events: what the traffic record, metrics
and the app log read, for either client API."""

from __future__ import annotations

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
from proxy.core.summary import (
    EMPTY_SUMMARY,
    ChoiceSummary,
    ExchangeSummary,
    FunctionCall,
    SummaryBuilder,
)

USAGE = Usage(10, 20, 5, None, 2)


def summarise(*events: Event, usage: Usage | None = None) -> ExchangeSummary:
    builder = SummaryBuilder()
    for event in events:
        builder.add(event)
    return builder.summary(usage)


def test_nothing_fed_is_the_empty_summary() -> None:
    assert summarise() == EMPTY_SUMMARY == ExchangeSummary((), (), None)


def test_text_calls_sources_and_the_finish_of_one_choice() -> None:
    summary = summarise(
        ReasoningDelta(0, "Let me "),
        SearchResults(0, [{"url": "https://a.example"}]),
        ReasoningDelta(0, "think."),
        FunctionCallDelta(0, 3, "call_1", "get_weather", '{"city": '),
        FunctionCallDelta(0, 1, "call_0", "now", "{}"),
        FunctionCallDelta(0, 3, None, None, '"Hangzhou"}'),
        ContentDelta(0, "Done"),
        Finish(0, "tool_calls"),
        Finish(0, "stop"),  # a choice finishes once
        USAGE,
    )
    assert summary == ExchangeSummary(
        choices=(
            ChoiceSummary(
                index=0,
                reasoning="Let me think.",
                answer="Done",
                # in the upstream's call order, whatever order their deltas came in
                function_calls=(
                    FunctionCall("call_0", "now", "{}"),
                    FunctionCall("call_1", "get_weather", '{"city": "Hangzhou"}'),
                ),
                search_results=({"url": "https://a.example"},),
                finish_reason="tool_calls",
            ),
        ),
        code_runs=(),
        usage=USAGE,
    )


def test_a_call_whose_first_delta_lacked_its_id_takes_a_later_one() -> None:
    (choice,) = summarise(
        FunctionCallDelta(0, 0, None, None, "{"),
        FunctionCallDelta(0, 0, "call_late", "f", "}"),
    ).choices
    assert choice.function_calls == (FunctionCall("call_late", "f", "{}"),)


def test_code_runs_are_the_final_code_in_run_order() -> None:
    summary = summarise(
        CodeDelta(0, 2, "print("),
        CodeDelta(0, 0, "1+"),
        CodeDelta(0, 0, "1"),
        CodeDone(0, 0, "1+2"),  # the upstream rewrote the run: the final code wins
        CodeDelta(0, 2, "3)"),  # cut short: the code so far
    )
    assert summary.code_runs == ("1+2", "print(3)")
    (choice,) = summary.choices
    assert (choice.answer, choice.finish_reason) == ("", None)


def test_choices_are_kept_apart_and_in_index_order() -> None:
    summary = summarise(ContentDelta(1, "b"), ContentDelta(0, "a"), Finish(1, "length"))
    assert [(c.index, c.answer, c.finish_reason) for c in summary.choices] == [
        (0, "a", None),
        (1, "b", "length"),
    ]


def test_the_fallback_usage_counts_only_when_no_usage_event_came() -> None:
    reported = Usage(1, 2, None, None, None)
    assert summarise(ContentDelta(0, "x"), usage=reported).usage == reported
    assert summarise(USAGE, usage=reported).usage == USAGE
    assert summarise(ContentDelta(0, "x")).usage is None


def test_without_a_traffic_log_only_the_usage_is_kept() -> None:
    """Metrics and the app log read only the usage: an open stream then holds none of its text."""
    builder = SummaryBuilder(usage_only=True)
    for event in (
        ReasoningDelta(0, "thinking"),
        CodeDelta(0, 0, "1+1"),
        CodeDone(0, 0, "1+1"),
        ContentDelta(0, "2"),
        Finish(0, "stop"),
        USAGE,
    ):
        builder.add(event)
    assert builder.summary() == ExchangeSummary((), (), USAGE)
