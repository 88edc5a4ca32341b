"""OpenAI's protocol under `/v1` (point the SDK at `http://127.0.0.1:PORT/v1`).

Paths: `POST /v1/chat/completions` (JSON, or data-only SSE ending
`data: [DONE]`; with `stream_options.include_usage` every chunk carries
`"usage": null` and one last chunk has `"choices": []` and the usage),
`POST /v1/embeddings` (see openai_embeddings.py), `GET /v1/models`,
`GET /v1/models/{id}`. Errors are `{"error": {"message", "type", "param",
"code"}}`; `x-ratelimit-*` and `x-request-id` headers on every answer.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from catalyst.local_server.catalog import (
    OPENAI_CHAT_MODELS,
    OPENAI_EMBEDDING_MODELS,
    OPENAI_RETIRED,
    Model,
    openai_chat_model,
    openai_embedding_model,
)
from catalyst.local_server.errors import ApiError, invalid_api_key, model_not_found
from catalyst.local_server.flows import run_chat, run_embeddings
from catalyst.local_server.protocol import (
    ChatRequest,
    ChatWire,
    CompletionIds,
    EmbeddingRequest,
    EmbeddingWire,
)
from catalyst.local_server.protocols.chat_checks import ChatRules, check_chat
from catalyst.local_server.protocols.openai_embeddings import (
    check_embeddings,
    embeddings_body,
)
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
    COMPATIBLE_PREFIX,
    OPENAI_CHAT_PATH,
    OPENAI_EMBEDDINGS_PATH,
    MockSettings,
)

MODELS_PATH = "/v1/models"
SERVICE_TIER = "default"

RULES = ChatRules(
    roles=frozenset({"system", "developer", "user", "assistant", "tool", "function"}),
    unsupported_params=(),
    name_supported=True,
)


def _retired(model_id: str) -> ApiError | None:
    if model_id not in OPENAI_RETIRED:
        return None
    # OpenAI answers retired ids with a 404 that says so.
    return ApiError(
        404,
        f"The model `{model_id}` has been deprecated, learn more here: "
        "https://platform.openai.com/docs/deprecations",
        "invalid_request_error",
        "model_not_found",
    )


class OpenAIWire(ChatWire, EmbeddingWire):
    name = "openai"

    def unauthorized(self) -> ApiError:
        return invalid_api_key(
            "Incorrect API key provided. You can find your API key at "
            "https://platform.openai.com/account/api-keys."
        )

    def error_body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        return error_body(error, always_code_and_param=True)

    # Where its paths start, and which chat models it knows.
    prefix = ""

    def find_chat_model(self, model_id: str) -> Model | None:
        return openai_chat_model(model_id)

    def handle(self, responder: Responder) -> None:
        method, path = responder.exchange.method, responder.exchange.path
        path = path.removeprefix(self.prefix)
        if method == "POST" and path == OPENAI_CHAT_PATH:
            run_chat(responder, self)
        elif method == "POST" and path == OPENAI_EMBEDDINGS_PATH:
            run_embeddings(responder, self)
        elif method == "GET" and path == MODELS_PATH:
            responder.send_json(200, models_list_body())
        elif method == "GET" and path.startswith(MODELS_PATH + "/"):
            model_id = unquote(path[len(MODELS_PATH) + 1 :])
            if openai_chat_model(model_id) or openai_embedding_model(model_id):
                responder.send_json(200, model_body(model_id))
            else:
                responder.send_error(model_not_found(model_id))
        else:
            responder.send_error(
                unknown_url(method, path, "https://platform.openai.com/docs/api-reference")
            )

    # -- chat --------------------------------------------------------------------

    def validate_chat(self, body: Any, settings: MockSettings) -> ChatRequest | ApiError:
        checked = check_chat(body, settings.fail_models, RULES, self.find_chat_model, _retired)
        if isinstance(checked, ApiError):
            return checked
        body = checked.body
        return ChatRequest(body, checked.model.id, body.get("stream") is True, body)

    def reply_body(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> dict[str, Any]:
        message = assistant_message(completion, refusal=None, annotations=[])
        return {
            "id": ids.completion_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": ids.model,
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": None,
                    "finish_reason": completion.finish_reason,
                }
            ],
            "usage": usage_body(completion),
            "service_tier": SERVICE_TIER,
            "system_fingerprint": SYSTEM_FINGERPRINT,
        }

    def stream_open(
        self, ids: CompletionIds, request: ChatRequest, completion: Completion
    ) -> list[bytes]:
        delta = {"role": "assistant", "content": "", "refusal": None}
        return [sse_data(_chunk(ids, request, delta, None))]

    def stream_token(self, ids: CompletionIds, request: ChatRequest, token: str) -> bytes:
        return sse_data(_chunk(ids, request, {"content": token}, None))

    def stream_close(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> list[bytes]:
        events = [sse_data(_chunk(ids, request, delta, None))
                  for delta in tool_call_deltas(completion)]
        events.append(sse_data(_chunk(ids, request, {}, completion.finish_reason)))
        if _include_usage(request):
            last = chunk(ids, {}, None)
            last["choices"] = []
            last["usage"] = usage_body(completion)
            events.append(sse_data(last))
        events.append(sse_data("[DONE]"))
        return events

    def stream_error(self, error: ApiError) -> bytes:
        return sse_error(error_body(error, always_code_and_param=True))

    # -- embeddings --------------------------------------------------------------

    def validate_embeddings(self, body: Any) -> EmbeddingRequest | ApiError:
        return check_embeddings(body)

    def embeddings_body(
        self, request: EmbeddingRequest, vectors: list[list[float]]
    ) -> dict[str, Any]:
        return embeddings_body(request, vectors)


class CompatibleWire(OpenAIWire):
    """An OpenAI-compatible host (Together, Fireworks, OpenRouter, DeepInfra,
    Ollama, vLLM) under `/compatible/v1`: OpenAI's wire, any model id."""

    name = "compatible"
    prefix = COMPATIBLE_PREFIX

    def find_chat_model(self, model_id: str) -> Model | None:
        return openai_chat_model(model_id) or Model(
            "compatible", model_id, 131_072, 32_768, None, None, None, None, "host"
        )


def _include_usage(request: ChatRequest) -> bool:
    options = request.body.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _chunk(
    ids: CompletionIds,
    request: ChatRequest,
    delta: dict[str, Any],
    finish_reason: str | None,
) -> dict[str, Any]:
    body = chunk(ids, delta, finish_reason)
    body["service_tier"] = SERVICE_TIER
    if _include_usage(request):
        # OpenAI marks every chunk before the usage chunk with an explicit null.
        body["usage"] = None
    return body


def usage_body(completion: Completion) -> dict[str, Any]:
    return {
        "prompt_tokens": completion.prompt_tokens,
        "completion_tokens": completion.completion_tokens,
        "total_tokens": completion.total_tokens,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 0},
    }


def model_body(model_id: str) -> dict[str, Any]:
    return {"id": model_id, "object": "model", "created": CREATED, "owned_by": "system"}


def models_list_body() -> dict[str, Any]:
    ids = [m.id for m in OPENAI_CHAT_MODELS] + [m.id for m in OPENAI_EMBEDDING_MODELS]
    return {"object": "list", "data": [model_body(model_id) for model_id in ids]}
