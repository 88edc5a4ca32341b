"""groqCompletion: one chat completion from Groq, optionally streamed."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import AliasChoices, Field

from catalyst.config_types import Message, NodeConfig, SecretRef
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.groq_models import DEFAULT_CHAT_MODEL, chat_model, chat_model_ids, retired_model
from catalyst.registry import NodeCheckContext, NodeType, Port


class GroqCompletionConfig(NodeConfig):
    """Settings of one Groq chat completion."""

    model: str = Field(
        DEFAULT_CHAT_MODEL,
        description="Groq model id.",
        json_schema_extra={"examples": chat_model_ids()},
    )
    system_prompt: str | None = Field(
        None,
        validation_alias=AliasChoices("system_prompt", "systemPrompt"),
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
    api_key: SecretRef = Field(
        default_factory=lambda: SecretRef(env="GROQ_API_KEY"),
        validation_alias=AliasChoices("api_key", "apiKey"),
        description='Environment variable with the Groq API key: {"$secret": "NAME"}.',
    )


def check(config: GroqCompletionConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems: list[Diagnostic] = []
    model_path = context.config_path + json_pointer("model")
    retired = retired_model(config.model)
    current = chat_model(config.model)
    if retired is not None:
        when = f" on {retired.retired_on}" if retired.retired_on else ""
        problems.append(
            Diagnostic(
                code="model-decommissioned",
                severity="warning",
                node_id=context.node_id,
                path=model_path,
                message=f"Groq decommissioned {config.model!r}{when}; calls to it fail",
                hint=f"use {retired.replacement!r} instead",
            )
        )
    elif current is None and "{{" not in config.model:
        problems.append(
            Diagnostic(
                code="unknown-model",
                severity="warning",
                node_id=context.node_id,
                path=model_path,
                message=f"{config.model!r} is not in Catalyst's Groq model table",
                hint=f"current models: {', '.join(chat_model_ids())}",
            )
        )
    limit = current.max_completion_tokens if current else None
    if limit is not None and config.max_completion_tokens and config.max_completion_tokens > limit:
        problems.append(
            Diagnostic(
                code="out-of-range",
                node_id=context.node_id,
                path=context.config_path + json_pointer("max_completion_tokens"),
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
        inputs=(
            Port(
                "input",
                "Messages",
                "messages",
                "Messages (or text, sent as a user message) placed before `prompt`.",
            ),
        ),
        outputs=(Port("output", "Text", "text", "The reply text.", field="text"),),
        supports_streaming=True,
        dependencies=("groq>=1.7,<2",),
        imports=("import os", "import time", "import groq"),
        check=check,
        output_description=(
            "{text, finish_reason, model, usage: {prompt_tokens, completion_tokens, "
            "total_tokens}, latency_ms}"
        ),
        example={
            "model": DEFAULT_CHAT_MODEL,
            "system_prompt": "You are concise.",
            "prompt": "Summarise: {{ input.text }}",
            "temperature": 0.2,
            "stream": True,
        },
    ),
)
