"""The DashScope simulator: wire format, scripted scenarios, and the ASGI app."""

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from proxy.simulator import (
    SCENARIOS,
    Scenario,
    SimFrame,
    build_scenario,
    create_simulator_app,
    render_frame,
    select_scenario,
)
from proxy.simulator.app import MULTIMODAL_PATH, TEXT_PATH
from proxy.simulator.scripts import SEED_ANSWER, TWO_RUNS_SECOND_CODE

SEED_ID = "a1959ad1-2637-4672-a21f-4d351371d254"

# Frames printed verbatim on the vendor's code-interpreter page (ids 1, 21-23 and 53-54).
SEED_WIRE = [
    """\
id:1
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"The","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":290,"output_tokens":3,"input_tokens":287,"output_tokens_details":{"reasoning_tokens":1}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

""",
    """\
id:21
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"","role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":388,"output_tokens":101,"input_tokens":287,"output_tokens_details":{"reasoning_tokens":68}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

id:22
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"","role":"assistant"},"finish_reason":"null"}],"tool_info":[{"code_interpreter":{"code":"123**21"},"type":"code_interpreter"}]},"usage":{"total_tokens":388,"output_tokens":101,"input_tokens":287,"output_tokens_details":{"reasoning_tokens":68},"plugins":{"code_interpreter":{"count":1}}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

id:23
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"The","role":"assistant"},"finish_reason":"null"}],"tool_info":[{"code_interpreter":{"code":"123**21"},"type":"code_interpreter"}]},"usage":{"total_tokens":838,"output_tokens":104,"input_tokens":734,"output_tokens_details":{"reasoning_tokens":69},"plugins":{"code_interpreter":{"count":1}}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

""",
    """\
id:53
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"23","reasoning_content":"","role":"assistant"},"finish_reason":"null"}],"tool_info":[{"code_interpreter":{"code":"123**21"},"type":"code_interpreter"}]},"usage":{"total_tokens":997,"output_tokens":263,"input_tokens":734,"output_tokens_details":{"reasoning_tokens":171},"plugins":{"code_interpreter":{"count":1}}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

id:54
event:result
:HTTP_STATUS/200
data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"","role":"assistant"},"finish_reason":"stop"}],"tool_info":[{"code_interpreter":{"code":"123**21"},"type":"code_interpreter"}]},"usage":{"total_tokens":997,"output_tokens":263,"input_tokens":734,"output_tokens_details":{"reasoning_tokens":171},"plugins":{"code_interpreter":{"count":1}}},"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}

""",
]
SEED_FRAME_22 = SEED_WIRE[1].split("\n\n")[1] + "\n\n"

# The other printed frames contain spaces, so they are checked field by field:
# id -> (reasoning piece, content piece, total, output, input, reasoning tokens).
SEED_FIELDS = {
    2: (" user is asking", "", 293, 6, 287, 4),
    24: (" user", "", 839, 105, 734, 70),
    43: (" a clear format.", "", 942, 208, 734, 171),
    44: ("", "123 to the power of ", 947, 213, 734, 171),
}

SSE_SCENARIOS = sorted(name for name in SCENARIOS if build_scenario(name, {}).frames)


def request(
    text: str = "hi", *, incremental: bool | None = True, **parameters: Any
) -> dict[str, Any]:
    params: dict[str, Any] = {"result_format": "message", **parameters}
    if incremental is not None:
        params["incremental_output"] = incremental
    return {
        "model": "qwen3-max",
        "input": {"messages": [{"role": "user", "content": text}]},
        "parameters": params,
    }


def results(scenario: Scenario) -> list[dict[str, Any]]:
    return [frame.data for frame in scenario.frames if frame.event == "result"]


