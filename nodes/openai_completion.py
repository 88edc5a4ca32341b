"""openaiCompletion: one chat completion from OpenAI or an OpenAI-compatible
host (Together, Fireworks, OpenRouter, DeepInfra, Ollama, vLLM, or any base URL)."""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator

from catalyst import provider_models
from catalyst.config_types import SecretRef
from catalyst.nodes.chat_nodes import (
    ChatConfig,
    chat_node_type,
    completion_output,
    fill_provider_key,
)

OpenAIHost = Literal[
    "openai", "together", "fireworks", "openrouter", "deepinfra", "ollama", "vllm"
]  # fmt: skip
assert set(OpenAIHost.__args__) == {"openai", *provider_models.COMPATIBLE_PRESETS}  # type: ignore[attr-defined]
_DEFAULT_MODEL = provider_models.DEFAULT_CHAT_MODELS["openai"]


def _presets() -> str:
    lines = []
    for name in provider_models.COMPATIBLE_PRESETS:
        host = provider_models.provider(name)
        assert host is not None
        lines.append(f"{name} ({host.base_url}, key in {host.key_env})")
    return "; ".join(lines)


class OpenAICompletionConfig(ChatConfig):
    """Settings of one chat completion through the OpenAI SDK."""

    provider: OpenAIHost = Field(
        "openai",
        description="Who serves it: openai, or an OpenAI-compatible preset: " + _presets() + ".",
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        validation_alias=AliasChoices("base_url", "baseUrl"),
        description="Address of an OpenAI-compatible API (…/v1); default: the provider's, "
        "or its <PROVIDER>_BASE_URL variable.",
    )
    model: str = Field(
        _DEFAULT_MODEL,
        description="Model id (the host's own naming for compatible hosts).",
        json_schema_extra={"examples": provider_models.chat_model_ids("openai")},
    )
    seed: int | None = Field(None, description="Seed for best-effort determinism.")
    api_key: SecretRef | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "apiKey"),
        description="Environment variable with the key (default: the provider's usual one, "
        "OPENAI_API_KEY, TOGETHER_API_KEY, …; none for Ollama and vLLM).",
        json_schema_extra={"x-secret": True},
    )

    @model_validator(mode="after")
    def _provider_key(self) -> OpenAICompletionConfig:
        fill_provider_key(self)
        return self


NODE_TYPES = (
    chat_node_type(
        type_name="openaiCompletion",
        display_name="OpenAI completion",
        description="Chat completion on OpenAI or an OpenAI-compatible host, with token "
        "streaming.",
        color="#10a37f",
        config_model=OpenAICompletionConfig,
        template="openai_completion.jinja",
        provider="openai",
        provider_field="provider",
        output_schema=completion_output(),
        output_description=(
            "{content, finish_reason, model, provider, usage: {prompt_tokens, "
            "completion_tokens, total_tokens}, cost_usd, latency_ms, fallbacks?}"
        ),
        example={
            "model": _DEFAULT_MODEL,
            "system_prompt": "You are concise.",
            "prompt": "Summarise: {{ input.text }}",
            "fallback_models": [{"provider": "groq", "model": "openai/gpt-oss-120b"}],
        },
    ),
)
