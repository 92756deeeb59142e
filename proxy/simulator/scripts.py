"""Scripted generations the simulator replays.

`seed_single_run` reproduces the recorded `123**21` run from the vendor's code-interpreter page
frame for frame: the frames printed there (ids 1-2, 21-24, 43-44, 53-54, and every text piece
the SDK example printed) are verbatim, the elided middle is invented with token counts chosen
so that the recorded frames' usage comes out exactly. The other scripts are invented in the
same shape.
"""

from dataclasses import dataclass

from proxy.simulator.timeline import (
    Step,
    finish,
    hidden,
    new_inference,
    run,
    say,
    say_text,
    think,
    think_text,
)


@dataclass(frozen=True, slots=True)
class Script:
    request_id: str
    input_tokens: int  # prompt tokens of the first inference
    steps: tuple[Step, ...]


SEED_SINGLE_RUN_ID = "a1959ad1-2637-4672-a21f-4d351371d254"
SEED_ANSWER = "123 to the power of 21 is:\n\n77269364466549865653073473388030061522211723"

_SEED_FIRST_INFERENCE = (
    think("The", 1, extra=2),  # id 1; the first frame also bills two non-reasoning tokens
    think(" user is asking", 3),
    think(" me", 1),
    think(" to calculate 123 raised to", 5),
    think(" the power of 21. This", 6),
    think(" is a large exponentiation, and", 5),
    think(" the result will have dozens", 5),
    think(" of digits, so doing it", 5),
    think(" by hand would be slow and", 6),
    think(" error-prone. Python integers have", 6),
    think(" arbitrary precision, so the", 5),
    think(" code interpreter can compute the", 5),
    think(" exact value without any rounding", 5),
    think(".", 1),
    think(" I'll write a", 4),
    think(" simple Python program to calculate", 5),  # id 16: reasoning_tokens reach 68
    # ids 17-21: the model writes the tool call; the client sees empty frames.
    hidden(6),
    hidden(6),
    hidden(6),
    hidden(6),
    hidden(7),  # id 21: output_tokens 101
    run("123**21", runs=1),  # id 22
)

_SEED_SECOND_INFERENCE = (
    new_inference(734, think("The", 1, extra=2)),  # id 23
    think(" user", 1),
    think(" asked", 1),
    think(" for 123 to the power", 5),
    think(" of 21, and I ran", 6),
    think(" the calculation with the code", 5),
    think(" interpreter. The result is", 5),
    think(" 772693644665498656", 6),
    think("53073473388030061522", 6),
    think("211723, an exact", 5),
    think(" integer because Python uses arbitrary", 6),
    think("-precision arithmetic, so no", 6),
    think(" rounding happened.\n\n", 6, extra=2),
    think("The number is long, so", 6),
    think(" I will put it on", 5),
    think(" its own line to keep", 5),
    think(" it easy to read and copy", 6),
    think(" without abbreviating it.", 9),
    think(" I should present this result", 5),
    think(" to the user in", 4),
    think(" a clear format.", 4),  # id 43: reasoning_tokens 171, output_tokens 208
)

_SEED_ANSWER_FRAMES = (
    say("123 to the power of ", 5),  # id 44
    say("21 is:\n\n", 6),
    *(say(digits, 6) for digits in ("772693", "644665", "498656", "530734")),
    *(say(digits, 6) for digits in ("733880", "300615", "222117")),
    say("23", 2),  # id 53: output_tokens 263
    finish("stop"),  # id 54
)


def seed_single_run() -> Script:
    steps = _SEED_FIRST_INFERENCE + _SEED_SECOND_INFERENCE + _SEED_ANSWER_FRAMES
    return Script(SEED_SINGLE_RUN_ID, 287, steps)


TWO_RUNS_FIRST = "1169008215014432917465348578887506800769541157267"
TWO_RUNS_SECOND_CODE = f"{TWO_RUNS_FIRST} / 5"


