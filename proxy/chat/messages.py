"""OpenAI chat messages -> native turns (sans-I/O).

A turn is a native message whose content is still a list of parts (`{"text"}`, `{"image"}`,
`{"video"}`, `{"audio"}`); `proxy/core/native_request.py` gives it the form its endpoint takes.
An image's `detail` may set a request parameter (`proxy/core/media.py`). Changes are reported
in `notes`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from proxy.core.errors import InvalidRequest
from proxy.core.json_types import json_type
from proxy.core.media import image_detail, input_audio
from proxy.core.native_request import NativePart, NativeRole, NativeToolCall, Turn, media_url
from proxy.core.native_request import tool_call as native_tool_call

ROLES: dict[str, NativeRole] = {
    "system": "system",
    "developer": "system",  # DashScope has no developer role: reported
    "user": "user",
    "assistant": "assistant",
    "tool": "tool",
}
_KEPT_KEYS = frozenset({"role", "content", "tool_calls", "tool_call_id", "cache_control"})
_MEDIA_KEYS = {"image_url": "image", "video_url": "video"}


def chat_turns(
    messages: list[Any],
    *,
    preserve_thinking: bool,
    notes: list[str],
    parameters: dict[str, Any] | None = None,
) -> list[Turn]:
    """The messages as turns. `parameters` are the request's native parameters, which an
    image's `detail` may set (a scratch dict when the caller only wants the turns)."""
    media = _Media(notes, {} if parameters is None else parameters)
    return [
        _turn(m, f"messages[{i}]", preserve_thinking=preserve_thinking, media=media)
        for i, m in enumerate(messages)
    ]


@dataclass(slots=True)
class _Media:
    """Where a part's translation reports: the notes, and the request's parameters."""

    notes: list[str]
    parameters: dict[str, Any]


def _turn(message: Any, where: str, *, preserve_thinking: bool, media: _Media) -> Turn:
    if not isinstance(message, dict):
        raise InvalidRequest(f"'{where}' must be an object.", param=where)
    notes = media.notes
    role = _role(message.get("role"), where, notes)
    parts = _parts(message, role, where, media)
    texts = [j for j, part in enumerate(parts) if "text" in part]
    if message.get("cache_control") is not None and texts:
        # Clients (Open WebUI) mark a whole message; DashScope marks a text part.
        parts[texts[-1]] = {**parts[texts[-1]], "cache_control": message["cache_control"]}
    turn: Turn = {"role": role, "content": parts}
    if role == "assistant" and message.get("tool_calls") is not None:
        turn["tool_calls"] = _tool_calls(message["tool_calls"], where)
    if role == "tool":
        turn["tool_call_id"] = _tool_call_id(message, where)
        if isinstance(message.get("name"), str):
            turn["name"] = message["name"]
    reasoning = message.get("reasoning_content")
    if role == "assistant" and isinstance(reasoning, str) and reasoning:
        if preserve_thinking:
            turn["reasoning_content"] = reasoning
        else:
            notes.append(f"{where}.reasoning_content: dropped (send preserve_thinking to keep it)")
    ignored = message.keys() - _KEPT_KEYS - {"reasoning_content"}
    if role == "tool":
        ignored -= {"name"}
    notes.extend(f"{where}.{key}: dropped" for key in sorted(ignored))
    return turn


def _role(role: Any, where: str, notes: list[str]) -> NativeRole:
    if not isinstance(role, str) or role not in ROLES:  # (a dict is not even hashable)
        raise InvalidRequest(
            f"'{where}.role' must be one of {', '.join(sorted(ROLES))}; got {role!r}.",
            param=f"{where}.role",
        )
    if role == "developer":
        notes.append(f"{where}.role: developer sent as system")
    return ROLES[role]


def _parts(message: dict[str, Any], role: str, where: str, media: _Media) -> list[NativePart]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"text": content}]
    if content is None and role == "assistant":
        return []
    if isinstance(content, list):
        return [_part(part, f"{where}.content[{j}]", media) for j, part in enumerate(content)]
    raise InvalidRequest(
        f"'{where}.content' must be a string or an array of content parts, "
        f"got {json_type(content)}.",
        param=f"{where}.content",
    )


def _part(part: Any, where: str, media: _Media) -> NativePart:
    kind = part.get("type") if isinstance(part, dict) else None
    if kind == "text" and isinstance(part.get("text"), str):
        out: NativePart = {"text": part["text"]}
        if part.get("cache_control") is not None:
            out["cache_control"] = part["cache_control"]
        return out
    if isinstance(kind, str) and kind in _MEDIA_KEYS:
        return _media_part(kind, part.get(kind), f"{where}.{kind}", media)
    if kind == "input_audio":
        return {"audio": input_audio(part.get("input_audio"), f"{where}.input_audio", media.notes)}
    if kind == "video" and isinstance(part.get("video"), list | str):
        return {"video": part["video"]}  # DashScope's own form: a URL or a list of frame URLs
    raise InvalidRequest(
        f"'{where}' must be a text, image_url, video_url or input_audio part; parts of type "
        f"{kind!r} are not supported.",
        param=where,
    )


def _media_part(kind: str, value: Any, where: str, media: _Media) -> NativePart:
    url = media_url(value.get("url") if isinstance(value, dict) else None, f"{where}.url", where)
    kept = {"url"}
    if kind == "image_url":
        kept.add("detail")
        image_detail(value.get("detail"), f"{where}.detail", media.parameters, media.notes)
    media.notes.extend(f"{where}.{key}: dropped" for key in sorted(value.keys() - kept))
    return {"image": url} if kind == "image_url" else {"video": url}


def _tool_call_id(message: dict[str, Any], where: str) -> str:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        raise InvalidRequest(
            f"'{where}.tool_call_id' is required for tool messages.", param=f"{where}.tool_call_id"
        )
    return call_id


def _tool_calls(calls: Any, where: str) -> list[NativeToolCall]:
    if not isinstance(calls, list):
        raise InvalidRequest(f"'{where}.tool_calls' must be an array.", param=f"{where}.tool_calls")
    out = []
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise InvalidRequest(
                f"'{where}.tool_calls[{j}]' must have a function with a name.",
                param=f"{where}.tool_calls[{j}]",
            )
        out.append(native_tool_call(call.get("id"), function["name"], function.get("arguments")))
    return out
