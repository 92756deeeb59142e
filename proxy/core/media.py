"""Audio and image detail, as both client APIs send them, in DashScope's terms (sans-I/O).

OpenAI sends audio as base64 with a format (`input_audio: {"data", "format"}`); DashScope's
multimodal endpoint takes an `{"audio": url}` part whose URL may be a `data:` URL, "data:<MIME
type>;base64,<data>", audio/wav for WAV and audio/mpeg for MP3 (Qwen-ASR API reference). OpenAI
sets an image's `detail` per image; DashScope's `vl_high_resolution_images` is one switch for
the whole request, so any image asking for more than the default turns it on, and the notes
say so (docs/dashscope-protocol.md, "Request body").
"""

from __future__ import annotations

from typing import Any

from proxy.core.errors import InvalidRequest

# Audio formats (OpenAI's `format`, or a file's extension) and the MIME type of their data URL.
AUDIO_TYPES = {
    "wav": "audio/wav",
    "mp3": "audio/mpeg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "opus": "audio/opus",
    "amr": "audio/amr",
}
HIGH_RESOLUTION = "vl_high_resolution_images"
_URL_SCHEMES = ("http://", "https://", "data:", "oss://")
_HIGH = ("high", "original")  # more detail than DashScope's default resolution gives


def input_audio(value: Any, where: str, notes: list[str]) -> str:
    """OpenAI's `input_audio` object (at `where`) as the URL of a native audio part: its base64
    `data` as a data: URL of its `format`, or `data` itself when it already is a URL (as
    DashScope's own compatible-mode samples send it)."""
    data = value.get("data") if isinstance(value, dict) else None
    if not isinstance(data, str) or not data:
        raise InvalidRequest(f"'{where}.data' must be a non-empty string.", param=f"{where}.data")
    notes.extend(f"{where}.{key}: dropped" for key in sorted(value.keys() - {"data", "format"}))
    if data.startswith(_URL_SCHEMES):
        return data
    return data_url(data, value.get("format"), f"{where}.format")


def data_url(data: str, audio_format: Any, param: str) -> str:
    """Base64 audio of `audio_format` (a key of `AUDIO_TYPES`) as a data: URL."""
    if not isinstance(audio_format, str) or audio_format.lower() not in AUDIO_TYPES:
        raise InvalidRequest(
            f"'{param}' must be one of {', '.join(AUDIO_TYPES)} for base64 audio; "
            f"got {audio_format!r}.",
            param=param,
        )
    return f"data:{AUDIO_TYPES[audio_format.lower()]};base64,{data}"


def image_detail(detail: Any, where: str, parameters: dict[str, Any], notes: list[str]) -> None:
    """Apply one image's `detail` (at `where`) to the request's `parameters`: `high` (or
    `original`) turns `vl_high_resolution_images` on unless the request set it itself; `auto`
    (the default) changes nothing; `low`, and anything else, cannot be honoured per image."""
    if detail is None or detail == "auto":
        return
    if detail not in _HIGH:
        notes.append(f"{where}: {detail!r} dropped (DashScope has no per-image detail)")
        return
    current = parameters.get(HIGH_RESOLUTION)
    if current is None:
        parameters[HIGH_RESOLUTION] = True
        notes.append(
            f"{HIGH_RESOLUTION}: true for every image of the request ({where} is {detail!r}; "
            "DashScope sets the resolution per request)"
        )
    elif not current:
        notes.append(
            f"{where}: {detail!r} not applied (the request sets {HIGH_RESOLUTION} to {current!r})"
        )
