"""llmRouter: one chat completion on the model a routing strategy picks from a list.

Strategies: `cost` (cheapest for this call by the price table), `speed`
(fastest published or estimated output speed), `quality` (Catalyst's stated
ranking), `load_balance` (each call the next model in turn, skipping models
whose circuit breaker is open). Where the figures come from:
catalyst/provider_models.py. The picked model goes first; the others follow
in the strategy's order, then `fallback_model`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator

from catalyst import provider_models
from catalyst.config_types import json_text
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.nodes.chat_nodes import (
    ChatSettings,
    FallbackModel,
    completion_output,
    missing_prompt,
    model_warnings,
    provider_part,
)
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import STRING

STRATEGIES = ("cost", "speed", "quality", "load_balance")


def _provider_of_model(model_id: str) -> str | None:
    """The one provider whose table lists this id (a bare `fallbackModel` text)."""
    owners = [m.provider for m in provider_models.CHAT_MODELS if m.id == model_id]
    return owners[0] if len(owners) == 1 else None


class LlmRouterConfig(ChatSettings):
    """Which models to route between, and how to pick."""

    routing_strategy: Literal["cost", "speed", "quality", "load_balance"] = Field(
        "cost",
        validation_alias=AliasChoices("routing_strategy", "routingStrategy"),
        description="cost: cheapest for the call; speed: fastest output; quality: best in "
        "Catalyst's ranking; load_balance: each in turn, skipping open breakers.",
    )
    models: list[FallbackModel] = Field(
        min_length=1,
        description='The candidates: [{"provider", "model"}, …] (JSON or JSON text).',
        json_schema_extra=json_text(),
    )
    fallback_model: FallbackModel | None = Field(
        None,
        validation_alias=AliasChoices("fallback_model", "fallbackModel"),
        description='Tried when every candidate fails: {"provider", "model"}, "provider:model", '
        "or a model id that one provider's table lists.",
    )

    @field_validator("fallback_model", mode="before")
    @classmethod
    def _model_text(cls, value: Any) -> Any:
        # The original editor saved a text field here.
        if isinstance(value, str):
            if not value.strip():
                return None
            provider, _, model = value.partition(":")
            if model and provider in provider_models.CHAT_PROVIDER_NAMES:
                return {"provider": provider, "model": model}
            owner = _provider_of_model(value)
            if owner is None:
                raise ValueError(
                    f"cannot tell which provider serves {value!r}: write it as "
                    '"provider:model" or {"provider": …, "model": …} (providers: '
                    + ", ".join(provider_models.CHAT_PROVIDER_NAMES) + ")"
                )
            return {"provider": owner, "model": value}
        return value


def check(config: LlmRouterConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems: list[Diagnostic] = []
    for index, candidate in enumerate(config.models):
        path = context.pointer("models") + json_pointer(index) + "/model"
        problems += model_warnings(candidate.provider, candidate.model, context.node_id, path)
    if config.response_format is not None:
        problems.append(Diagnostic(
            code="unsupported-setting", node_id=context.node_id,
            path=context.pointer("response_format"),
            message="llmRouter replies in text; a JSON reply format is not supported here",
            hint="route to a groqCompletion or openaiCompletion with responseFormat instead",
        ))
    if config.fallback_model is not None:
        problems += model_warnings(config.fallback_model.provider, config.fallback_model.model,
                                   context.node_id, context.pointer("fallback_model"))
    return problems + missing_prompt(config, context)


def _parts(config: Mapping[str, Any]) -> Sequence[str]:
    chosen = [*(config.get("models") or ()), config.get("fallback_model")]
    return [provider_part(item["provider"]) for item in chosen if isinstance(item, Mapping)]


def _routing_table() -> Mapping[str, Any]:
    return {
        "figures": {
            provider: {
                model.id: {
                    "usd_per_million": [model.usd_per_million_input,
                                        model.usd_per_million_output],
                    "tokens_per_second": model.tokens_per_second,
                    "quality_rank": model.quality_rank,
                }
                for model in provider_models.chat_models_of(provider)
            }
            for provider in provider_models.CHAT_PROVIDER_NAMES
        }
    }


NODE_TYPES = (
    NodeType(
        type="llmRouter",
        category="llm",
        display_name="LLM router",
        description="Pick the model for each call by cost, speed, quality or load, across "
        "providers.",
        icon="route",
        color="#8b5cf6",
        config_model=LlmRouterConfig,
        template="llm_router.jinja",
        shared_runtimes=("chat",),
        runtime_parts_for=_parts,
        inputs=(
            Port("input", "Messages", "messages",
                 "Messages (or text, sent as a user message) placed before `prompt`."),
        ),
        outputs=(Port("output", "Text", "text", "The reply text (`content`).", field="content"),),
        supports_streaming=True,
        text_fields=("system_prompt", "prompt"),
        rate_limited=True,
        check=check,
        template_data=_routing_table,
        output_description="{content, provider, model, routing_reason, usage, finish_reason, "
        "cost_usd, latency_ms, fallbacks?}",
        output_schema=completion_output(routing_reason=STRING),
        example={
            "routing_strategy": "cost",
            "models": [{"provider": "groq", "model": "openai/gpt-oss-20b"},
                       {"provider": "openai", "model": "gpt-5.4-mini"}],
            "fallback_model": {"provider": "anthropic", "model": "claude-haiku-4-5"},
            "prompt": "{{ input.question }}",
        },
    ),
)
