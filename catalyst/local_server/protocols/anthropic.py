"""Anthropic's Messages protocol (point the SDK at `http://127.0.0.1:PORT`, no `/v1`).

Paths: `POST /v1/messages` (JSON, or named-event SSE: `message_start`,
`content_block_start`, `ping`, `content_block_delta`…, `content_block_stop`,
`message_delta` with `usage.output_tokens`, `message_stop`),
`POST /v1/messages/count_tokens` (`{"input_tokens": N}`), `GET /v1/models`
(one page, `has_more: false`), `GET /v1/models/{id}`.

Requests need `anthropic-version` and a key in `x-api-key` (or
`Authorization: Bearer`, the SDK's auth_token). Errors are
`{"type": "error", "error": {"type", "message"}, "request_id"}` with the same
id in the `request-id` header; injected 5xx are 500 `api_error` or 529
`overloaded_error`, and a mid-stream error is an `error` event carrying
`overloaded_error`. Rate-limit figures go out as `anthropic-ratelimit-*`.
count_tokens and models are never fault-injected (only messages are).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote

from catalyst.local_server.catalog import ANTHROPIC_MODELS, Model, anthropic_model
from catalyst.local_server.errors import ApiError, invalid_request
from catalyst.local_server.exchange import Exchange
from catalyst.local_server.flows import run_chat
from catalyst.local_server.protocol import (
    ChatRequest,
    ChatWire,
    CompletionIds,
    bearer_key,
    key_accepted,
)
from catalyst.local_server.protocols.anthropic_checks import (
    check_request,
    input_tokens,
    not_found,
    validate_messages,
)
from catalyst.local_server.replies import Completion
from catalyst.local_server.responder import Responder
from catalyst.local_server.settings import ANTHROPIC_MESSAGES_PATH, MockSettings

COUNT_TOKENS_PATH = ANTHROPIC_MESSAGES_PATH + "/count_tokens"
MODELS_PATH = "/v1/models"

# Error `type` by status, as the API documents them.
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}

# x-ratelimit-* (the core's names) to Anthropic's; resets are left out because
# Anthropic sends them as RFC 3339 timestamps, not durations.
RATE_HEADER_NAMES = {
    "x-ratelimit-limit-requests": "anthropic-ratelimit-requests-limit",
    "x-ratelimit-remaining-requests": "anthropic-ratelimit-requests-remaining",
    "x-ratelimit-limit-tokens": "anthropic-ratelimit-tokens-limit",
    "x-ratelimit-remaining-tokens": "anthropic-ratelimit-tokens-remaining",
}

# One fixed date for every model: the server's answers are deterministic.
CREATED_AT = "2026-01-01T00:00:00Z"


def error_type(error: ApiError) -> str:
    if error.type in ERROR_TYPES.values():
        return error.type
    default = "api_error" if error.status >= 500 else "invalid_request_error"
    return ERROR_TYPES.get(error.status, default)


def sse_event(name: str, payload: dict[str, Any]) -> bytes:
    """A named event: the SDK drops events without an `event:` line."""
    data = json.dumps({"type": name, **payload}, separators=(",", ":"))
    return f"event: {name}\ndata: {data}\n\n".encode()


class AnthropicWire(ChatWire):
    name = "anthropic"
    request_id_header = "request-id"
    server_statuses = (500, 529)
    stream_error_status = 529
    completion_prefix = "msg_mock_"

    def key_accepted(self, exchange: Exchange, settings: MockSettings) -> bool:
        # x-api-key from api_key=, or Authorization: Bearer from auth_token=.
        key = exchange.api_key if exchange.api_key is not None else bearer_key(exchange)
        return key_accepted(key, settings)

    def unauthorized(self) -> ApiError:
        return ApiError(401, "invalid x-api-key", "authentication_error")

    def error_body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        return {
            "type": "error",
            "error": {"type": error_type(error), "message": error.message},
            "request_id": request_id,
        }

    def rate_headers(self, headers: dict[str, str]) -> dict[str, str]:
        return {
            RATE_HEADER_NAMES[name]: value
            for name, value in headers.items()
            if name in RATE_HEADER_NAMES
        }

    def handle(self, responder: Responder) -> None:
        exchange = responder.exchange
        method, path = exchange.method, exchange.path
        if "anthropic-version" not in exchange.headers:
            responder.send_error(invalid_request("anthropic-version: header is required"))
        elif method == "POST" and path == ANTHROPIC_MESSAGES_PATH:
            run_chat(responder, self)
        elif method == "POST" and path == COUNT_TOKENS_PATH:
            self._count_tokens(responder)
        elif method == "GET" and path == MODELS_PATH:
            data = [model_body(model) for model in ANTHROPIC_MODELS]
            responder.send_json(200, {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"],
                "last_id": data[-1]["id"],
            })
        elif method == "GET" and path.startswith(MODELS_PATH + "/"):
            model_id = unquote(path[len(MODELS_PATH) + 1 :])
            model = anthropic_model(model_id)
            if model is None:
                responder.send_error(not_found(f"model: {model_id}"))
            else:
                responder.send_json(200, model_body(model))
        else:
            responder.send_error(ApiError(404, "Not Found", "not_found_error"))

    def _count_tokens(self, responder: Responder) -> None:
        checked = check_request(responder.exchange.body, count_only=True)
        if isinstance(checked, ApiError):
            responder.send_error(checked)
        else:
            responder.send_json(200, {"input_tokens": input_tokens(checked[2])})

    # -- messages ----------------------------------------------------------------

    def validate_chat(self, body: Any, settings: MockSettings) -> ChatRequest | ApiError:
        return validate_messages(body, settings.fail_models)

    def reply_body(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> dict[str, Any]:
        return {
            **_message(ids, completion, done=True),
            "content": [{"type": "text", "text": completion.text}],
        }

    def stream_open(
        self, ids: CompletionIds, request: ChatRequest, completion: Completion
    ) -> list[bytes]:
        start = _message(ids, completion, done=False)
        return [
            sse_event("message_start", {"message": start}),
            sse_event(
                "content_block_start",
                {"index": 0, "content_block": {"type": "text", "text": ""}},
            ),
            sse_event("ping", {}),
        ]

    def stream_token(self, ids: CompletionIds, request: ChatRequest, token: str) -> bytes:
        delta = {"type": "text_delta", "text": token}
        return sse_event("content_block_delta", {"index": 0, "delta": delta})

    def stream_close(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> list[bytes]:
        delta = {
            "stop_reason": stop_reason(completion),
            "stop_sequence": completion.stop_sequence,
        }
        usage = {
            "input_tokens": completion.prompt_tokens,
            "output_tokens": completion.completion_tokens,
        }
        return [
            sse_event("content_block_stop", {"index": 0}),
            sse_event("message_delta", {"delta": delta, "usage": usage}),
            sse_event("message_stop", {}),
        ]

    def stream_error(self, error: ApiError) -> bytes:
        inner = {"type": error_type(error), "message": error.message}
        return sse_event("error", {"error": inner})


def stop_reason(completion: Completion) -> str:
    if completion.finish_reason == "length":
        return "max_tokens"
    return "stop_sequence" if completion.stop_sequence is not None else "end_turn"


def _message(ids: CompletionIds, completion: Completion, *, done: bool) -> dict[str, Any]:
    """The Message object; before the first token (`done=False`) as message_start carries it."""
    return {
        "id": ids.completion_id,
        "type": "message",
        "role": "assistant",
        "model": ids.model,
        "content": [],
        "stop_reason": stop_reason(completion) if done else None,
        "stop_sequence": completion.stop_sequence if done else None,
        "usage": {
            "input_tokens": completion.prompt_tokens,
            "output_tokens": completion.completion_tokens if done else 1,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "service_tier": "standard",
        },
    }


def model_body(model: Model) -> dict[str, Any]:
    return {
        "type": "model",
        "id": model.id,
        "display_name": model.display_name or model.id,
        "created_at": CREATED_AT,
    }
