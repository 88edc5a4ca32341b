"""Chat-completion request checks Groq performs before it generates anything."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from catalyst.groq_models import ChatModel, chat_model, retired_model
from catalyst.mock_groq.replies import completion_limit, prompt_tokens
from catalyst.mock_groq.settings import ForcedError
from catalyst.mock_groq.wire import (
    ApiError,
    forced_error,
    invalid_request,
    model_not_found,
)

_ROLES = frozenset({"system", "developer", "user", "assistant", "tool"})
_UNSUPPORTED_PARAMS = ("logprobs", "top_logprobs", "logit_bias")
_MAX_STOP_SEQUENCES = 4


@dataclass(frozen=True)
class ChatRequest:
    """A chat request that passed validation."""

    body: dict[str, Any]
    model: ChatModel
    model_id: str
    stream: bool


def validate_chat(
    body: Any, fail_models: Mapping[str, ForcedError]
) -> ChatRequest | ApiError:
    """The first problem Groq would report, or the accepted request.

    A model listed in `fail_models` gets its forced error even if it is unknown,
    so fallback tests can invent model ids.
    """
    if not isinstance(body, dict):
        return invalid_request("Request body must be a JSON object.")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return invalid_request("'model' : property 'model' is missing", param="model")
    messages = body.get("messages")
    if messages is None:
        return invalid_request(
            "'messages' : property 'messages' is missing", param="messages"
        )
    if not isinstance(messages, list) or not messages:
        return invalid_request(
            "'messages' : minimum number of items is 1", param="messages"
        )
    problem = _check_messages(messages) or _check_params(body)
    if problem is not None:
        return problem
    if model_id in fail_models:
        return forced_error(*fail_models[model_id])
    retired = retired_model(model_id)
    if retired is not None:
        return invalid_request(
            f"The model `{model_id}` has been decommissioned and is no longer supported. "
            f"Use `{retired.replacement}` instead; see "
            "https://console.groq.com/docs/deprecations.",
            code="model_decommissioned",
        )
    model = chat_model(model_id)
    if model is None:
        return model_not_found(model_id)
    problem = _check_sizes(body, messages, model)
    if problem is not None:
        return problem
    return ChatRequest(body, model, model_id, body.get("stream") is True)


def _check_messages(messages: list[Any]) -> ApiError | None:
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            return invalid_request(
                f"'{where}' : value must be an object", param="messages"
            )
        role = message.get("role")
        if role not in _ROLES:
            return invalid_request(
                f"'{where}' : discriminator property 'role' has invalid value {role!r}; "
                f"expected one of {', '.join(sorted(_ROLES))}",
                param="messages",
            )
        if "name" in message:
            return invalid_request(
                f"'{where}.name' : property 'name' is unsupported", param="messages"
            )
        content = message.get("content")
        if content is None and not (role == "assistant" and message.get("tool_calls")):
            return invalid_request(
                f"'{where}' : property 'content' is missing", param="messages"
            )
    return None


def _check_params(body: dict[str, Any]) -> ApiError | None:
    for name in _UNSUPPORTED_PARAMS:
        # `logprobs: false` asks for nothing, so only a real request is refused.
        if body.get(name) not in (None, False):
            return invalid_request(f"`{name}` is not supported", param=name)
    n = body.get("n")
    if n is not None and n != 1:
        return invalid_request("'n' : number must be at most 1", param="n")
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        return invalid_request(
            "'temperature' : number must be between 0 and 2", param="temperature"
        )
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > _MAX_STOP_SEQUENCES:
        return invalid_request("'stop' : maximum number of items is 4", param="stop")
    return None


def _check_sizes(
    body: dict[str, Any], messages: list[Any], model: ChatModel
) -> ApiError | None:
    limit = completion_limit(body)
    if limit is not None and limit < 1:
        return invalid_request(
            "`max_completion_tokens` must be at least 1", param="max_completion_tokens"
        )
    if limit is not None and limit > model.max_completion_tokens:
        return invalid_request(
            f"`max_completion_tokens` must be less than or equal to "
            f"`{model.max_completion_tokens}`, the maximum value for "
            f"`max_completion_tokens` for model `{model.id}`",
            param="max_completion_tokens",
        )
    used = prompt_tokens(messages)
    if used > model.context_window:
        return invalid_request(
            "Please reduce the length of the messages or completion. "
            f"The prompt has {used} tokens; the context window of `{model.id}` "
            f"is {model.context_window} tokens.",
            code="context_length_exceeded",
            param="messages",
        )
    return None
