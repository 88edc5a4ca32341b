"""anthropicCompletion: one Claude message through Anthropic's SDK."""

from __future__ import annotations

from pydantic import AliasChoices, Field

from catalyst import provider_models
from catalyst.config_types import SecretRef
from catalyst.nodes.chat_nodes import (
    USAGE,
    ChatConfig,
    chat_api_key,
    chat_node_type,
    completion_output,
)
from catalyst.shapes import INTEGER, STRING, closed, nullable

_DEFAULT_MODEL = provider_models.DEFAULT_CHAT_MODELS["anthropic"]
# The original editor's names (input_tokens, output_tokens, stop_reason) beside the common ones.
ANTHROPIC_USAGE = closed(
    {**USAGE["properties"], "input_tokens": INTEGER, "output_tokens": INTEGER}
)


class AnthropicCompletionConfig(ChatConfig):
    """Settings of one Claude message."""

    model: str = Field(
        _DEFAULT_MODEL,
        description="Claude model id.",
        json_schema_extra={"examples": provider_models.chat_model_ids("anthropic")},
    )
    temperature: float | None = Field(None, ge=0, le=1, description="Sampling temperature (0-1).")
    max_completion_tokens: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices(
            "max_completion_tokens", "maxCompletionTokens", "maxTokens", "max_tokens"
        ),
        description="Upper bound on generated tokens (Anthropic requires one: "
        f"{provider_models.ANTHROPIC_DEFAULT_MAX_TOKENS} when not set).",
    )
    top_k: int | None = Field(
        None, ge=1, validation_alias=AliasChoices("top_k", "topK"),
        description="Sample only from the k likeliest tokens.",
    )
    api_key: SecretRef = chat_api_key("anthropic", "Anthropic")


NODE_TYPES = (
    chat_node_type(
        type_name="anthropicCompletion",
        display_name="Anthropic completion",
        description="A Claude message, with token streaming.",
        color="#d97757",
        config_model=AnthropicCompletionConfig,
        template="anthropic_completion.jinja",
        provider="anthropic",
        output_schema=completion_output(
            usage=ANTHROPIC_USAGE, stop_reason=nullable(STRING)
        ),
        output_description=(
            "{content, stop_reason, finish_reason, model, provider, usage: {input_tokens, "
            "output_tokens, prompt_tokens, completion_tokens, total_tokens}, cost_usd, "
            "latency_ms, fallbacks?}"
        ),
        example={
            "model": _DEFAULT_MODEL,
            "system_prompt": "You are concise.",
            "prompt": "Summarise: {{ input.text }}",
            "max_completion_tokens": 1000,
        },
    ),
)
