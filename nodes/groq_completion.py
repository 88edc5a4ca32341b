"""groqCompletion: one chat completion from Groq, optionally streamed."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import AliasChoices, Field

from catalyst.config_types import Message, NodeConfig, SecretRef, secret_field
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.groq_models import (
    CHAT_MODELS,
    DEFAULT_CHAT_MODEL,
    RETIRED_MODELS,
    chat_model,
    chat_model_ids,
    retired_model,
)
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import INTEGER, NUMBER, STRING, array, closed, nullable

# What every chat completion node returns: the original Catalyst's names
# (content, model, usage, finish_reason) plus cost, latency and fallbacks.
USAGE = closed({"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER})
COMPLETION_OUTPUT = closed(
    {
        "content": STRING,
        "finish_reason": STRING,
        "model": STRING,
        "usage": USAGE,
        "cost_usd": nullable(NUMBER),
        "latency_ms": NUMBER,
        # Present only when a fallback model answered.
        "fallbacks": array(closed({"model": STRING, "reason": STRING})),
    },
    description="The reply: `content` is its text.",
)


class CircuitBreakerConfig(NodeConfig):
    """When to stop calling a failing model for a while."""

    failures: int = Field(5, ge=1, le=1000, description="Consecutive failures that open it.")
    cooldown_s: float = Field(
        60, gt=0, le=3600, validation_alias=AliasChoices("cooldown_s", "cooldownS", "cooldown"),
        description="Seconds it stays open before one probe call may close it again.",
    )


class GroqCompletionConfig(NodeConfig):
    """Settings of one Groq chat completion."""

    model: str = Field(
        DEFAULT_CHAT_MODEL,
        description="Groq model id.",
        json_schema_extra={"examples": chat_model_ids()},
    )
    system_prompt: str | None = Field(
        None,
        validation_alias=AliasChoices("system_prompt", "systemPrompt", "system"),
        description="System message sent first; may use {{ … }} expressions.",
    )
    messages: list[Message] | None = Field(
        None, description="Messages sent after the system prompt."
    )
    prompt: str | None = Field(
        None, description="A user message sent last; may use {{ … }} expressions."
    )
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_completion_tokens: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices(
            "max_completion_tokens", "maxCompletionTokens", "maxTokens", "max_tokens"
        ),
        description="Upper bound on generated tokens (the editor's maxTokens).",
    )
    top_p: float | None = Field(
        None, ge=0, le=1, validation_alias=AliasChoices("top_p", "topP"),
        description="Nucleus sampling.",
    )
    stop: str | list[str] | None = Field(
        None, max_length=4, description="Up to four stop sequences."
    )
    seed: int | None = Field(None, description="Seed for best-effort determinism.")
    stream: bool = Field(False, description="Stream tokens to listeners as they arrive.")
    fallback_models: list[str] = Field(
        default_factory=list,
        validation_alias=AliasChoices("fallback_models", "fallbackModels"),
        description="Models tried in order when the model is unavailable or its breaker is open.",
    )
    circuit_breaker: CircuitBreakerConfig = Field(
        default_factory=CircuitBreakerConfig,
        validation_alias=AliasChoices("circuit_breaker", "circuitBreaker"),
        description="Per model: stop calling it after repeated failures, then probe.",
    )
    requests_per_minute: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices("requests_per_minute", "requestsPerMinute", "rpm"),
        description="Client-side request budget per model (default: the model table).",
    )
    tokens_per_minute: int | None = Field(
        None, ge=1, validation_alias=AliasChoices("tokens_per_minute", "tokensPerMinute", "tpm"),
        description="Client-side token budget per model (default: the model table).",
    )
    api_key: SecretRef = secret_field(
        "GROQ_API_KEY",
        'Environment variable with the Groq API key: "NAME" or {"$secret": "NAME"}.',
        "api_key", "apiKey",
    )


def _model_warnings(model: str, node_id: str, path: str) -> list[Diagnostic]:
    retired = retired_model(model)
    if retired is not None:
        when = f" on {retired.retired_on}" if retired.retired_on else ""
        return [
            Diagnostic(
                code="model-decommissioned",
                severity="warning",
                node_id=node_id,
                path=path,
                message=f"Groq decommissioned {model!r}{when}; calls to it fail",
                hint=f"use {retired.replacement!r} instead",
            )
        ]
    if chat_model(model) is None and "{{" not in model:
        return [
            Diagnostic(
                code="unknown-model",
                severity="warning",
                node_id=node_id,
                path=path,
                message=f"{model!r} is not in Catalyst's Groq model table",
                hint=f"current models: {', '.join(chat_model_ids())}",
            )
        ]
    return []


def check(config: GroqCompletionConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems = _model_warnings(config.model, context.node_id, context.pointer("model"))
    for index, model in enumerate(config.fallback_models):
        path = context.pointer("fallback_models") + json_pointer(index)
        problems += _model_warnings(model, context.node_id, path)
    current = chat_model(config.model)
    limit = current.max_completion_tokens if current else None
    if limit is not None and config.max_completion_tokens and config.max_completion_tokens > limit:
        problems.append(
            Diagnostic(
                code="out-of-range",
                node_id=context.node_id,
                path=context.pointer("max_completion_tokens"),
                message=f"max_completion_tokens {config.max_completion_tokens} exceeds "
                f"{config.model}'s limit",
                hint=f"use at most {limit}",
            )
        )
    if not (config.prompt or config.messages or "input" in context.connected_inputs):
        problems.append(
            Diagnostic(
                code="missing-prompt",
                node_id=context.node_id,
                path=context.config_path,
                message="nothing to send: no prompt, no messages and no edge into `input`",
                hint="set `prompt` or `messages`, or connect a promptTemplate to `input`",
            )
        )
    return problems


def template_data() -> dict[str, Any]:
    """The model table as the generated script needs it: limits, prices, replacements."""
    return {
        "models": {
            model.id: {
                "context_window": model.context_window,
                "usd_per_million": [model.usd_per_million_input, model.usd_per_million_output],
                "requests_per_minute": model.requests_per_minute,
                "tokens_per_minute": model.tokens_per_minute,
            }
            for model in CHAT_MODELS
        },
        "retired": {model.id: model.replacement for model in RETIRED_MODELS},
    }


NODE_TYPES = (
    NodeType(
        type="groqCompletion",
        category="llm",
        display_name="Groq completion",
        description="Chat completion on Groq's LPU inference, with token streaming.",
        icon="sparkles",
        color="#f55036",
        config_model=GroqCompletionConfig,
        template="groq_completion.jinja",
        shared_runtimes=("chat.jinja",),
        inputs=(
            Port(
                "input",
                "Messages",
                "messages",
                "Messages (or text, sent as a user message) placed before `prompt`.",
            ),
        ),
        outputs=(Port("output", "Text", "text", "The reply text (`content`).", field="content"),),
        supports_streaming=True,
        text_fields=("system_prompt", "prompt"),
        dependencies=("groq>=1.7,<2", "httpx>=0.23,<1", "aiolimiter>=1.1,<2"),
        imports=(
            # The shared chat runtime (templates/chat.jinja) it builds on.
            "from abc import ABC, abstractmethod",
            "import os",
            "import time",
            "import groq",
            "import httpx",
            "from aiolimiter import AsyncLimiter",
        ),
        template_data=template_data,
        rate_limited=True,
        check=check,
        output_description=(
            "{content, finish_reason, model, usage: {prompt_tokens, completion_tokens, "
            "total_tokens}, cost_usd, latency_ms, fallbacks?}"
        ),
        output_schema=COMPLETION_OUTPUT,
        example={
            "model": DEFAULT_CHAT_MODEL,
            "system_prompt": "You are concise.",
            "prompt": "Summarise: {{ input.text }}",
            "temperature": 0.2,
            "stream": True,
        },
    ),
)
