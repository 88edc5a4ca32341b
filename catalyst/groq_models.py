"""Groq's model table: the one place that knows model ids, limits and prices.

Facts as gathered in November 2026 (see GROQ_FACTS.md). Groq changes this list
often; when the live API disagrees, update this table and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ChatModel:
    """A chat model Groq serves today."""

    id: str
    context_window: int
    max_completion_tokens: int
    usd_per_million_input: float | None
    usd_per_million_output: float | None
    tokens_per_second: int | None
    owned_by: str
    # Starting client-side budgets (assumed: Groq's developer tier). The
    # generated limiter also pauses on 429s and on spent-budget headers;
    # `--rpm` / `--tpm` override both numbers.
    requests_per_minute: int = 1_000
    tokens_per_minute: int = 250_000


@dataclass(frozen=True)
class RetiredModel:
    """A model id old workflows still name, and what to use instead."""

    id: str
    replacement: str
    retired_on: str | None = None


CHAT_MODELS: tuple[ChatModel, ...] = (
    ChatModel("openai/gpt-oss-120b", 131_072, 65_536, 0.15, 0.60, 500, "OpenAI"),
    ChatModel("openai/gpt-oss-20b", 131_072, 65_536, 0.075, 0.30, 1000, "OpenAI"),
    ChatModel("qwen/qwen3.8-27b", 131_072, 16_384, 0.80, 4.00, 450, "Alibaba Cloud"),
    ChatModel("groq/compound", 131_072, 8_192, None, None, None, "Groq", 200, 200_000),
    ChatModel("groq/compound-mini", 131_072, 8_192, None, None, None, "Groq", 200, 200_000),
)

DEFAULT_CHAT_MODEL = "openai/gpt-oss-20b"

RETIRED_MODELS: tuple[RetiredModel, ...] = (
    RetiredModel("llama-3.1-8b-instant", "openai/gpt-oss-20b", "2026-08-16"),
    RetiredModel("llama-3.3-70b-versatile", "openai/gpt-oss-120b", "2026-08-16"),
    RetiredModel("llama-3.1-70b-versatile", "openai/gpt-oss-120b"),
    RetiredModel("mixtral-8x7b-32768", "openai/gpt-oss-20b"),
    RetiredModel("gemma2-9b-it", "openai/gpt-oss-20b"),
    RetiredModel("llama3-8b-8192", "openai/gpt-oss-20b"),
    RetiredModel("llama3-70b-8192", "openai/gpt-oss-120b"),
    RetiredModel("qwen/qwen3-32b", "qwen/qwen3.8-27b"),
    RetiredModel("meta-llama/llama-4-scout-17b-16e-instruct", "openai/gpt-oss-20b"),
    RetiredModel("meta-llama/llama-4-maverick-17b-128e-instruct", "openai/gpt-oss-120b"),
    RetiredModel("moonshotai/kimi-k2-instruct", "openai/gpt-oss-120b"),
    RetiredModel("moonshotai/kimi-k2-instruct-0905", "openai/gpt-oss-120b"),
)

_CHAT_BY_ID = {model.id: model for model in CHAT_MODELS}
_RETIRED_BY_ID = {model.id: model for model in RETIRED_MODELS}


def chat_model(model_id: str) -> ChatModel | None:
    """The current chat model with this id, if Groq still serves it."""
    return _CHAT_BY_ID.get(model_id)


def retired_model(model_id: str) -> RetiredModel | None:
    """The retirement record for this id, if Groq has decommissioned it."""
    return _RETIRED_BY_ID.get(model_id)


def chat_model_ids() -> list[str]:
    """Current chat model ids, in table order (stable for error messages)."""
    return [model.id for model in CHAT_MODELS]
