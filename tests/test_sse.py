"""The SSE decoder (native DashScope framing and the general grammar) and the OpenAI encoder."""

from __future__ import annotations

import orjson
import pytest

from proxy.core.errors import FrameTooLarge
from proxy.core.sse import DONE, SSEDecoder, SSEEvent, encode_data
from tests.contract import check_sse_bytes

# Frame id 1 of the vendor page, verbatim: no space after the colons, status in a comment.
SEED_FRAME_1 = (
    b"id:1\nevent:result\n:HTTP_STATUS/200\n"
    b'data:{"output":{"choices":[{"message":{"content":"","reasoning_content":"The",'
    b'"role":"assistant"},"finish_reason":"null"}]},"usage":{"total_tokens":290,'
    b'"output_tokens":3,"input_tokens":287,"output_tokens_details":{"reasoning_tokens":1}},'
    b'"request_id":"a1959ad1-2637-4672-a21f-4d351371d254"}\n\n'
)
ERROR_FRAME = (
    b"id:1\nevent:error\n:HTTP_STATUS/400\n"
    b'data:{"code":"InvalidParameter","message":"m","request_id":"r"}\n\n'
)


def decode(*pieces: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    return events + decoder.finish()


def test_native_frame_fields() -> None:
    [event] = SSEDecoder().feed(SEED_FRAME_1)
    assert event.event == "result"
    assert event.id == "1"
    assert event.status == 200
    payload = orjson.loads(event.data)
    assert payload["output"]["choices"][0]["message"]["reasoning_content"] == "The"
    assert payload["request_id"] == "a1959ad1-2637-4672-a21f-4d351371d254"


def test_native_error_frame_keeps_its_status() -> None:
    [event] = SSEDecoder().feed(ERROR_FRAME)
    assert (event.event, event.status, event.id) == ("error", 400, "1")
    assert orjson.loads(event.data)["code"] == "InvalidParameter"


def test_events_are_complete_only_at_the_blank_line() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(SEED_FRAME_1[:-1]) == []
    assert len(decoder.feed(SEED_FRAME_1[-1:])) == 1


def test_two_frames_are_two_events_and_fields_reset() -> None:
    second = b"id:2\nevent:result\ndata:{}\n\n"
    events = decode(ERROR_FRAME + second)
    assert [(e.id, e.event, e.status, e.data) for e in events][1] == ("2", "result", None, "{}")


def test_data_with_a_space_after_the_colon() -> None:
    [event] = decode(b'data: {"a": 1}\n\n')
    assert event.data == '{"a": 1}'
    assert event.event == "message"
    assert event.status is None


def test_only_one_space_is_stripped() -> None:
    [event] = decode(b"data:  two\n\n")
    assert event.data == " two"


@pytest.mark.parametrize("newline", [b"\n", b"\r\n", b"\r"], ids=["lf", "crlf", "cr"])
def test_line_endings(newline: bytes) -> None:
    body = SEED_FRAME_1.replace(b"\n", newline) + ERROR_FRAME.replace(b"\n", newline)
    assert decode(body) == decode(SEED_FRAME_1 + ERROR_FRAME)
    assert len(decode(body)) == 2


def test_mixed_line_endings_in_one_event() -> None:
    [event] = decode(b"event:result\r\ndata:a\rdata:b\ndata:c\r\n\r\n")
    assert (event.event, event.data) == ("result", "a\nb\nc")


def test_multi_line_data_is_joined_with_newlines() -> None:
    [event] = decode(b"data:first\ndata:\ndata: third\n\n")
    assert event.data == "first\n\nthird"


def test_field_without_colon_is_an_empty_value() -> None:
    [event] = decode(b"data\ndata:x\n\n")
    assert event.data == "\nx"


def test_comments_and_unknown_fields_are_ignored() -> None:
    events = decode(b": keep-alive\n\n:another\nretry:1000\nfoo:bar\n\ndata:x\n: mid\ndata:y\n\n")
    assert [e.data for e in events] == ["x\ny"]


def test_status_comment_needs_digits() -> None:
    [event] = decode(b":HTTP_STATUS/abc\ndata:x\n\n")
    assert event.status is None
    [event] = decode(b":HTTP_STATUS/ 429 \ndata:x\n\n")
    assert event.status == 429


def test_status_comment_alone_still_makes_an_event() -> None:
    # An error frame without data must still reach the translator, which raises on it.
    [event] = decode(b"event:error\n:HTTP_STATUS/500\n\n")
    assert (event.event, event.status, event.data) == ("error", 500, "")


def test_blank_lines_alone_make_no_event() -> None:
    assert decode(b"\n\n\r\n\r\r") == []


@pytest.mark.parametrize("tail", [b"", b"\n", b"\r", b"\r\n"], ids=["bare", "lf", "cr", "crlf"])
def test_finish_flushes_a_last_event_without_blank_line(tail: bytes) -> None:
    decoder = SSEDecoder()
    body = SEED_FRAME_1.rstrip(b"\n") + tail
    assert decoder.feed(body) == []
    [event] = decoder.finish()
    assert event == SSEDecoder().feed(SEED_FRAME_1)[0]
    assert decoder.finish() == []


def test_finish_with_nothing_pending() -> None:
    decoder = SSEDecoder()
    decoder.feed(SEED_FRAME_1)
    assert decoder.finish() == []


def test_cr_then_lf_in_the_next_feed_is_one_line_break() -> None:
    # If the LF were read as a second line break it would end the event after "a".
    events = decode(b"data:a\r", b"\ndata:b\r", b"\n\r", b"\n")
    assert [e.data for e in events] == ["a\nb"]


def test_cr_then_lf_split_between_feeds_before_the_blank_line() -> None:
    decoder = SSEDecoder()
    # A CR ends its line at once; an LF first in the next piece is only its other half.
    assert [e.data for e in decoder.feed(b"data:a\r\n\r")] == ["a"]
    assert [e.data for e in decoder.feed(b"\ndata:b\n\n")] == ["b"]


def test_lone_cr_blank_line_ends_the_event_whatever_the_next_byte() -> None:
    decoder = SSEDecoder()
    assert [e.data for e in decoder.feed(b"data:a\r\r")] == ["a"]
    assert decoder.feed(b"") == []  # an empty piece decides nothing
    assert [e.data for e in decoder.feed(b"\ndata:b\r\r")] == ["b"]
    assert decoder.finish() == []


def test_utf8_split_inside_a_character() -> None:
    body = 'data:{"city":"浙江省杭州市 🧮"}\n\n'.encode()
    start = body.index("浙".encode())
    for cut in range(start, len(body)):
        [event] = decode(body[:cut], body[cut:])
        assert orjson.loads(event.data) == {"city": "浙江省杭州市 🧮"}


def test_every_two_way_split_gives_the_same_events() -> None:
    body = SEED_FRAME_1.replace(b"\n", b"\r\n") + ERROR_FRAME.replace(b"\n", b"\r")
    whole = decode(body)
    for cut in range(len(body) + 1):
        assert decode(body[:cut], body[cut:]) == whole, cut


def test_one_byte_at_a_time() -> None:
    body = SEED_FRAME_1 + ERROR_FRAME.replace(b"\n", b"\r\n")
    assert decode(*(body[i : i + 1] for i in range(len(body)))) == decode(body)


def test_invalid_utf8_is_replaced_not_raised() -> None:
    [event] = decode(b"data:\xff\xfe ok\n\n")
    assert event.data.endswith(" ok")
    assert "\ufffd" in event.data


def test_encode_data_framing() -> None:
    frame = encode_data({"a": "é", "b": [1, None]})
    assert frame == 'data: {"a":"é","b":[1,null]}\n\n'.encode()
    assert b"\nevent:" not in frame
    assert DONE == b"data: [DONE]\n\n"


def test_encode_data_round_trips_through_the_decoder() -> None:
    payloads = [{"text": "line\nbreak \r and \u2028"}, {"n": 1}]
    body = b"".join(encode_data(p) for p in payloads) + DONE
    events = decode(body)
    assert [orjson.loads(e.data) for e in events[:-1]] == payloads
    assert events[-1].data == "[DONE]"


def test_encoded_stream_passes_the_client_contract() -> None:
    head = {"id": "chatcmpl-x", "object": "chat.completion.chunk", "created": 1, "model": "m"}
    chunks = [
        {**head, "choices": [{"index": 0, "delta": {"role": "assistant", "content": "hi"}}]},
        {**head, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
    ]
    result = check_sse_bytes(b"".join(map(encode_data, chunks)) + DONE)
    assert result.message["content"] == "hi"


@pytest.mark.parametrize("split", [0, 1, 2, 3, 5])
def test_a_leading_byte_order_mark_is_skipped_wherever_the_bytes_split(split: int) -> None:
    body = b"\xef\xbb\xbfdata:first\n\ndata:second\n\n"
    decoder = SSEDecoder()
    events = decoder.feed(body[:split]) + decoder.feed(body[split:]) + decoder.finish()
    assert [event.data for event in events] == ["first", "second"]


def test_only_a_leading_byte_order_mark_is_special() -> None:
    decoder = SSEDecoder()
    events = decoder.feed(b"data:a\n\n\xef\xbb\xbfdata:b\n\n") + decoder.finish()
    assert [event.data for event in events] == ["a"]


# Frames as DashScope writes them, and shapes next to that one: a space after a colon, no
# status comment, data on two lines, an empty event name, a comment between frames.
_MIXED_FRAMES = (
    SEED_FRAME_1,
    b'id:2\nevent:result\n:HTTP_STATUS/200\ndata:{"a":"caf\xc3\xa9"}\n\n',
    b"id: 3\nevent:result\n:HTTP_STATUS/200\ndata:{}\n\n",
    b"id:4\nevent:\n:HTTP_STATUS/200\ndata:\n\n",
    b"id:5\nevent:result\ndata:{}\n\n",
    b": keep-alive\n\n",
    b"id:6\nevent:result\n:HTTP_STATUS/200\ndata:one\ndata:two\n\n",
    b"id:7\nevent:result\n:HTTP_STATUS/200\ndata: {}\n\n",
    ERROR_FRAME,
    b"id:8\nevent:result\n:HTTP_STATUS/200\ndata:\xff\n\n\n",
    b"id:9\nevent:result\n:HTTP_STATUS/200\ndata:{}\n\n",
)


def _line_order_swapped(frame: bytes) -> bytes:
    # Same fields, another order: a frame the decoder can only read line by line.
    lines = frame.split(b"\n")
    if lines[0].startswith(b"id:") and lines[1].startswith(b"event:"):
        lines[0], lines[1] = lines[1], lines[0]
    return b"\n".join(lines)


def test_frames_in_dashscopes_layout_decode_as_any_other_order_of_their_lines() -> None:
    native = b"".join(_MIXED_FRAMES)
    swapped = b"".join(_line_order_swapped(frame) for frame in _MIXED_FRAMES)
    events = decode(native)
    assert len(events) == 10  # the keep-alive comment alone is no event
    assert events == decode(swapped)
    assert [e.id for e in events[:4]] == ["1", "2", "3", "4"]
    assert events[3].event == "message"
    assert events[3].data == ""
    assert events[5].data == "one\ntwo"
    assert events[6].data == "{}"


def test_frames_in_dashscopes_layout_give_the_same_events_at_every_three_way_split() -> None:
    body = b"".join(_MIXED_FRAMES)
    whole = decode(body)
    for first in range(0, len(body), 7):
        for second in range(first, len(body), 23):
            assert decode(body[:first], body[first:second], body[second:]) == whole


def test_the_limits_hold_for_frames_in_dashscopes_layout() -> None:
    frame = b"id:1\nevent:result\n:HTTP_STATUS/200\ndata:" + b"x" * 100 + b"\n\n"
    with pytest.raises(FrameTooLarge, match="more than 64 bytes of data"):
        SSEDecoder(max_line=1000, max_event=64).feed(frame)
    with pytest.raises(FrameTooLarge, match="line longer than 80 bytes"):
        SSEDecoder(max_line=80).feed(frame)
    assert SSEDecoder(max_line=120, max_event=100).feed(frame)[0].data == "x" * 100
