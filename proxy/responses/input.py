"""A Responses API `input` -> native turns (sans-I/O).

The Responses API sends a conversation as a list of items; they become native turns (messages
whose content is still a list of parts; `proxy/core/native_request.py` gives them the form of
their endpoint). Consecutive assistant items (text, function calls) are one turn. Items the
proxy itself produced for server-side tools (`code_interpreter_call`, `web_search_call`) are
history, never requests: DashScope already ran them, so they are not sent, and code never runs
again because of them. Reasoning items give back only the thinking the proxy sealed
(`proxy/responses/reasoning_input.py`). Audio (`input_audio` parts, and
`input_file` parts holding audio) becomes native audio parts, and an image's `detail` may set a
request parameter (`proxy/core/media.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.json_types import json_type
from proxy.core.media import AUDIO_TYPES, data_url, image_detail, input_audio
from proxy.core.native_request import NativePart, NativeRole, Turn, media_url, tool_call
from proxy.core.plan import Sealer
from proxy.responses.reasoning_input import ThinkingReader

_ROLES: dict[str, NativeRole] = {
    "user": "user",
    "system": "system",
    "developer": "system",  # DashScope has no developer role: reported
    "assistant": "assistant",
}
_HOSTED = ("code_interpreter_call", "web_search_call")
_TEXT_PARTS = ("input_text", "output_text", "text")


def input_turns(
    value: Any,
    instructions: str | None,
    notes: list[str],
    parameters: dict[str, Any] | None = None,
    sealer: Sealer | None = None,
) -> list[Turn]:
    """The input as turns. `parameters` are the request's native parameters, which an image's
    `detail` may set (a scratch dict when the caller only wants the turns); `sealer` opens the
    thinking of the reasoning items the proxy sealed."""
    parameters = {} if parameters is None else parameters
    thinking = ThinkingReader(sealer, preserve=parameters.get("preserve_thinking") is True)
    reader = _Reader(parameters=parameters, thinking=thinking)
    if instructions:
        reader.turns.append({"role": "system", "content": [{"text": instructions}]})
    if isinstance(value, str):
        reader.turns.append({"role": "user", "content": [{"text": value}]})
        return reader.turns
    if not isinstance(value, list) or not value:
        raise InvalidRequest(
            "'input' is required: a string or a non-empty array of items.", param="input"
        )
    for index, item in enumerate(value):
        reader.item(item, f"input[{index}]")
    notes.extend(reader.notes)
    if reader.hosted:
        notes.append(
            f"input: {reader.hosted} code_interpreter_call/web_search_call item(s) not "
            "sent (DashScope already ran them)"
        )
    notes.extend(thinking.notes())
    return reader.close()


@dataclass(slots=True)
class _Reader:
    """The turns read so far; the last one stays open while assistant items follow."""

    parameters: dict[str, Any]  # the request's, which an image's detail may set
    thinking: ThinkingReader
    turns: list[Turn] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    hosted: int = 0
    _assistant: Turn | None = None  # the assistant turn consecutive assistant items extend
    _thought: str = ""  # restored thinking, for the next assistant turn

    def item(self, item: Any, where: str) -> None:
        if not isinstance(item, dict):
            raise InvalidRequest(
                f"'{where}' must be an object, got {json_type(item)}.", param=where
            )
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            self._message(item, where)
        elif kind == "function_call":
            self._call(item, where)
        elif kind == "function_call_output":
            call_id = _string(item, "call_id", where)
            output = _content_text(item.get("output"), f"{where}.output")
            self._append({"role": "tool", "content": [{"text": output}], "tool_call_id": call_id})
        elif kind in _HOSTED:
            self.hosted += 1
        elif kind == "reasoning":
            self._reasoning(item)
        elif kind == "item_reference":
            raise InvalidRequest(
                f"'{where}': item references need stored responses, and the proxy stores "
                "nothing; send the items themselves.",
                param=where,
            )
        else:
            raise InvalidRequest(
                f"'{where}' has type {kind!r}; the proxy takes message, function_call, "
                "function_call_output, reasoning and code_interpreter_call items.",
                param=where,
            )

    def close(self) -> list[Turn]:
        """The turns as DashScope takes them: no empty `tool_calls`."""
        for turn in self.turns:
            if turn["role"] == "assistant" and not turn.get("tool_calls"):
                turn.pop("tool_calls", None)
        return self.turns

    def _message(self, item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        if not isinstance(role, str) or role not in _ROLES:
            raise InvalidRequest(
                f"'{where}.role' must be one of {', '.join(_ROLES)}.", param=f"{where}.role"
            )
        if role == "developer":
            self.notes.append(f"{where}.role: developer sent as system")
        content = item.get("content")
        if role == "assistant":
            text = _content_text(content, f"{where}.content")
            self._open_assistant()["content"][0]["text"] += text
        elif isinstance(content, str):
            self._append({"role": _ROLES[role], "content": [{"text": content}]})
        elif isinstance(content, list):
            parts = [self._part(part, f"{where}.content[{i}]") for i, part in enumerate(content)]
            self._append({"role": _ROLES[role], "content": parts})
        else:
            raise InvalidRequest(
                f"'{where}.content' must be a string or an array of parts.",
                param=f"{where}.content",
            )

    def _call(self, item: dict[str, Any], where: str) -> None:
        arguments = item.get("arguments", "")
        if not isinstance(arguments, str):
            raise InvalidRequest(
                f"'{where}.arguments' must be a string of JSON.", param=f"{where}.arguments"
            )
        call_id, name = _string(item, "call_id", where), _string(item, "name", where)
        self._open_assistant()["tool_calls"].append(tool_call(call_id, name, arguments))

    def _open_assistant(self) -> Turn:
        """The assistant turn being built: one text part and a call list, until `close`."""
        if self._assistant is None:
            self._assistant = {"role": "assistant", "content": [{"text": ""}], "tool_calls": []}
            self.turns.append(self._assistant)
        if self._thought:
            turn = self._assistant
            turn["reasoning_content"] = turn.get("reasoning_content", "") + self._thought
            self._thought = ""
        return self._assistant

    def _reasoning(self, item: dict[str, Any]) -> None:
        # Thinking precedes what the assistant said or called: it joins the turn that follows.
        self._thought += self.thinking.read(item) or ""

    def _append(self, turn: Turn) -> None:
        self._assistant = None
        self._thought = ""  # thinking with no assistant turn after it has nowhere to go
        self.turns.append(turn)

    def _part(self, part: Any, where: str) -> NativePart:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            return {"text": part["text"]}
        if kind == "input_image" and isinstance(part.get("image_url"), str):
            name = f"{where}.image_url"
            image = media_url(part["image_url"], name, name)
            image_detail(part.get("detail"), f"{where}.detail", self.parameters, self.notes)
            return {"image": image}
        if kind == "input_image":
            raise InvalidRequest(
                f"'{where}': images need an `image_url` (a URL or a data: URL); file ids live "
                "in OpenAI's file store.",
                param=where,
            )
        if kind == "input_audio":
            audio = input_audio(part.get("input_audio"), f"{where}.input_audio", self.notes)
            return {"audio": audio}
        if kind == "input_file":
            return {"audio": _audio_file(part, where)}
        raise InvalidRequest(
            f"'{where}' has type {kind!r}; the proxy takes input_text, input_image, input_audio "
            "and (audio) input_file parts.",
            param=where,
        )


def _audio_file(part: dict[str, Any], where: str) -> str:
    """An `input_file` part holding audio, as the URL of a native audio part: `file_data` as a
    data:audio URL, or as base64 of the format its `filename` names; or a `file_url` whose
    file name or path names an audio format. DashScope's native API takes no other file."""
    data, url, name = part.get("file_data"), part.get("file_url"), part.get("filename")
    extension = _extension(name) or _extension(url)
    if isinstance(data, str) and data.startswith("data:audio/"):
        return data
    if isinstance(data, str) and data and extension in AUDIO_TYPES:
        # A data: URL of another type (octet-stream) keeps its base64, typed by the name.
        base64 = data.partition(",")[2] if data.startswith("data:") else data
        return data_url(base64, extension, f"{where}.filename")
    if isinstance(url, str) and extension in AUDIO_TYPES:
        return media_url(url, f"{where}.file_url", f"{where}.file_url")
    raise InvalidRequest(
        f"'{where}': the proxy takes audio files only (file_data as a data:audio/... URL, or "
        f"a filename or file_url ending in .{', .'.join(AUDIO_TYPES)}); DashScope's native API "
        "reads no other file, and file ids live in OpenAI's file store.",
        param=where,
    )


def _extension(name: Any) -> str | None:
    if not isinstance(name, str) or "." not in name:
        return None
    return name.split("?", 1)[0].rsplit(".", 1)[-1].lower()


def _content_text(content: Any, where: str) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for i, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind == "refusal" and isinstance(part.get("refusal"), str):
                texts.append(part["refusal"])
            elif kind in _TEXT_PARTS and isinstance(part.get("text"), str):
                texts.append(part["text"])
            else:
                raise InvalidRequest(f"'{where}[{i}]' must be a text part.", param=f"{where}[{i}]")
        return "".join(texts)
    raise InvalidRequest(f"'{where}' must be a string or an array of text parts.", param=where)


def _string(item: dict[str, Any], key: str, where: str) -> str:
    value = item.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"'{where}.{key}' is required.", param=f"{where}.{key}")
    return value
