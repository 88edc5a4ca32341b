"""Anthropic Messages request checks, and the request in the shape the reply rules read."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from catalyst.local_server.catalog import Model, anthropic_model
from catalyst.local_server.errors import ApiError, forced_error, invalid_request
from catalyst.local_server.protocol import ChatRequest
from catalyst.local_server.replies import prompt_tokens
from catalyst.local_server.settings import ForcedError

ROLES = ("user", "assistant")


def not_found(message: str) -> ApiError:
    return ApiError(404, message, "not_found_error", "model_not_found")


def _system_text(system: Any) -> str | ApiError | None:
    if system is None:
        return None
    if isinstance(system, str):
        return system
    if isinstance(system, list) and all(
        isinstance(block, dict) and isinstance(block.get("text"), str) for block in system
    ):
        return " ".join(block["text"] for block in system)
    return invalid_request("system: Input should be a valid string or a list of text blocks")


def _check_messages(messages: Any) -> ApiError | None:
    if not isinstance(messages, list):
        return invalid_request("messages: Field required")
    if not messages:
        return invalid_request("messages: at least one message is required")
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            return invalid_request(f"messages.{index}: Input should be a valid dictionary")
        if message.get("role") not in ROLES:
            return invalid_request(
                f"messages.{index}.role: Input should be 'user' or 'assistant'"
            )
        content = message.get("content")
        if not isinstance(content, str | list):
            return invalid_request(f"messages.{index}.content: Field required")
    return None


def _check_params(body: dict[str, Any]) -> ApiError | None:
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 1
    ):
        return invalid_request("temperature: Input should be between 0 and 1")
    stops = body.get("stop_sequences")
    if stops is not None and not (
        isinstance(stops, list) and all(isinstance(s, str) for s in stops)
    ):
        return invalid_request("stop_sequences: Input should be a valid list of strings")
    return None


def reply_input(body: dict[str, Any], system: str | None) -> dict[str, Any]:
    """The OpenAI-shaped view replies.py reads: `system` first, limits and stops renamed."""
    messages = list(body["messages"])
    if system is not None:
        messages.insert(0, {"role": "system", "content": system})
    return {
        "model": body["model"],
        "messages": messages,
        "max_completion_tokens": body.get("max_tokens"),
        "stop": body.get("stop_sequences") or [],
        "anthropic_body": body,
    }


def check_request(
    body: Any, *, count_only: bool = False
) -> tuple[dict[str, Any], Model, dict[str, Any]] | ApiError:
    """Shape checks shared by messages and count_tokens: (body, model, reply input)."""
    if not isinstance(body, dict):
        return invalid_request("Request body must be a JSON object.")
    model_id = body.get("model")
    if not isinstance(model_id, str) or not model_id:
        return invalid_request("model: Field required")
    max_tokens = body.get("max_tokens")
    if not count_only and (
        not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1
    ):
        return invalid_request(
            "max_tokens: Field required" if max_tokens is None
            else "max_tokens: Input should be greater than or equal to 1"
        )
    system = _system_text(body.get("system"))
    if isinstance(system, ApiError):
        return system
    problem = _check_messages(body.get("messages")) or _check_params(body)
    if problem is not None:
        return problem
    model = anthropic_model(model_id)
    if model is None:
        return not_found(f"model: {model_id}")
    return body, model, reply_input(body, system)


def validate_messages(
    body: Any, fail_models: Mapping[str, ForcedError]
) -> ChatRequest | ApiError:
    if isinstance(body, dict) and body.get("model") in fail_models:
        # Forced errors win even for invented ids, as on the other protocols.
        return forced_error(*fail_models[body["model"]])
    checked = check_request(body)
    if isinstance(checked, ApiError):
        return checked
    body, model, converted = checked
    max_tokens = body["max_tokens"]
    if max_tokens > model.max_completion_tokens:
        return invalid_request(
            f"max_tokens: {max_tokens} > {model.max_completion_tokens}, which is the maximum "
            f"allowed number of output tokens for {model.id}"
        )
    used = prompt_tokens(converted["messages"])
    if used > model.context_window:
        return invalid_request(
            f"prompt is too long: {used} tokens > {model.context_window} maximum"
        )
    return ChatRequest(body, model.id, body.get("stream") is True, converted)


def input_tokens(converted: dict[str, Any]) -> int:
    return prompt_tokens(converted["messages"])