def message(data: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = data["output"]["choices"][0]["message"]
    return msg


def finish_reason(data: dict[str, Any]) -> str:
    reason: str = data["output"]["choices"][0]["finish_reason"]
    return reason


def tool_codes(data: dict[str, Any]) -> list[str] | None:
    info = data["output"].get("tool_info")
    return None if info is None else [entry["code_interpreter"]["code"] for entry in info]


def joined(frames: list[dict[str, Any]], field: str) -> str:
    return "".join(message(data).get(field, "") for data in frames)


# ---- wire format ----------------------------------------------------------------------------


def test_render_frame_reproduces_seed_frame_22_byte_for_byte() -> None:
    data = orjson.loads(SEED_FRAME_22.split("data:", 1)[1])
    assert render_frame(22, SimFrame("result", 200, data)) == SEED_FRAME_22.encode()


def test_render_frame_keeps_non_ascii_as_utf8() -> None:
    frame = SimFrame("error", 400, {"message": "浙江省杭州市"})
    rendered = render_frame(1, frame)
    assert (
        rendered
        == 'id:1\nevent:error\n:HTTP_STATUS/400\ndata:{"message":"浙江省杭州市"}\n\n'.encode()
    )


def rendered_stream(scenario: Scenario) -> bytes:
    return b"".join(render_frame(n, frame) for n, frame in enumerate(scenario.frames, start=1))


@pytest.mark.parametrize("block", SEED_WIRE)
def test_seed_single_run_replays_the_recorded_frames(block: str) -> None:
    scenario = build_scenario("seed_single_run", request(incremental=True))
    assert block.encode() in rendered_stream(scenario)


@pytest.mark.parametrize(("frame_id", "expected"), sorted(SEED_FIELDS.items()))
def test_seed_single_run_matches_the_recorded_pieces(
    frame_id: int, expected: tuple[str, str, int, int, int, int]
) -> None:
    data = build_scenario("seed_single_run", request()).frames[frame_id - 1].data
    usage = data["usage"]
    assert (
        message(data)["reasoning_content"],
        message(data)["content"],
        usage["total_tokens"],
        usage["output_tokens"],
        usage["input_tokens"],
        usage["output_tokens_details"]["reasoning_tokens"],
    ) == expected


# ---- scripted runs --------------------------------------------------------------------------


def test_seed_single_run_texts_and_final_usage() -> None:
    scenario = build_scenario("seed_single_run", request())
    frames = results(scenario)
    assert (scenario.http_status, scenario.request_id) == (200, SEED_ID)
    assert len(frames) == 54
    assert joined(frames, "content") == SEED_ANSWER
    reasoning = joined(frames, "reasoning_content")
    assert reasoning.startswith("The user is asking me")
    assert "program to calculateThe user asked" in reasoning  # resumes after the run
    assert reasoning.endswith(" I should present this result to the user in a clear format.")
    assert frames[-1]["usage"] == {
        "total_tokens": 997,
        "output_tokens": 263,
        "input_tokens": 734,
        "output_tokens_details": {"reasoning_tokens": 171},
        "plugins": {"code_interpreter": {"count": 1}},
    }


def test_seed_single_run_tool_info_is_a_snapshot_repeated_from_its_first_frame() -> None:
    frames = results(build_scenario("seed_single_run", request()))
    codes = [tool_codes(data) for data in frames]
    assert codes[:21] == [None] * 21
    assert codes[21:] == [["123**21"]] * 33
    assert ["plugins" in data["usage"] for data in frames] == [code is not None for code in codes]


@pytest.mark.parametrize("name", SSE_SCENARIOS)
def test_every_stream_is_consistent(name: str) -> None:
    scenario = build_scenario(name, request(enable_thinking=True))
    frames = results(scenario)
    assert scenario.content_type == "text/event-stream;charset=UTF-8"
    assert all(frame.data["request_id"] == scenario.request_id for frame in scenario.frames)
    assert all(finish_reason(data) == "null" for data in frames[:-1])
    outputs = [data["usage"]["output_tokens"] for data in frames]
    assert outputs == sorted(outputs)
    for data in frames:
        usage = data["usage"]
        assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
        assert message(data)["role"] == "assistant"


@pytest.mark.parametrize("name", SSE_SCENARIOS)
def test_non_incremental_output_carries_the_text_so_far(name: str) -> None:
    pieces = results(build_scenario(name, request(incremental=True, enable_thinking=True)))
    whole = results(build_scenario(name, request(incremental=None, enable_thinking=True)))
    assert len(pieces) == len(whole)
    for field in ("content", "reasoning_content"):
        so_far = ""
        for piece, snapshot in zip(pieces, whole, strict=True):
            so_far += message(piece)[field]
            assert message(snapshot)[field] == so_far
    assert [tool_codes(d) for d in pieces] == [tool_codes(d) for d in whole]
    assert [d["usage"] for d in pieces] == [d["usage"] for d in whole]


def test_non_incremental_seed_ends_with_the_whole_answer() -> None:
    frames = results(build_scenario("seed_single_run", request(incremental=False)))
    assert message(frames[-1])["content"] == SEED_ANSWER
    assert message(frames[-2])["content"] == SEED_ANSWER


def distinct_snapshots(frames: list[dict[str, Any]]) -> list[list[str]]:
    snapshots: list[list[str]] = []
    for data in frames:
        codes = tool_codes(data)
        if codes is not None and (not snapshots or snapshots[-1] != codes):
            snapshots.append(codes)
    return snapshots


def test_seed_two_runs_fills_in_the_second_entry_later() -> None:
    frames = results(build_scenario("seed_two_runs", request()))
    assert distinct_snapshots(frames) == [
        ["123**23"],
        ["123**23", ""],
        ["123**23", TWO_RUNS_SECOND_CODE],
    ]
    assert TWO_RUNS_SECOND_CODE == "1169008215014432917465348578887506800769541157267 / 5"
    assert frames[-1]["usage"]["plugins"] == {"code_interpreter": {"count": 2}}
    assert finish_reason(frames[-1]) == "stop"
    assert "2.338016430028866e+47" in joined(frames, "content")
    inputs = sorted({data["usage"]["input_tokens"] for data in frames})
    assert len(inputs) == 3  # three inferences, each prompt larger than the last


def test_code_growing_sends_cumulative_prefixes() -> None:
    frames = results(build_scenario("code_growing", request()))
    codes = [snapshot[0] for snapshot in distinct_snapshots(frames)]
    assert codes == ["import math", "import math\nprint(", "import math\nprint(math.factorial(20))"]
    assert joined(frames, "content") == "20! = 2432902008176640000"


def test_plain_text_reasons_only_when_thinking_is_on() -> None:
    plain = results(build_scenario("plain_text", request()))
    assert all("reasoning_content" not in message(data) for data in plain)
    assert all("output_tokens_details" not in data["usage"] for data in plain)
    assert finish_reason(plain[-1]) == "stop"
    thinking = results(build_scenario("plain_text", request(enable_thinking=True)))
    assert message(thinking[0])["reasoning_content"]
    assert joined(thinking, "content") == joined(plain, "content")


def test_length_ends_with_a_frame_that_still_carries_text() -> None:
    frames = results(build_scenario("length", request()))
    assert finish_reason(frames[-1]) == "length"
    assert message(frames[-1])["content"] == " fingers"


def test_truncated_never_finishes() -> None:
    scenario = build_scenario("truncated", request())
    assert scenario.frames
    assert all(frame.event == "result" for frame in scenario.frames)
    assert all(finish_reason(frame.data) == "null" for frame in scenario.frames)


# ---- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "status", "code"),
    [
        ("error_401", 401, "InvalidApiKey"),
        ("error_429", 429, "Throttling.RateQuota"),
        ("error_400", 400, "InvalidParameter"),
        ("error_500", 500, "InternalError"),
        ("error_503", 503, "ModelUnavailable"),
    ],
)
def test_json_errors(name: str, status: int, code: str) -> None:
    scenario = build_scenario(name, request())
    assert (scenario.http_status, scenario.content_type) == (status, "application/json")
    assert scenario.frames == ()
    assert scenario.body is not None
    assert scenario.body["code"] == code
    assert scenario.body["request_id"] == scenario.request_id


