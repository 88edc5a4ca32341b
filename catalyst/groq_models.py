"""Groq's part of the model table (catalyst/provider_models.py), by model id alone."""

from __future__ import annotations

from catalyst import provider_models
from catalyst.provider_models import ChatModel, RetiredModel

__all__ = [
    "CHAT_MODELS",
    "DEFAULT_CHAT_MODEL",
    "RETIRED_MODELS",
    "ChatModel",
    "RetiredModel",
    "chat_model",
    "chat_model_ids",
    "retired_model",
]

CHAT_MODELS: tuple[ChatModel, ...] = provider_models.chat_models_of("groq")
RETIRED_MODELS: tuple[RetiredModel, ...] = provider_models.retired_models_of("groq")
DEFAULT_CHAT_MODEL = provider_models.DEFAULT_CHAT_MODELS["groq"]


def chat_model(model_id: str) -> ChatModel | None:
    """The current Groq chat model with this id."""
    return provider_models.chat_model("groq", model_id)


def retired_model(model_id: str) -> RetiredModel | None:
    """The retirement record for this id, if Groq has decommissioned it."""
    return provider_models.retired_model("groq", model_id)


def chat_model_ids() -> list[str]:
    """Current Groq chat model ids, in table order."""
    return provider_models.chat_model_ids("groq")
