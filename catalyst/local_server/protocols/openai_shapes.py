"""Wire pieces Groq and OpenAI share: data-only SSE, chunk objects, `{"error": …}` bodies."""

from __future__ import annotations

import json
from typing import Any

from catalyst.local_server.errors import ApiError
from catalyst.local_server.protocol import CompletionIds
from catalyst.local_server.replies import Completion

# Fixed rather than time.time(): snapshot tests of generated scripts' output
# must not change from one run to the next.
CREATED = 1_770_770_815
SYSTEM_FINGERPRINT = "fp_mock"


def error_body(error: ApiError, *, always_code_and_param: bool = False) -> dict[str, Any]:
    """`{"error": {message, type, code, param}}`.

    Groq leaves out an empty code or param; OpenAI sends them as null.
    """
    inner: dict[str, Any] = {"message": error.message, "type": error.type}
    if always_code_and_param or error.code is not None:
        inner["code"] = error.code
    if always_code_and_param or error.param is not None:
        inner["param"] = error.param
    return {"error": inner}


def unknown_url(method: str, path: str, docs: str) -> ApiError:
    return ApiError(
        404,
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        f"or see the docs at {docs}",
        "invalid_request_error",
        "unknown_url",
    )


def chunk(
    ids: CompletionIds, delta: dict[str, Any], finish_reason: str | None
) -> dict[str, Any]:
    return {
        "id": ids.completion_id,
        "object": "chat.completion.chunk",
        "created": CREATED,
        "model": ids.model,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "choices": [
            {
                "index": 0,
                "delta": delta,
                "logprobs": None,
                "finish_reason": finish_reason,
            }
        ],
    }


def sse_data(payload: dict[str, Any] | str) -> bytes:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, separators=(",", ":"))
    )
    return f"data: {data}\n\n".encode()


def sse_error(body: dict[str, Any]) -> bytes:
    """`event: error` + `{"error": …}`: both SDKs raise their APIError on the `error` key."""
    data = json.dumps(body, separators=(",", ":"))
    return f"event: error\ndata: {data}\n\n".encode()


def assistant_message(completion: Completion, **extra: Any) -> dict[str, Any]:
    """The reply's message: text, or tool calls (content null), and reasoning."""
    message: dict[str, Any] = {"role": "assistant",
                               "content": None if completion.tool_calls else completion.text,
                               **extra}
    if completion.tool_calls:
        message["tool_calls"] = [dict(call) for call in completion.tool_calls]
    if completion.reasoning is not None:
        message["reasoning"] = completion.reasoning
    return message


def tool_call_deltas(completion: Completion) -> list[dict[str, Any]]:
    """Streamed tool calls as the APIs send them: each call's id and name with
    empty arguments first, then its arguments in fragments, by index."""
    deltas: list[dict[str, Any]] = []
    for index, call in enumerate(completion.tool_calls):
        function = call["function"]
        deltas.append({"tool_calls": [{"index": index, "id": call["id"], "type": "function",
                                       "function": {"name": function["name"],
                                                    "arguments": ""}}]})
        arguments = function["arguments"]
        middle = len(arguments) // 2
        for piece in (arguments[:middle], arguments[middle:]):
            if piece:
                deltas.append({"tool_calls": [{"index": index,
                                               "function": {"arguments": piece}}]})
    return deltas