def test_error_event_first_is_the_recorded_exchange() -> None:
    scenario = build_scenario("error_event_first", request())
    assert scenario.http_status == 200
    assert [render_frame(1, scenario.frames[0])] == [
        b"id:1\nevent:error\n:HTTP_STATUS/400\n"
        b'data:{"code":"InvalidParameter","message":"Role must be user or assistant and Content'
        b' length must be greater than 0","request_id":"7671ecd8-93cc-9ee9-bc89-739f0fd8b809"}\n\n'
    ]


def test_error_sse_non2xx_has_an_sse_body_under_a_429() -> None:
    scenario = build_scenario("error_sse_non2xx", request())
    assert (scenario.http_status, scenario.content_type) == (429, "text/event-stream;charset=UTF-8")
    [frame] = scenario.frames
    assert (frame.event, frame.status, frame.data["code"]) == (
        "error",
        429,
        "Throttling.AllocationQuota",
    )


def test_error_event_midstream_follows_partial_output() -> None:
    scenario = build_scenario("error_event_midstream", request(enable_thinking=True))
    *before, error = scenario.frames
    assert {frame.event for frame in before} == {"result"}
    assert joined([frame.data for frame in before], "content")
    assert (error.event, error.status) == ("error", 400)
    assert error.data == {
        "code": "DataInspectionFailed",
        "message": "Output data may contain inappropriate content.",
        "request_id": scenario.request_id,
    }


