"""Chat-completion request checks for the OpenAI-shaped protocols (Groq and OpenAI).

The two differ only in what they accept (Groq refuses `logprobs`, `n` > 1 and
`messages[].name`), so one set of checks takes the differences as `ChatRules`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from catalyst.local_server.errors import ApiError, forced_error, invalid_request, model_not_found
from catalyst.local_server.replies import completion_limit, prompt_tokens
from catalyst.local_server.settings import ForcedError


class ModelLimits(Protocol):
    """What the checks need to know about a model."""

    @property
    def id(self) -> str: ...

    @property
    def context_window(self) -> int: ...

    @property
    def max_completion_tokens(self) -> int: ...


@dataclass(frozen=True)
class ChatRules:
    roles: frozenset[str]
    unsupported_params: tuple[str, ...]
    name_supported: bool
    # What the local server can produce: one choice only, for either protocol.
    max_n: int = 1
    max_stop_sequences: int = 4


@dataclass(frozen=True)
class CheckedChat:
    body: dict[str, Any]
    model: ModelLimits


def check_chat(
    body: Any,
    fail_models: Mapping[str, ForcedError],
    rules: ChatRules,
    find_model: Callable[[str], ModelLimits | None],
    retired: Callable[[str], ApiError | None],
) -> CheckedChat | ApiError:
    """The first problem the provider would report, or the accepted request.

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
    problem = _check_messages(messages, rules) or _check_params(body, rules)
    if problem is not None:
        return problem
    if model_id in fail_models:
        return forced_error(*fail_models[model_id])
    gone = retired(model_id)
    if gone is not None:
        return gone
    model = find_model(model_id)
    if model is None:
        return model_not_found(model_id)
    problem = _check_sizes(body, messages, model)
    if problem is not None:
        return problem
    return CheckedChat(body, model)


def _check_messages(messages: list[Any], rules: ChatRules) -> ApiError | None:
    for index, message in enumerate(messages):
        where = f"messages.{index}"
        if not isinstance(message, dict):
            return invalid_request(
                f"'{where}' : value must be an object", param="messages"
            )
        role = message.get("role")
        if role not in rules.roles:
            return invalid_request(
                f"'{where}' : discriminator property 'role' has invalid value {role!r}; "
                f"expected one of {', '.join(sorted(rules.roles))}",
                param="messages",
            )
        if "name" in message and not rules.name_supported:
            return invalid_request(
                f"'{where}.name' : property 'name' is unsupported", param="messages"
            )
        content = message.get("content")
        if content is None and not (role == "assistant" and message.get("tool_calls")):
            return invalid_request(
                f"'{where}' : property 'content' is missing", param="messages"
            )
    return None


def _check_params(body: dict[str, Any], rules: ChatRules) -> ApiError | None:
    for name in rules.unsupported_params:
        # `logprobs: false` asks for nothing, so only a real request is refused.
        if body.get(name) not in (None, False):
            return invalid_request(f"`{name}` is not supported", param=name)
    n = body.get("n")
    if n is not None and n != 1 and (not isinstance(n, int) or not 1 <= n <= rules.max_n):
        return invalid_request(f"'n' : number must be at most {rules.max_n}", param="n")
    temperature = body.get("temperature")
    if temperature is not None and (
        not isinstance(temperature, int | float) or not 0 <= temperature <= 2
    ):
        return invalid_request(
            "'temperature' : number must be between 0 and 2", param="temperature"
        )
    stop = body.get("stop")
    if isinstance(stop, list) and len(stop) > rules.max_stop_sequences:
        return invalid_request(
            f"'stop' : maximum number of items is {rules.max_stop_sequences}", param="stop"
        )
    return None


def _check_sizes(
    body: dict[str, Any], messages: list[Any], model: ModelLimits
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
