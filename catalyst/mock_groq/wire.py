"""JSON bodies and header values exactly as Groq sends them (see GROQ_FACTS.md)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from catalyst.groq_models import CHAT_MODELS, ChatModel
from catalyst.mock_groq.replies import Completion

# Fixed rather than time.time(): snapshot tests of generated scripts' output
# must not change from one run to the next.
CREATED = 1_770_770_815
SYSTEM_FINGERPRINT = "fp_mock"
ORGANIZATION = "org_mock"
SERVICE_TIER = "on_demand"
RATE_LIMIT_DOCS = (
    "Visit https://console.groq.com/docs/rate-limits for more information."
)

# Prompt processing is far faster than generation on Groq; the exact figure
# only has to be plausible and deterministic.
PROMPT_TOKENS_PER_SECOND = 100_000.0
DEFAULT_TOKENS_PER_SECOND = 1_000.0


@dataclass(frozen=True)
class ApiError:
    """An error response: status, Groq's error object, and any extra headers."""

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"message": self.message, "type": self.type}
        if self.code is not None:
            error["code"] = self.code
        if self.param is not None:
            error["param"] = self.param
        return {"error": error}


def invalid_request(
    message: str, *, code: str | None = None, param: str | None = None
) -> ApiError:
    return ApiError(400, message, "invalid_request_error", code, param)


def invalid_api_key() -> ApiError:
    return ApiError(401, "Invalid API Key", "invalid_request_error", "invalid_api_key")


def model_not_found(model_id: str) -> ApiError:
    return ApiError(
        404,
        f"The model `{model_id}` does not exist or you do not have access to it.",
        "invalid_request_error",
        "model_not_found",
    )


def unknown_url(method: str, path: str) -> ApiError:
    return ApiError(
        404,
        f"Unknown request URL: {method} {path}. Please check the URL for typos, "
        "or see the docs at https://console.groq.com/docs/",
        "invalid_request_error",
        "unknown_url",
    )


_SERVER_ERROR_MESSAGES = {
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


def server_error(status: int) -> ApiError:
    message = _SERVER_ERROR_MESSAGES.get(status, "Internal Server Error")
    return ApiError(status, message, "internal_server_error")


def forced_error(status: int, code: str, message: str) -> ApiError:
    """An error a test forced for one model; the type follows the status class."""
    if status >= 500:
        kind = "internal_server_error"
    elif status == 429:
        kind = "requests"
    else:
        kind = "invalid_request_error"
    return ApiError(status, message, kind, code)


def go_duration(seconds: float) -> str:
    """Groq's duration style for reset headers and messages: `2m59.56s`, `7.66s`, `480ms`."""
    millis = max(0, math.ceil(round(seconds * 1000, 6)))
    if millis == 0:
        return "0s"
    if millis < 1000:
        return f"{millis}ms"
    centis = math.ceil(round(seconds * 100, 6))
    minutes, centis = divmod(centis, 6000)
    hours, minutes = divmod(minutes, 60)
    secs = f"{centis / 100:.2f}".rstrip("0").rstrip(".")
    prefix = (f"{hours}h" if hours else "") + (
        f"{minutes}m" if hours or minutes else ""
    )
    return f"{prefix}{secs}s"


def usage_body(
    completion: Completion, *, queue_s: float, tokens_per_second: float
) -> dict[str, Any]:
    prompt_time = round(completion.prompt_tokens / PROMPT_TOKENS_PER_SECOND, 6)
    completion_time = round(completion.completion_tokens / tokens_per_second, 6)
    return {
        "queue_time": round(queue_s, 6),
        "prompt_tokens": completion.prompt_tokens,
        "prompt_time": prompt_time,
        "completion_tokens": completion.completion_tokens,
        "completion_time": completion_time,
        "total_tokens": completion.total_tokens,
        "total_time": round(prompt_time + completion_time, 6),
    }


@dataclass(frozen=True)
class CompletionIds:
    """The ids one completion carries: `chatcmpl-<n>` and the request id (`req_mock_<n>`)."""

    completion_id: str
    request_id: str
    model: str


def completion_body(
    ids: CompletionIds, completion: Completion, usage: dict[str, Any]
) -> dict[str, Any]:
    return {
        "id": ids.completion_id,
        "object": "chat.completion",
        "created": CREATED,
        "model": ids.model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": completion.text},
                "logprobs": None,
                "finish_reason": completion.finish_reason,
            }
        ],
        "usage": usage,
        "system_fingerprint": SYSTEM_FINGERPRINT,
        "x_groq": {"id": ids.request_id},
        "service_tier": SERVICE_TIER,
    }


def _chunk(
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


def first_chunk(ids: CompletionIds) -> dict[str, Any]:
    chunk = _chunk(ids, {"role": "assistant", "content": ""}, None)
    chunk["x_groq"] = {"id": ids.request_id}
    return chunk


def content_chunk(ids: CompletionIds, token: str) -> dict[str, Any]:
    return _chunk(ids, {"content": token}, None)


def final_chunk(
    ids: CompletionIds, finish_reason: str, usage: dict[str, Any]
) -> dict[str, Any]:
    chunk = _chunk(ids, {}, finish_reason)
    chunk["x_groq"] = {"id": ids.request_id, "usage": usage}
    chunk["usage"] = usage
    return chunk


def sse_data(payload: dict[str, Any] | str) -> bytes:
    data = (
        payload
        if isinstance(payload, str)
        else json.dumps(payload, separators=(",", ":"))
    )
    return f"data: {data}\n\n".encode()


def sse_error(error: ApiError) -> bytes:
    data = json.dumps(error.body(), separators=(",", ":"))
    return f"event: error\ndata: {data}\n\n".encode()


def model_body(model: ChatModel) -> dict[str, Any]:
    return {
        "id": model.id,
        "object": "model",
        "created": CREATED,
        "owned_by": model.owned_by,
        "active": True,
        "context_window": model.context_window,
        "max_completion_tokens": model.max_completion_tokens,
    }


def models_list_body() -> dict[str, Any]:
    return {"object": "list", "data": [model_body(m) for m in CHAT_MODELS]}
