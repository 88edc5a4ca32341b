"""The OpenAI, Anthropic and Voyage models the local server knows (Groq's are in groq_models).

Figures from PROVIDER_FACTS.md (November 2026); the server only needs them to
list models, reject unknown or retired ids, and check token limits.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Model:
    id: str
    context_window: int
    max_completion_tokens: int
    owned_by: str
    display_name: str = ""
    created_at: str = "2026-01-01T00:00:00Z"


@dataclass(frozen=True)
class EmbeddingModel:
    id: str
    dimensions: int
    # Sizes a request may ask for: OpenAI's text-embedding-3-* shorten to any
    # size up to the native one; ada-002 cannot; Voyage offers a fixed set.
    shortenable: bool = True
    allowed_dimensions: tuple[int, ...] = ()


OPENAI_CHAT_MODELS: tuple[Model, ...] = (
    Model("gpt-5.5", 400_000, 128_000, "system"),
    Model("gpt-5.4", 400_000, 128_000, "system"),
    Model("gpt-5.4-mini", 400_000, 128_000, "system"),
    Model("gpt-5.4-nano", 400_000, 128_000, "system"),
    Model("gpt-4.1", 1_047_576, 32_768, "system"),
    Model("gpt-4.1-mini", 1_047_576, 32_768, "system"),
)

OPENAI_EMBEDDING_MODELS: tuple[EmbeddingModel, ...] = (
    EmbeddingModel("text-embedding-3-small", 1536),
    EmbeddingModel("text-embedding-3-large", 3072),
    EmbeddingModel("text-embedding-ada-002", 1536, shortenable=False),
)

# Requests naming these fail on the real API; the SDK's literals still list some.
OPENAI_RETIRED: frozenset[str] = frozenset(
    {
        "gpt-3.5-turbo",
        "gpt-3.5-turbo-0125",
        "gpt-4",
        "gpt-4-0613",
        "gpt-4-0314",
        "gpt-4-turbo-preview",
        "gpt-4-0125-preview",
        "gpt-4-1106-preview",
        "chatgpt-4o-latest",
    }
)

ANTHROPIC_MODELS: tuple[Model, ...] = (
    Model("claude-fable-5", 1_000_000, 128_000, "anthropic", "Claude Fable 5"),
    Model("claude-opus-4-8", 1_000_000, 128_000, "anthropic", "Claude Opus 4.8"),
    Model("claude-opus-4-7", 1_000_000, 128_000, "anthropic", "Claude Opus 4.7"),
    Model("claude-sonnet-5", 1_000_000, 128_000, "anthropic", "Claude Sonnet 5"),
    Model("claude-sonnet-4-6", 1_000_000, 64_000, "anthropic", "Claude Sonnet 4.6"),
    Model("claude-haiku-4-5", 200_000, 64_000, "anthropic", "Claude Haiku 4.5"),
    Model("claude-haiku-4-5-20251001", 200_000, 64_000, "anthropic", "Claude Haiku 4.5"),
)

VOYAGE_DIMENSIONS = (256, 512, 1024, 2048)
VOYAGE_MODELS: tuple[EmbeddingModel, ...] = tuple(
    EmbeddingModel(name, 1024, allowed_dimensions=VOYAGE_DIMENSIONS)
    for name in (
        "voyage-4-large",
        "voyage-4",
        "voyage-4-lite",
        "voyage-3.5",
        "voyage-3.5-lite",
        "voyage-3-large",
        "voyage-code-3",
    )
)


_OPENAI_CHAT = {model.id: model for model in OPENAI_CHAT_MODELS}
_OPENAI_EMBEDDING = {model.id: model for model in OPENAI_EMBEDDING_MODELS}
_ANTHROPIC = {model.id: model for model in ANTHROPIC_MODELS}
_VOYAGE = {model.id: model for model in VOYAGE_MODELS}


def openai_chat_model(model_id: str) -> Model | None:
    return _OPENAI_CHAT.get(model_id)


def openai_embedding_model(model_id: str) -> EmbeddingModel | None:
    return _OPENAI_EMBEDDING.get(model_id)


def anthropic_model(model_id: str) -> Model | None:
    return _ANTHROPIC.get(model_id)


def voyage_model(model_id: str) -> EmbeddingModel | None:
    return _VOYAGE.get(model_id)