def test_unknown_scenario_is_an_invalid_parameter_listing_the_valid_ones() -> None:
    scenario = build_scenario("nope", request())
    assert scenario.http_status == 400
    assert scenario.body is not None
    assert scenario.body["code"] == "InvalidParameter"
    assert "'nope'" in scenario.body["message"]
    assert all(name in scenario.body["message"] for name in SCENARIOS)


# ---- selection ------------------------------------------------------------------------------


def test_select_scenario_defaults() -> None:
    assert select_scenario(request()) == "plain_text"
    assert select_scenario(request(enable_code_interpreter=True)) == "seed_single_run"
    assert select_scenario({}) == "plain_text"
    # Given functions, a model calls one (and answers once the result is in).
    tools = [{"type": "function", "function": {"name": "get_weather"}}]
    assert select_scenario(request(tools=tools)) == "function_call"
    assert select_scenario(request(tools=[])) == "plain_text"


@pytest.mark.parametrize(
    "content",
    [
        "please [sim:length] now",
        [{"text": "a"}, {"text": "[sim:length]"}],
        [{"type": "text", "text": "x [sim:length]"}],
    ],
)
def test_select_scenario_by_marker_in_the_last_user_message(content: Any) -> None:
    body = request(enable_code_interpreter=True)
    body["input"]["messages"] = [
        {"role": "user", "content": "[sim:error_500]"},
        {"role": "assistant", "content": "[sim:error_401]"},
        {"role": "user", "content": content},
        {"role": "assistant", "content": "", "partial": True},
    ]
    assert select_scenario(body) == "length"


def test_select_scenario_reads_a_legacy_prompt() -> None:
    assert select_scenario({"input": {"prompt": "[sim:truncated]"}}) == "truncated"


def test_multimodal_content_is_a_list_of_parts() -> None:
    frames = results(build_scenario("plain_text", request(), multimodal=True))
    contents = [message(data)["content"] for data in frames]
    assert all(isinstance(content, list) for content in contents)
    assert contents[-1] == []
    assert "".join(part["text"] for content in contents for part in content) == joined(
        results(build_scenario("plain_text", request())), "content"
    )


# ---- the app --------------------------------------------------------------------------------

HEADERS = {"Authorization": "Bearer sk-test", "X-DashScope-SSE": "enable"}


@pytest.fixture
def app() -> Starlette:
    return create_simulator_app()


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as c:
        yield c


