"""The test suite's own fold of `chat.completion.chunk`s into one `chat.completion`.

Independent of proxy/chat/fold.py on purpose: tests/contract.py returns this fold, so the tests
that read a stream's meaning through the checker do not rely on the product's fold (which
serves non-stream clients and would otherwise check itself). It folds as OpenAI's SDKs do:
texts concatenate per choice; a tool call is named by its first delta at a new index and its
arguments concatenate; `content` is None when a message holds only tool calls; logprobs
concatenate; the usage chunk's usage is the completion's. Two extensions the proxy sends fold
the same way: DashScope's code runs (`code_interpreter_calls`, code concatenated per index)
and `search_info` (the last one sent).

It trusts the stream's structure: tests/contract.py checks that before folding.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

CODE_RUNS = "code_interpreter_calls"


def fold(chunks: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    entries: dict[int, list[Mapping[str, Any]]] = {}
    usage = None
    for chunk in chunks:
        for entry in chunk["choices"]:
            entries.setdefault(entry["index"], []).append(entry)
        if chunk.get("usage") is not None:
            usage = chunk["usage"]
    head = chunks[0]
    completion: dict[str, Any] = {
        "id": head["id"],
        "object": "chat.completion",
        "created": head["created"],
        "model": head["model"],
        "choices": [_choice(index, entries[index]) for index in sorted(entries)],
    }
    if usage is not None:
        completion["usage"] = usage
    return completion


def _choice(index: int, entries: list[Mapping[str, Any]]) -> dict[str, Any]:
    deltas = [entry["delta"] for entry in entries]
    finishes = [entry["finish_reason"] for entry in entries if entry.get("finish_reason")]
    scored = [
        e["logprobs"]["content"]
        for e in entries
        if (e.get("logprobs") or {}).get("content") is not None
    ]
    return {
        "index": index,
        "message": _message(deltas),
        "logprobs": {"content": [token for part in scored for token in part]} if scored else None,
        "finish_reason": finishes[-1] if finishes else None,
    }


def _message(deltas: list[Mapping[str, Any]]) -> dict[str, Any]:
    content = "".join(delta.get("content") or "" for delta in deltas)
    reasoning = "".join(delta.get("reasoning_content") or "" for delta in deltas)
    calls = _tool_calls([call for delta in deltas for call in delta.get("tool_calls") or ()])
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning:
        message["reasoning_content"] = reasoning
    if calls:
        message["content"] = content or None
        message["tool_calls"] = calls
    runs = _code_runs([run for delta in deltas for run in delta.get(CODE_RUNS) or ()])
    if runs:
        message[CODE_RUNS] = runs
    searches = [delta["search_info"] for delta in deltas if delta.get("search_info") is not None]
    if searches:
        message["search_info"] = searches[-1]
    return message


def _tool_calls(pieces: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    calls: dict[int, dict[str, Any]] = {}
    for piece in pieces:
        function = piece.get("function") or {}
        if piece["index"] not in calls:
            calls[piece["index"]] = {
                "id": piece.get("id"),
                "type": piece.get("type", "function"),
                "function": {"name": function.get("name"), "arguments": ""},
            }
        calls[piece["index"]]["function"]["arguments"] += function.get("arguments") or ""
    return [calls[index] for index in sorted(calls)]


def _code_runs(pieces: list[Mapping[str, Any]]) -> list[dict[str, Any]]:
    runs: dict[int, dict[str, Any]] = {}
    for piece in pieces:
        run = runs.setdefault(piece["index"], {"id": piece.get("id"), "code": ""})
        run["code"] += piece.get("code", "")
    return [runs[index] for index in sorted(runs)]