def seed_two_runs() -> Script:
    """The page's two-run example; its second entry first appears with empty code."""
    steps = (
        *think_text(
            "The user wants to run the code interpreter twice:\n"
            "1. First run: calculate 123 to the power of 23\n"
            "2. Second run: divide the result of the first run by 5\n\n"
            "I need to call the code interpreter first to calculate 123**23, then use this "
            "result to call the code interpreter again to divide by 5.\n\n"
            "Let me do the first calculation."
        ),
        hidden(8),
        hidden(7),
        run("123**23", runs=1),
        new_inference(804, think("The first calculation gave 123 to the power of 23: ", extra=2)),
        think(TWO_RUNS_FIRST, 16),
        *think_text(
            "\n\nNow for the second run, I need to divide this result by 5. "
            "I need to use this exact value for the division"
        ),
        hidden(9),
        run("123**23", ""),
        hidden(12),
        # Counted once the code is known: only then has the second run actually executed.
        run("123**23", TWO_RUNS_SECOND_CODE, runs=2, tokens=14),
        new_inference(1389, think("The", 1, extra=2)),
        *think_text(
            " user asked to run the code interpreter twice:\n"
            f"1. First, calculate 123 to the power of 23, the result is: {TWO_RUNS_FIRST}\n"
            "2. Second, divide this result by 5, which gives: 2.338016430028866e+47\n\n"
            "Now I need to report both results to the user"
        ),
        *say_text(
            f"First run result: 123 to the power of 23 = {TWO_RUNS_FIRST}\n\n"
            "Second run result: the above divided by 5 = 2.338016430028866e+47"
        ),
        finish("stop"),
    )
    return Script("3b7e2f90-5c1d-4a8e-9f62-d04c8b1a7e35", 301, steps)


GROWING_CODE = ("import math", "import math\nprint(", "import math\nprint(math.factorial(20))")


def code_growing() -> Script:
    """One run whose code arrives as growing prefixes, which no capture rules out."""
    steps = (
        *think_text(
            "The user wants 20 factorial. I'll compute it with math.factorial in the "
            "code interpreter so the value is exact."
        ),
        hidden(5),
        run(GROWING_CODE[0], tokens=3),
        run(GROWING_CODE[1], tokens=3),
        run(GROWING_CODE[2], runs=1, tokens=6),
        new_inference(598, think("The", 1, extra=2)),
        *think_text(" interpreter printed 2432902008176640000, which is 20!. I'll report it."),
        *say_text("20! = 2432902008176640000"),
        finish("stop"),
    )
    return Script("5c6d7e8f-0a1b-4c2d-9e3f-4a5b6c7d8e9f", 243, steps)


_SQRT_CODE = "from decimal import Decimal, getcontext\ngetcontext().prec = 31\nDecimal(2).sqrt()"


def interleaved() -> Script:
    """Content before a run and reasoning after it: clients must not assume one order."""
    steps = (
        *think_text("The user wants the square root of 2 to 30 places."),
        *say_text("Let me compute that precisely."),
        hidden(6),
        run(""),  # the entry can show up before its code does
        run(_SQRT_CODE, runs=1, tokens=19),
        new_inference(655, think("The", 1, extra=2)),
        *think_text(" interpreter returned 1.414213562373095048801688724210."),
        *say_text("\n\nThe square root of 2 is 1.414213562373095048801688724210."),
        finish("stop"),
    )
    return Script("9d4c3b2a-1e0f-4a9b-8c7d-6e5f4a3b2c1d", 268, steps)


_PLAIN_REASONING = "The user sent a plain message, so a short direct answer is enough."
PLAIN_ANSWER = "This is a simulated DashScope answer, streamed in a few small pieces."


def _reasoning(thinking: bool, text: str) -> tuple[Step, ...]:
    return tuple(think_text(text)) if thinking else ()


def plain_text(thinking: bool) -> Script:
    steps = (*_reasoning(thinking, _PLAIN_REASONING), *say_text(PLAIN_ANSWER), finish("stop"))
    return Script("0f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", 24, steps)


LENGTH_ANSWER = "The history of mathematics spans thousands of years, from counting on"


def length(thinking: bool) -> Script:
    """Cut off by max tokens; the terminal frame itself carries the last piece of text."""
    steps = (
        *_reasoning(thinking, "The user wants a long essay; I will start with the origins."),
        *say_text(LENGTH_ANSWER),
        Step(content=" fingers", output_tokens=2, finish="length"),
    )
    return Script("2a3b4c5d-6e7f-4809-9a1b-2c3d4e5f6a7b", 31, steps)


MIDSTREAM_PARTIAL = "Here is the first part of the answer, before moderation"


def before_moderation(thinking: bool) -> Script:
    steps = (*_reasoning(thinking, _PLAIN_REASONING), *say_text(MIDSTREAM_PARTIAL))
    return Script("6b7c8d9e-0f1a-4b2c-9d3e-4f5a6b7c8d9e", 27, steps)


TRUNCATED_PARTIAL = "This answer stops in the middle of"


def truncated(thinking: bool) -> Script:
    steps = (*_reasoning(thinking, _PLAIN_REASONING), *say_text(TRUNCATED_PARTIAL))
    return Script("8e9f0a1b-2c3d-4e5f-a6b7-c8d9e0f1a2b3", 22, steps)
