"""What every chat completion node type shares: its config, its checks, its
output, and the runtime parts (templates/chat.jinja plus one adapter per
provider SDK) its generated code builds on.

A chat node type (groqCompletion, openaiCompletion, anthropicCompletion) is
this config with the provider's own defaults and limits, and one line of
template that hands the call to `execute_chat`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator

from catalyst import provider_models
from catalyst.config_types import Message, NodeConfig, SecretRef, secret_field
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.provider_models import CHAT_PROVIDER_NAMES
from catalyst.registry import NodeCheckContext, NodeType, Port, RuntimePart
from catalyst.shapes import INTEGER, NUMBER, STRING, Schema, array, closed, nullable

ChatProviderName = Literal[
    "groq", "openai", "anthropic", "together", "fireworks", "openrouter", "deepinfra", "ollama",
    "vllm",
]  # fmt: skip
assert set(ChatProviderName.__args__) == set(CHAT_PROVIDER_NAMES)  # type: ignore[attr-defined]

# What every chat completion node returns: the original Catalyst's names
# (content, model, usage, finish_reason) plus provider, cost, latency and fallbacks.
USAGE = closed({"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER})
FALLBACKS = array(closed({"provider": STRING, "model": STRING, "reason": STRING}))


def completion_output(usage: Schema = USAGE, **extra: Schema) -> Schema:
    return closed(
        {
            "content": STRING,
            "finish_reason": STRING,
            "model": STRING,
            "provider": STRING,
            "usage": usage,
            "cost_usd": nullable(NUMBER),
            "latency_ms": NUMBER,
            # Present only when a fallback model answered.
            "fallbacks": FALLBACKS,
            **extra,
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


class FallbackModel(BaseModel):
    """Another provider's model to fall back to, with that provider's key."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    provider: ChatProviderName = Field(description="The provider serving `model`.")
    model: str = Field(min_length=1, description="Its model id.")
    api_key: SecretRef | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "apiKey"),
        description="Variable with that provider's key (default: the provider's usual one, "
        "e.g. ANTHROPIC_API_KEY).",
    )
    base_url: str | None = Field(
        None,
        validation_alias=AliasChoices("base_url", "baseUrl"),
        description="Its address, for an OpenAI-compatible host of your own.",
    )

    @model_validator(mode="after")
    def _provider_key(self) -> FallbackModel:
        if "api_key" not in self.model_fields_set:
            self.api_key = default_key(self.provider)
            # A default, not something the file said (`catalyst upgrade` keeps it out).
            self.model_fields_set.discard("api_key")
        return self


def default_key(provider_name: str) -> SecretRef | None:
    """The provider's usual key variable; None for local hosts that need no key."""
    found = provider_models.provider(provider_name)
    if found is None or found.key_optional:
        return None
    return SecretRef(env=found.key_env)


class ChatSettings(NodeConfig):
    """What every chat node sends and how it paces itself, whatever the model."""

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
    stream: bool = Field(False, description="Stream tokens to listeners as they arrive.")
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


class ChatConfig(ChatSettings):
    """A chat completion node: one model, and the models to fall back to."""

    model: str = Field(description="Model id.")
    fallback_models: list[str | FallbackModel] = Field(
        default_factory=list,
        validation_alias=AliasChoices("fallback_models", "fallbackModels"),
        description="Models tried in order when the model is unavailable or its breaker is "
        'open: a model id of the same provider, or {"provider", "model"} for another '
        "provider's (its key from that provider's usual variable, or `api_key`).",
    )


def chat_api_key(provider_name: str, label: str) -> Any:
    key = provider_models.provider(provider_name)
    assert key is not None
    return secret_field(
        key.key_env,
        f'Environment variable with the {label} API key: "NAME" or {{"$secret": "NAME"}}.',
        "api_key", "apiKey",
    )


def model_warnings(provider: str, model: str, node_id: str, path: str) -> list[Diagnostic]:
    if "{{" in model:
        return []
    info = provider_models.provider(provider)
    label = info.label if info else provider
    retired = provider_models.retired_model(provider, model)
    if retired is not None:
        when = f" on {retired.retired_on}" if retired.retired_on else ""
        return [
            Diagnostic(
                code="model-decommissioned",
                severity="warning",
                node_id=node_id,
                path=path,
                message=f"{label} retired {model!r}{when}; calls to it fail",
                hint=f"use {retired.replacement!r} instead",
            )
        ]
    known = provider_models.chat_model_ids(provider)
    if known and provider_models.chat_model(provider, model) is None:
        return [
            Diagnostic(
                code="unknown-model",
                severity="warning",
                node_id=node_id,
                path=path,
                message=f"{model!r} is not in Catalyst's {label} model table",
                hint=f"current models: {', '.join(known)}",
            )
        ]
    return []


def missing_prompt(config: ChatSettings, context: NodeCheckContext) -> list[Diagnostic]:
    if config.prompt or config.messages or "input" in context.connected_inputs:
        return []
    return [
        Diagnostic(
            code="missing-prompt",
            node_id=context.node_id,
            path=context.config_path,
            message="nothing to send: no prompt, no messages and no edge into `input`",
            hint="set `prompt` or `messages`, or connect a promptTemplate to `input`",
        )
    ]


