"""What DashScope refuses before it generates anything, as the simulator answers it.

The model knowledge comes from the proxy's model table (`proxy/core/model_table.py`): which
endpoint serves a model, whether it thinks and by default, whether it has the code
interpreter. The wording and shape of each answer follow docs/dashscope-protocol.md, "What the
simulator refuses": a request the gateway validates on a streaming call is an HTTP 200 whose
first and only event is an `event:error` frame with `:HTTP_STATUS/400`, as the recorded
exchanges show; a bad key is a 401 JSON body. Pure: the app only writes the answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from proxy.core.model_table import MODEL_TABLE
from proxy.core.models import ModelFamily, ModelTable
from proxy.simulator.request_view import parameters

# The gateway's own words, as users have reported them (with a full-width exclamation mark).
URL_ERROR = (
    "url error, please check url\uff01 For details, see: "
    "https://help.aliyun.com/zh/model-studio/error-code#error-url"
)
FORCED_TOOL_CHOICE = (
    "<400> InternalError.Algo.InvalidParameter: The tool_choice parameter does not support "
    "being set to required or object in thinking mode"
)
JSON_MODE = "Json mode response is not supported when enable_thinking is true"
THINKING_ONLY = "The value of the enable_thinking parameter is restricted to True."
# The vendor says these are errors without publishing their words; these are the simulator's.
INTERPRETER_WITH_TOOLS = (
    "Code interpreter and function calling are mutually exclusive and cannot be enabled "
    "simultaneously."
)
INTERPRETER_NEEDS_THINKING = "The code interpreter only supports thinking mode."
NO_INTERPRETER = "The code interpreter is not supported by model '{model}'."

_REFUSAL_REQUEST_ID = "b8c9d0e1-f2a3-4b4c-8d5e-7f8a9b0c1d2e"


@dataclass(frozen=True, slots=True)
class Refusal:
    code: str
    message: str
    request_id: str = _REFUSAL_REQUEST_ID


def family(body: Mapping[str, Any], table: ModelTable = MODEL_TABLE) -> ModelFamily:
    model = body.get("model")
    return table.family_of(model if isinstance(model, str) else "")


def thinks(body: Mapping[str, Any], table: ModelTable = MODEL_TABLE) -> bool:
    """Whether the request runs in thinking mode: what it says if the family lets it choose,
    else what the family always does."""
    known = family(body, table)
    asked = parameters(body).get("enable_thinking")
    if known.thinking == "always":
        return True
    if known.thinking == "never":
        return False
    return asked if isinstance(asked, bool) else known.thinking_default


def _endpoint(body: Mapping[str, Any], multimodal: bool, table: ModelTable) -> Refusal | None:
    endpoint = family(body, table).endpoint
    if endpoint == "compatible-only" or (endpoint == "multimodal" and not multimodal):
        return Refusal("InvalidParameter", URL_ERROR)
    return None


def _interpreter(body: Mapping[str, Any], table: ModelTable) -> Refusal | None:
    params = parameters(body)
    if params.get("enable_code_interpreter") is not True:
        return None
    known = family(body, table)
    if params.get("tools"):
        return Refusal("InvalidParameter", INTERPRETER_WITH_TOOLS)
    # A name the table does not know is let through: the simulator serves made-up models.
    if known is not table.default and not known.code_interpreter:
        return Refusal("InvalidParameter", NO_INTERPRETER.format(model=body.get("model")))
    if not thinks(body, table):
        return Refusal("InvalidParameter", INTERPRETER_NEEDS_THINKING)
    return None


def _thinking(body: Mapping[str, Any], table: ModelTable) -> Refusal | None:
    params = parameters(body)
    if family(body, table).thinking == "always" and params.get("enable_thinking") is False:
        return Refusal("InvalidParameter", THINKING_ONLY)
    if not thinks(body, table):
        return None
    choice = params.get("tool_choice")
    if choice == "required" or isinstance(choice, dict):
        return Refusal("InvalidParameter", FORCED_TOOL_CHOICE)
    response_format = params.get("response_format")
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("json_object", "json_schema"):
        return Refusal("InvalidParameter", JSON_MODE)
    return None


def refusal(
    body: Mapping[str, Any], *, multimodal: bool, table: ModelTable = MODEL_TABLE
) -> Refusal | None:
    """Why DashScope would refuse this request on this endpoint, or None if it would not."""
    return _endpoint(body, multimodal, table) or _thinking(body, table) or _interpreter(body, table)
