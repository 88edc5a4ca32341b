"""embeddingGenerate: vectors for a text or a list of texts (OpenAI, Voyage, or
an OpenAI-compatible host), split into requests under the provider's limits."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import AliasChoices, Field, model_validator

from catalyst import provider_models
from catalyst.config_types import NodeConfig, SecretRef
from catalyst.diagnostics import Diagnostic
from catalyst.nodes.chat_nodes import fill_provider_key
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import INTEGER, NUMBER, STRING, array, closed, nullable

EmbeddingProvider = Literal[
    "openai", "voyage", "together", "fireworks", "deepinfra", "ollama", "vllm"
]  # fmt: skip
assert set(EmbeddingProvider.__args__) == set(  # type: ignore[attr-defined]
    provider_models.EMBEDDING_PROVIDER_NAMES
)

OUTPUT = closed(
    {
        "embeddings": array(array(NUMBER)),
        "model": STRING,
        "dimensions": INTEGER,
        "usage": closed({"total_tokens": INTEGER}),
        "provider": STRING,
        "cost_usd": nullable(NUMBER),
        "latency_ms": NUMBER,
    },
    description="One vector per text, in the order the texts came.",
)


class EmbeddingGenerateConfig(NodeConfig):
    """What to embed, with which model."""

    provider: EmbeddingProvider = Field(
        "openai", description="openai, voyage, or an OpenAI-compatible host preset."
    )
    base_url: str | None = Field(
        None,
        pattern=r"^https?://",
        validation_alias=AliasChoices("base_url", "baseUrl"),
        description="Address of an OpenAI-compatible embeddings API (…/v1).",
    )
    model: str | None = Field(
        None,
        description="Embedding model (default: text-embedding-3-small on OpenAI, "
        "voyage-4-lite on Voyage).",
        json_schema_extra={"examples": [m.id for m in provider_models.EMBEDDING_MODELS]},
    )
    text: str | list[str] | None = Field(
        None,
        description="The text (or texts) to embed; may use {{ … }} expressions. Without it, "
        "what arrives on `input`: a text, a list of texts, or an object's `texts` / `text`.",
    )
    dimensions: int | None = Field(
        None, ge=1, description="Shorter vectors (text-embedding-3-*; Voyage: 256-2048)."
    )
    input_type: Literal["query", "document"] | None = Field(
        None,
        validation_alias=AliasChoices("input_type", "inputType"),
        description="Voyage only: what the text is for retrieval (query or document).",
    )
    api_key: SecretRef | None = Field(
        None,
        validation_alias=AliasChoices("api_key", "apiKey"),
        description="Environment variable with the key (default: the provider's usual one, "
        "OPENAI_API_KEY, VOYAGE_API_KEY, …).",
        json_schema_extra={"x-secret": True},
    )

    @model_validator(mode="after")
    def _defaults(self) -> EmbeddingGenerateConfig:
        fill_provider_key(self)
        if self.model is None:
            self.model = provider_models.DEFAULT_EMBEDDING_MODELS.get(self.provider)
            self.model_fields_set.discard("model")
        return self


def _problem(context: NodeCheckContext, field: str, code: str, message: str,
             hint: str) -> Diagnostic:
    return Diagnostic(code=code, node_id=context.node_id, path=context.pointer(field),
                      message=message, hint=hint)


def check(config: EmbeddingGenerateConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems: list[Diagnostic] = []
    if config.model is None:
        problems.append(_problem(context, "model", "missing-model",
                                 f"{config.provider} has no default embedding model",
                                 "set `model` to a model the host serves"))
        return problems
    known = provider_models.embedding_models_of(config.provider)
    model = provider_models.embedding_model(config.provider, config.model)
    if known and model is None and "{{" not in config.model:
        problems.append(Diagnostic(
            code="unknown-model", severity="warning", node_id=context.node_id,
            path=context.pointer("model"),
            message=f"{config.model!r} is not in Catalyst's {config.provider} embedding table",
            hint=f"current models: {', '.join(m.id for m in known)}",
        ))
    if model is not None and config.dimensions is not None:
        allowed = model.allowed_dimensions
        if allowed and config.dimensions not in allowed:
            problems.append(_problem(
                context, "dimensions", "out-of-range",
                f"{model.id} makes vectors of {', '.join(map(str, allowed))} dimensions",
                f"use one of {', '.join(map(str, allowed))}"))
        elif not allowed and not model.shortenable and config.dimensions != model.dimensions:
            problems.append(_problem(
                context, "dimensions", "out-of-range",
                f"{model.id} cannot shorten its {model.dimensions}-dimension vectors",
                "leave `dimensions` out, or use text-embedding-3-small / -large"))
        elif not allowed and config.dimensions > model.dimensions:
            problems.append(_problem(
                context, "dimensions", "out-of-range",
                f"{model.id} makes at most {model.dimensions} dimensions",
                f"use at most {model.dimensions}"))
    if config.input_type is not None and config.provider != "voyage":
        problems.append(_problem(context, "input_type", "unsupported-field",
                                 "input_type is a Voyage setting",
                                 "remove it, or set provider to voyage"))
    if config.text is None and "input" not in context.connected_inputs:
        problems.append(Diagnostic(
            code="missing-input", node_id=context.node_id, path=context.config_path,
            message="nothing to embed: no `text` and no edge into `input`",
            hint="set `text` (e.g. {{ input.question }}) or connect a node to `input`",
        ))
    return problems


def _limits() -> Mapping[str, Any]:
    return {
        "models": {
            name: {
                model.id: {
                    "dimensions": model.dimensions,
                    "max_inputs": model.max_inputs,
                    "max_tokens_per_request": model.max_tokens_per_request,
                    "usd_per_million": model.usd_per_million,
                }
                for model in provider_models.embedding_models_of(name)
            }
            for name in provider_models.EMBEDDING_PROVIDER_NAMES
        },
    }


NODE_TYPES = (
    NodeType(
        type="embeddingGenerate",
        category="ai",
        display_name="Embeddings",
        description="Vectors for texts, for search and retrieval (OpenAI, Voyage, compatible "
        "hosts).",
        icon="binary",
        color="#6366f1",
        config_model=EmbeddingGenerateConfig,
        template="embedding_generate.jinja",
        shared_runtimes=("provider:openai",),
        inputs=(Port("input", "Texts", "any", "A text, a list of texts, or an object's "
                     "`texts` / `text` (when `text` is not set)."),),
        outputs=(Port("output", "Embeddings", "json", "{embeddings, model, dimensions, usage}"),),
        text_fields=("text",),
        check=check,
        template_data=_limits,
        output_description="{embeddings: [[float, …], …], model, dimensions, usage: "
        "{total_tokens}, provider, cost_usd, latency_ms}",
        output_schema=OUTPUT,
        example={"provider": "openai", "model": "text-embedding-3-small",
                 "text": "{{ input.question }}"},
    ),
)