async def test_streams_the_scenario_with_dashscope_headers(client: httpx.AsyncClient) -> None:
    body = request(enable_code_interpreter=True, enable_thinking=True)
    response = await client.post(TEXT_PATH, json=body, headers=HEADERS)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream;charset=UTF-8"
    assert response.headers["x-request-id"] == SEED_ID
    assert response.headers["x-dashscope-call-gateway"] == "true"
    assert response.content == rendered_stream(build_scenario("seed_single_run", body))


async def test_records_every_request(app: Starlette, client: httpx.AsyncClient) -> None:
    body = request("[sim:plain_text]")
    await client.post(MULTIMODAL_PATH, json=body, headers={**HEADERS, "X-Custom": "1"})
    await client.post(TEXT_PATH, content=b"{not json", headers=HEADERS)
    first, second = app.state.received
    assert (first.path, first.body) == (MULTIMODAL_PATH, body)
    assert first.headers["authorization"] == "Bearer sk-test"
    assert first.headers["x-dashscope-sse"] == "enable"
    assert first.headers["x-custom"] == "1"
    assert (second.path, second.body) == (TEXT_PATH, {})


async def test_multimodal_path_sends_content_parts(client: httpx.AsyncClient) -> None:
    response = await client.post(MULTIMODAL_PATH, json=request(), headers=HEADERS)
    first = response.content.split(b"\n\n")[0]
    data = orjson.loads(first.split(b"data:", 1)[1])
    assert isinstance(message(data)["content"], list)


@pytest.mark.parametrize(
    "authorization", [None, "Bearer ", "Bearer sk-invalid", "sk-test", "Basic c2stdGVzdA=="]
)
async def test_refuses_missing_or_invalid_keys(
    client: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {"X-DashScope-SSE": "enable"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = await client.post(TEXT_PATH, json=request(), headers=headers)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/json"
    assert response.json()["code"] == "InvalidApiKey"
    assert response.json()["request_id"] == response.headers["x-request-id"]


async def test_refuses_non_streaming_calls(client: httpx.AsyncClient) -> None:
    response = await client.post(TEXT_PATH, json=request(), headers={"Authorization": "Bearer k"})
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"
    assert "X-DashScope-SSE" in response.json()["message"]


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b""])
async def test_refuses_bodies_that_are_not_json_objects(
    client: httpx.AsyncClient, raw: bytes
) -> None:
    response = await client.post(TEXT_PATH, content=raw, headers=HEADERS)
    assert response.status_code == 400
    assert response.json()["code"] == "InvalidParameter"


@pytest.mark.parametrize(
    ("marker", "status", "content_type"),
    [
        ("error_429", 429, "application/json"),
        ("error_sse_non2xx", 429, "text/event-stream;charset=UTF-8"),
        ("error_event_first", 200, "text/event-stream;charset=UTF-8"),
        ("no_such_scenario", 400, "application/json"),
    ],
)
async def test_error_scenarios_over_http(
    client: httpx.AsyncClient, marker: str, status: int, content_type: str
) -> None:
    response = await client.post(TEXT_PATH, json=request(f"[sim:{marker}]"), headers=HEADERS)
    assert response.status_code == status
    assert response.headers["content-type"] == content_type
    assert response.headers["x-request-id"]


async def test_only_post_is_served(client: httpx.AsyncClient) -> None:
    assert (await client.get(TEXT_PATH)).status_code == 405
    assert (await client.post("/v1/chat/completions", json={}, headers=HEADERS)).status_code == 404


async def test_frame_delay_spaces_out_frames() -> None:
    frames = build_scenario("truncated", request()).frames
    transport = httpx.ASGITransport(app=create_simulator_app(frame_delay=0.02))
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
        started = time.perf_counter()
        response = await client.post(TEXT_PATH, json=request("[sim:truncated]"), headers=HEADERS)
        elapsed = time.perf_counter() - started
    assert response.content.count(b"event:result") == len(frames)
    assert elapsed >= 0.02 * (len(frames) - 1)
