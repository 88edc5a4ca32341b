"""Groq's OpenAI-compatible protocol under `/openai/v1` (see GROQ_FACTS.md).

Paths: `POST /openai/v1/chat/completions` (JSON or data-only SSE ending
`data: [DONE]`, usage in `x_groq` and top-level `usage` on the last chunk),
`GET /openai/v1/models`, `GET /openai/v1/models/{id}`, and the audio
endpoints (`/openai/v1/audio/transcriptions`, `/translations`, `/speech`:
protocols/groq_audio.py). Errors are
`{"error": {"message", "type", "code"?, "param"?}}`; `x-ratelimit-*` and
`x-request-id` headers on every answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from catalyst.groq_models import CHAT_MODELS, ChatModel, chat_model, retired_model
from catalyst.local_server.errors import ApiError, invalid_request, model_not_found
from catalyst.local_server.flows import run_chat
from catalyst.local_server.protocol import ChatRequest, ChatWire, CompletionIds
from catalyst.local_server.protocols.chat_checks import ChatRules, check_chat
from catalyst.local_server.protocols.groq_audio import run_speech, run_transcription
from catalyst.local_server.protocols.openai_shapes import (
    CREATED,
    SYSTEM_FINGERPRINT,
    assistant_message,
    chunk,
    error_body,
    sse_data,
    sse_error,
    tool_call_deltas,
    unknown_url,
)
from catalyst.local_server.replies import Completion
from catalyst.local_server.responder import Responder
from catalyst.local_server.settings import (
    CHAT_PATH,
    MODELS_PATH,
    SPEECH_PATH,
    TRANSCRIPTIONS_PATH,
    TRANSLATIONS_PATH,
    MockSettings,
)

SERVICE_TIER = "on_demand"
# Prompt processing is far faster than generation on Groq; the exact figure
# only has to be plausible and deterministic.
PROMPT_TOKENS_PER_SECOND = 100_000.0
DEFAULT_TOKENS_PER_SECOND = 1_000.0

RULES = ChatRules(
    roles=frozenset({"system", "developer", "user", "assistant", "tool"}),
    unsupported_params=("logprobs", "top_logprobs", "logit_bias"),
    name_supported=False,
)


def _retired(model_id: str) -> ApiError | None:
    retired = retired_model(model_id)
    if retired is None:
        return None
    return invalid_request(
        f"The model `{model_id}` has been decommissioned and is no longer supported. "
        f"Use `{retired.replacement}` instead; see "
        "https://console.groq.com/docs/deprecations.",
        code="model_decommissioned",
    )


class GroqWire(ChatWire):
    name = "groq"

    def error_body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        return error_body(error)

    def handle(self, responder: Responder) -> None:
        method, path = responder.exchange.method, responder.exchange.path
        if method == "POST" and path == CHAT_PATH:
            run_chat(responder, self)
        elif method == "POST" and path in (TRANSCRIPTIONS_PATH, TRANSLATIONS_PATH):
            run_transcription(responder, translate=path == TRANSLATIONS_PATH)
        elif method == "POST" and path == SPEECH_PATH:
            run_speech(responder)
        elif method == "GET" and path == MODELS_PATH:
            responder.send_json(200, models_list_body())
        elif method == "GET" and path.startswith(MODELS_PATH + "/"):
            model_id = unquote(path[len(MODELS_PATH) + 1 :])
            model = chat_model(model_id)
            if model is None:
                responder.send_error(model_not_found(model_id))
            else:
                responder.send_json(200, model_body(model))
        else:
            responder.send_error(
                unknown_url(method, path, "https://console.groq.com/docs/")
            )

    def validate_chat(self, body: Any, settings: MockSettings) -> ChatRequest | ApiError:
        checked = check_chat(body, settings.fail_models, RULES, chat_model, _retired)
        if isinstance(checked, ApiError):
            return checked
        model = checked.model
        assert isinstance(model, ChatModel)
        return ChatRequest(
            checked.body,
            model.id,
            checked.body.get("stream") is True,
            checked.body,
            model.tokens_per_second,
        )

    def reply_body(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> dict[str, Any]:
        return {
            "id": ids.completion_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": ids.model,
            "choices": [
                {
                    "index": 0,
                    "message": assistant_message(completion),
                    "logprobs": None,
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": _usage(request, completion, settings),
            "system_fingerprint": SYSTEM_FINGERPRINT,
            "x_groq": {"id": ids.request_id},
            "service_tier": SERVICE_TIER,
        }

    def stream_open(
        self, ids: CompletionIds, request: ChatRequest, completion: Completion
    ) -> list[bytes]:
        first = chunk(ids, {"role": "assistant", "content": ""}, None)
        first["x_groq"] = {"id": ids.request_id}
        events = [sse_data(first)]
        if completion.reasoning is not None:
            events.append(sse_data(chunk(ids, {"reasoning": completion.reasoning}, None)))
        return events

    def stream_token(self, ids: CompletionIds, request: ChatRequest, token: str) -> bytes:
        return sse_data(chunk(ids, {"content": token}, None))

    def stream_close(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> list[bytes]:
        usage = _usage(request, completion, settings)
        calls = [sse_data(chunk(ids, delta, None)) for delta in tool_call_deltas(completion)]
        last = chunk(ids, {}, completion.finish_reason)
        last["x_groq"] = {"id": ids.request_id, "usage": usage}
        last["usage"] = usage
        return [*calls, sse_data(last), sse_data("[DONE]")]

    def stream_error(self, error: ApiError) -> bytes:
        return sse_error(error_body(error))


def _usage(
    request: ChatRequest, completion: Completion, settings: MockSettings
) -> dict[str, Any]:
    rate = (
        settings.tokens_per_second
        or request.tokens_per_second
        or DEFAULT_TOKENS_PER_SECOND
    )
    return usage_body(completion, queue_s=settings.latency_ms / 1000, tokens_per_second=rate)


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
