"""The OpenAI, Anthropic and Voyage models the local server knows: views of
Catalyst's one model table (catalyst/provider_models.py).

The server only needs them to list models, reject unknown or retired ids, and
check token limits.
"""

from __future__ import annotations

from catalyst import provider_models
from catalyst.provider_models import ChatModel as Model
from catalyst.provider_models import EmbeddingModel

__all__ = [
    "ANTHROPIC_MODELS",
    "OPENAI_CHAT_MODELS",
    "OPENAI_EMBEDDING_MODELS",
    "OPENAI_RETIRED",
    "VOYAGE_MODELS",
    "EmbeddingModel",
    "Model",
    "anthropic_model",
    "openai_chat_model",
    "openai_embedding_model",
    "voyage_model",
]

OPENAI_CHAT_MODELS: tuple[Model, ...] = provider_models.chat_models_of("openai")
OPENAI_EMBEDDING_MODELS: tuple[EmbeddingModel, ...] = provider_models.embedding_models_of("openai")
# Requests naming these fail on the real API; the SDK's literals still list some.
OPENAI_RETIRED: frozenset[str] = frozenset(
    model.id for model in provider_models.retired_models_of("openai")
)
ANTHROPIC_MODELS: tuple[Model, ...] = provider_models.chat_models_of("anthropic")
VOYAGE_MODELS: tuple[EmbeddingModel, ...] = provider_models.embedding_models_of("voyage")


def openai_chat_model(model_id: str) -> Model | None:
    return provider_models.chat_model("openai", model_id)


def openai_embedding_model(model_id: str) -> EmbeddingModel | None:
    return provider_models.embedding_model("openai", model_id)


def anthropic_model(model_id: str) -> Model | None:
    return provider_models.chat_model("anthropic", model_id)


def voyage_model(model_id: str) -> EmbeddingModel | None:
    return provider_models.embedding_model("voyage", model_id)