def chat_check(
    provider_of: Callable[[Any], str],
) -> Callable[[Any, NodeCheckContext], Sequence[Diagnostic]]:
    """The checks every chat node shares: models known and current (its own
    and its fallbacks'), the completion budget within the model's limit, and
    something to send."""

    def check(config: Any, context: NodeCheckContext) -> Sequence[Diagnostic]:
        provider = provider_of(config)
        problems = model_warnings(provider, config.model, context.node_id,
                                   context.pointer("model"))
        for index, fallback in enumerate(config.fallback_models):
            path = context.pointer("fallback_models") + json_pointer(index)
            if isinstance(fallback, FallbackModel):
                problems += model_warnings(fallback.provider, fallback.model, context.node_id,
                                            path + "/model")
            else:
                problems += model_warnings(provider, fallback, context.node_id, path)
        current = provider_models.chat_model(provider, config.model)
        limit = current.max_completion_tokens if current else None
        tokens = config.max_completion_tokens
        if limit is not None and tokens and tokens > limit:
            problems.append(
                Diagnostic(
                    code="out-of-range",
                    node_id=context.node_id,
                    path=context.pointer("max_completion_tokens"),
                    message=f"max_completion_tokens {tokens} exceeds {config.model}'s limit",
                    hint=f"use at most {limit}",
                )
            )
        problems += missing_prompt(config, context)
        return problems

    return check


# Which runtime part speaks to each provider: its SDK's adapter.
_SDK_PART = {"groq": "provider:groq", "openai": "provider:openai",
             "anthropic": "provider:anthropic"}


def provider_part(provider_name: str) -> str:
    found = provider_models.provider(provider_name)
    assert found is not None, provider_name
    return _SDK_PART[found.sdk]


def chat_parts(own_provider: Callable[[Mapping[str, Any]], str]) -> Callable[
    [Mapping[str, Any]], Sequence[str]
]:
    """A chat node's runtime parts: its provider's adapter and each adapter
    its fallback models need."""

    def parts(config: Mapping[str, Any]) -> Sequence[str]:
        names = [provider_part(own_provider(config))]
        for fallback in config.get("fallback_models") or ():
            if isinstance(fallback, Mapping):
                names.append(provider_part(fallback["provider"]))
        return names

    return parts


def _provider_data(*names: str) -> Callable[[], Mapping[str, Any]]:
    """A provider adapter's constants: its models, retired ids and addresses."""

    def data() -> Mapping[str, Any]:
        hosts = {}
        for name in names:
            found = provider_models.provider(name)
            assert found is not None
            hosts[name] = {
                "label": found.label,
                "base_url_env": found.base_url_env,
                "base_url": found.base_url,
            }
        return {
            "models": {name: provider_models.chat_table(name) for name in names},
            "retired": {name: provider_models.retired_table(name) for name in names},
            "hosts": hosts,
            "anthropic_max_tokens": provider_models.ANTHROPIC_DEFAULT_MAX_TOKENS,
        }

    return data


_OPENAI_SDK_HOSTS = tuple(p.name for p in provider_models.PROVIDERS if p.sdk == "openai")

RUNTIME_PARTS = (
    RuntimePart(
        name="chat",
        template="chat.jinja",
        dependencies=("aiolimiter>=1.1,<2",),
        imports=(
            "from abc import ABC, abstractmethod",
            "import os",
            "import time",
            "from aiolimiter import AsyncLimiter",
        ),
    ),
    RuntimePart(
        name="provider:groq",
        template="provider_groq.jinja",
        needs=("chat",),
        dependencies=("groq>=1.7,<2", "httpx>=0.23,<1"),
        imports=("import groq", "import httpx"),
        template_data=_provider_data("groq"),
    ),
    RuntimePart(
        name="provider:openai",
        template="provider_openai.jinja",
        needs=("chat",),
        # openai 3 runs on httpx2 (not httpx); the adapter names its errors.
        dependencies=("openai>=3.51,<4", "httpx2>=2.12,<3"),
        imports=("import openai", "import httpx2"),
        template_data=_provider_data(*_OPENAI_SDK_HOSTS),
    ),
    RuntimePart(
        name="provider:anthropic",
        template="provider_anthropic.jinja",
        needs=("chat",),
        dependencies=("anthropic>=2.10,<3", "httpx2>=2.12,<3"),
        imports=("import anthropic", "import httpx2", "from datetime import datetime"),
        template_data=_provider_data("anthropic"),
    ),
)


def chat_node_type(
    *,
    type_name: str,
    display_name: str,
    description: str,
    color: str,
    config_model: type[ChatConfig],
    template: str,
    provider: str,
    provider_field: str | None = None,
    output_schema: Schema,
    output_description: str,
    example: Mapping[str, Any],
) -> NodeType:
    """A chat completion node type on the shared chat runtime: `provider`
    serves its calls, or the config's `provider_field` names the provider."""

    def provider_of(config: Any) -> str:
        if provider_field is None:
            return provider
        value = (config.get(provider_field) if isinstance(config, Mapping)
                 else getattr(config, provider_field))
        return str(value or provider)

    return NodeType(
        type=type_name,
        category="llm",
        display_name=display_name,
        description=description,
        icon="sparkles",
        color=color,
        config_model=config_model,
        template=template,
        shared_runtimes=("chat",),
        runtime_parts_for=chat_parts(provider_of),
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
        rate_limited=True,
        check=chat_check(provider_of),
        output_description=output_description,
        output_schema=output_schema,
        example=example,
    )
