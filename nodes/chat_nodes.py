"""What every chat completion node type shares: its config, its checks, its
output, and the runtime parts (templates/chat.jinja plus one adapter per
provider SDK) its generated code builds on.

A chat node type (groqCompletion, openaiCompletion, anthropicCompletion) is
this config with the provider's own defaults and limits, and one line of
template that hands the call to `execute_chat`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_serializer,
    model_validator,
)
from pydantic_core import PydanticCustomError

from catalyst import provider_models
from catalyst.config_types import Message, NodeConfig, SecretRef, secret_field
from catalyst.diagnostics import Diagnostic, json_pointer
from catalyst.provider_models import CHAT_PROVIDER_NAMES
from catalyst.registry import (
    ImpliedEdge,
    NodeCheckContext,
    NodeType,
    Port,
    RuntimePart,
    ShapeContext,
)
from catalyst.shapes import INTEGER, NUMBER, OPEN, STRING, Schema, array, closed, nullable

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
            # Present only when the model returned its reasoning.
            "reasoning": STRING,
            # Present only when the model called tools: each call and its result.
            "tool_calls": array(closed({"name": STRING, "arguments": OPEN, "result": OPEN,
                                        "error": STRING})),
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
        pattern=r"^https?://",
        validation_alias=AliasChoices("base_url", "baseUrl"),
        description="Its address, for an OpenAI-compatible host of your own (its key then "
        "only when `api_key` names one).",
    )

    @model_validator(mode="after")
    def _provider_key(self) -> FallbackModel:
        fill_provider_key(self)
        return self


def fill_provider_key(config: Any) -> None:
    """Set `api_key` to the provider's usual key variable when the file named
    none. That key goes only to the provider's own address: with a base_url of
    the file's choosing, the file must name the key itself. A default, not
    something the file said, so `catalyst upgrade` leaves it out."""
    if "api_key" not in config.model_fields_set:
        config.api_key = None if config.base_url else default_key(config.provider)
        config.model_fields_set.discard("api_key")


def default_key(provider_name: str) -> SecretRef | None:
    """The provider's usual key variable; None for local hosts that need no key."""
    found = provider_models.provider(provider_name)
    if found is None or found.key_optional:
        return None
    return SecretRef(env=found.key_env)


class JsonSchemaSpec(BaseModel):
    """`response_format.json_schema`: the shape the reply must have."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field("reply", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Its name.")
    description: str | None = Field(None, description="What the reply is.")
    shape: dict[str, Any] = Field(
        validation_alias=AliasChoices("schema", "shape"),
        description="A JSON Schema (draft 2020-12) for the reply.",
    )
    strict: bool = Field(True, description="Ask the model to follow it exactly.")

    @field_validator("shape")
    @classmethod
    def _valid_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return checked_schema(value)

    @model_validator(mode="after")
    def _strict_mode(self) -> JsonSchemaSpec:
        problem = strict_problem(self.shape) if self.strict else None
        if problem is not None:
            raise PydanticCustomError(
                "strict_schema", "strict mode needs every property required and no others "
                "({problem}): list them all in required and set additionalProperties: false, "
                "or set strict: false", {"problem": problem})
        return self

    @model_serializer
    def _wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {"name": self.name, "schema": self.shape, "strict": self.strict}
        if self.description is not None:
            wire["description"] = self.description
        return wire


def checked_schema(value: dict[str, Any]) -> dict[str, Any]:
    """A JSON Schema checked against the draft 2020-12 meta-schema (never
    evaluated), and safe to check a model's reply against at run time: literal
    (no {{ }}), no regular expressions (a hostile reply could make one run for
    hours), every $ref a pointer into the schema itself, every number finite."""
    try:
        Draft202012Validator.check_schema(value)
    except SchemaError as exc:
        where = "/".join(str(part) for part in exc.path)
        raise PydanticCustomError(
            "json_schema", "not a valid JSON Schema{where}: {reason}",
            {"where": f" at {where}" if where else "", "reason": exc.message},
        ) from None
    problem = _unsafe_schema(value, value, "")
    if problem is not None:
        raise PydanticCustomError("json_schema", "{problem}", {"problem": problem})
    return value


def _unsafe_schema(node: Any, root: dict[str, Any], where: str) -> str | None:
    at = f" (at {where or '/'})"
    if isinstance(node, str) and ("{{" in node or "{%" in node):
        return "a schema is literal: it cannot hold {{ }} expressions" + at
    if isinstance(node, float) and not math.isfinite(node):
        return "a schema's numbers must be finite" + at
    if isinstance(node, list):
        for index, item in enumerate(node):
            found = _unsafe_schema(item, root, f"{where}/{index}")
            if found:
                return found
    if not isinstance(node, dict):
        return None
    for key in ("pattern", "patternProperties"):
        if key in node:
            return (f"`{key}` is not supported: a regular expression checked against a "
                    "model's reply could run for hours; check the text in a later node"
                    + at)
    ref = node.get("$ref")
    if isinstance(ref, str) and _pointer_target(root, ref) is None:
        return (f"$ref {ref!r} does not point into this schema (only '#' or '#/…' "
                "pointers to a part of it)" + at)
    for key, item in node.items():
        found = _unsafe_schema(item, root, f"{where}/{key}")
        if found:
            return found
    return None


def _pointer_target(root: dict[str, Any], ref: str) -> Any:
    if ref == "#":
        return root
    if not ref.startswith("#/"):
        return None
    target: Any = root
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        if isinstance(target, dict) and part in target:
            target = target[part]
        elif isinstance(target, list) and part.isdigit() and int(part) < len(target):
            target = target[int(part)]
        else:
            return None
    return target


def strict_problem(schema: Any, where: str = "") -> str | None:
    """Where a schema breaks the providers' strict mode: every object lists all
    its properties in `required` and sets additionalProperties false."""
    if isinstance(schema, list):
        return next((found for index, item in enumerate(schema)
                     if (found := strict_problem(item, f"{where}/{index}"))), None)
    if not isinstance(schema, dict):
        return None
    if schema.get("type") == "object" or "properties" in schema:
        properties = schema.get("properties") or {}
        missing = sorted(set(properties) - set(schema.get("required") or ()))
        if missing:
            return f"at {where or '/'}: {', '.join(missing)} not in required"
        if schema.get("additionalProperties") is not False:
            return f"at {where or '/'}: additionalProperties is not false"
    return next((found for key, item in schema.items()
                 if isinstance(item, dict | list)
                 and (found := strict_problem(item, f"{where}/{key}"))), None)


class ResponseFormat(BaseModel):
    """What the reply is: text, any JSON object, or JSON of a given schema."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    type: Literal["text", "json_object", "json_schema"] = Field(description="The kind.")
    json_schema: JsonSchemaSpec | None = Field(
        None, description="For json_schema: the schema (and its name, strict)."
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthands(cls, value: Any) -> Any:
        # "json_object", and {"type": "json_schema", "schema": {…}} for short.
        if isinstance(value, str):
            return {"type": value}
        if isinstance(value, dict) and "schema" in value and "json_schema" not in value:
            rest = {k: v for k, v in value.items() if k not in ("schema", "name", "strict")}
            spec = {k: value[k] for k in ("schema", "name", "strict") if k in value}
            return {**rest, "json_schema": spec}
        return value

    @model_validator(mode="after")
    def _schema_when_needed(self) -> ResponseFormat:
        if (self.type == "json_schema") != (self.json_schema is not None):
            raise ValueError("json_schema goes with type json_schema, and only with it")
        return self


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
    response_format: ResponseFormat | None = Field(
        None,
        validation_alias=AliasChoices("response_format", "responseFormat"),
        description='"json_object", or {"type": "json_schema", "json_schema": {"name", '
        '"schema", "strict"}}: the output is then the parsed object (checked against the '
        "schema; one retry with the error, then the node fails).",
    )
    reasoning_effort: str | None = Field(
        None,
        validation_alias=AliasChoices("reasoning_effort", "reasoningEffort"),
        description="How hard a reasoning model thinks (per model: gpt-oss low/medium/high; "
        "qwen none/default/…; gpt-5 none…xhigh).",
    )
    reasoning_format: Literal["hidden", "raw", "parsed"] | None = Field(
        None,
        validation_alias=AliasChoices("reasoning_format", "reasoningFormat"),
        description="Groq: the reasoning hidden, raw in the content, or parsed into the "
        "output's `reasoning`. Not with include_reasoning.",
    )
    include_reasoning: bool | None = Field(
        None,
        validation_alias=AliasChoices("include_reasoning", "includeReasoning"),
        description="Groq: return the reasoning as the output's `reasoning`. Not with "
        "reasoning_format.",
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


class ToolDefinition(BaseModel):
    """A tool the model may call, and the node that carries the call out."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="The name the model calls.")
    description: str = Field("", description="What it does, for the model.")
    parameters: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object", "properties": {}},
        description="Its arguments as a JSON Schema object; each call is checked against it "
        "before the tool runs.",
    )
    node: str = Field(
        min_length=1,
        description="Id of the node that runs the call: its config reads the arguments as "
        "{{ tool.args.<name> }} and they arrive on its input; its output goes back to the "
        "model. (The edge from this node's `tools` handle to it may be drawn or left out.)",
    )

    @field_validator("parameters")
    @classmethod
    def _object_schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        checked_schema(value)
        if value.get("type") != "object":
            raise PydanticCustomError(
                "tool_parameters", 'a tool\'s parameters are a JSON Schema with "type": "object"'
            )
        return value


class ToolChoice(BaseModel):
    """One tool the model must call."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(description="The tool's name.")


class ChatConfig(ChatSettings):
    """A chat completion node: one model, and the models to fall back to."""

    tools: list[ToolDefinition] = Field(
        default_factory=list,
        max_length=128,
        description="Tools the model may call; each is carried out by a node of the workflow.",
    )
    tool_choice: Literal["auto", "none", "required"] | ToolChoice | None = Field(
        None,
        validation_alias=AliasChoices("tool_choice", "toolChoice"),
        description='auto, none, required, or {"name": …} for one tool.',
    )
    parallel_tool_calls: bool | None = Field(
        None,
        validation_alias=AliasChoices("parallel_tool_calls", "parallelToolCalls"),
        description="Whether the model may ask for several calls at once (they run together).",
    )
    max_iterations: int = Field(
        5, ge=1, le=50,
        validation_alias=AliasChoices("max_iterations", "maxIterations"),
        description="Rounds of tool calls before the node gives up without a final answer.",
    )

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


def capability_problems(
    provider: str, model_id: str, config: ChatSettings, context: NodeCheckContext
) -> list[Diagnostic]:
    """Reasoning and response-format settings the model takes (the table says)."""
    problems: list[Diagnostic] = []

    def problem(field: str, message: str, hint: str) -> None:
        problems.append(Diagnostic(code="unsupported-setting", node_id=context.node_id,
                                   path=context.pointer(field), message=message, hint=hint))

    if config.reasoning_format is not None and config.include_reasoning is not None:
        problem("include_reasoning", "reasoning_format and include_reasoning go together on "
                "no model", "keep one: include_reasoning: true, or reasoning_format: parsed")
    model = provider_models.chat_model(provider, model_id)
    if provider == "anthropic":
        for name in ("response_format", "reasoning_effort", "reasoning_format",
                     "include_reasoning"):
            if getattr(config, name) is not None:
                problem(name, f"{name} is not supported on Anthropic models here",
                        "use a Groq or OpenAI model for it, or remove it")
        return problems
    if model is None:
        return problems  # an unknown or templated model: the API will say
    effort = config.reasoning_effort
    if effort is not None and "{{" not in effort and effort not in model.reasoning_efforts:
        problem("reasoning_effort",
                f"{model_id} takes no reasoning_effort {effort!r}",
                f"use one of {', '.join(model.reasoning_efforts)}" if model.reasoning_efforts
                else f"{model_id} does not reason: remove it")
    if config.reasoning_format is not None and not model.reasoning_format:
        problem("reasoning_format", f"{model_id} takes no reasoning_format",
                "use include_reasoning: true" if model.include_reasoning
                else "remove it: the model does not return its reasoning")
    if config.include_reasoning is not None and not model.include_reasoning:
        problem("include_reasoning", f"{model_id} takes no include_reasoning",
                "remove it: the model does not return its reasoning")
    fmt = config.response_format
    if fmt is not None and fmt.type == "json_schema" and not model.json_schema:
        with_schema = [m.id for m in provider_models.chat_models_of(provider) if m.json_schema]
        problem("response_format", f"{model_id} does not take a json_schema response format",
                "use json_object, or a model that does: " + ", ".join(with_schema))
    return problems


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
        problems += capability_problems(provider, config.model, config, context)
        problems += tool_problems(provider, config, context)
        problems += plain_http_problems(config, context)
        problems += missing_prompt(config, context)
        return problems

    return check


def plain_http_problems(config: Any, context: NodeCheckContext) -> list[Diagnostic]:
    """A key sent over plain http to another machine travels readable: a warning."""
    entries = [(context.pointer("base_url"), config)] if getattr(config, "base_url", None) \
        else []
    entries += [(context.pointer("fallback_models") + json_pointer(index, "base_url"), fallback)
                for index, fallback in enumerate(getattr(config, "fallback_models", ()))
                if isinstance(fallback, FallbackModel) and fallback.base_url]
    problems = []
    for path, entry in entries:
        url = urlsplit(entry.base_url)
        local = url.hostname in ("localhost", "127.0.0.1", "::1")
        if url.scheme == "http" and not local and entry.api_key is not None:
            problems.append(Diagnostic(
                code="plain-http-key", severity="warning", node_id=context.node_id, path=path,
                message=f"the key in {entry.api_key.env} would travel unencrypted to "
                f"{url.hostname}",
                hint="use https://, or a host on this machine (localhost)",
            ))
    return problems


def tool_problems(provider: str, config: ChatConfig, context: NodeCheckContext) -> list[Diagnostic]:
    """Tools: unique names, a tool_choice that names one, models that take them,
    and (with tools or a JSON reply) fallbacks on OpenAI's wire as well."""
    problems: list[Diagnostic] = []

    def problem(field: str, code: str, message: str, hint: str, suffix: str = "") -> None:
        problems.append(Diagnostic(code=code, node_id=context.node_id,
                                   path=context.pointer(field) + suffix, message=message,
                                   hint=hint))

    names = [tool.name for tool in config.tools]
    for index, name in enumerate(names):
        if name in names[:index]:
            problem("tools", "duplicate-tool", f"two tools are named {name!r}",
                    "give each tool its own name", json_pointer(index, "name"))
    choice = config.tool_choice
    if choice is not None and not config.tools:
        problem("tool_choice", "unsupported-setting", "tool_choice without tools",
                "define tools, or remove tool_choice")
    elif isinstance(choice, ToolChoice) and choice.name not in names:
        problem("tool_choice", "unknown-tool", f"tool_choice names no tool {choice.name!r}",
                f"tools: {', '.join(names)}")
    needs_wire = bool(config.tools) or (
        config.response_format is not None and config.response_format.type != "text")
    if config.tools:
        if provider == "anthropic":
            problem("tools", "unsupported-setting", "tools are not supported on Anthropic "
                    "models here", "use a Groq or OpenAI(-compatible) model for a tool agent")
        model = provider_models.chat_model(provider, config.model)
        if model is not None and not model.tools:
            with_tools = [m.id for m in provider_models.chat_models_of(provider) if m.tools]
            problem("tools", "unsupported-setting", f"{config.model} does not call tools",
                    "use one of " + ", ".join(with_tools))
    if needs_wire:
        for index, fallback in enumerate(config.fallback_models):
            if isinstance(fallback, FallbackModel) and fallback.provider == "anthropic":
                problem("fallback_models", "unsupported-setting",
                        "a fallback to Anthropic cannot carry tools or a JSON reply format",
                        "fall back to a Groq or OpenAI(-compatible) model", json_pointer(index))
    return problems


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
        fmt = config.get("response_format") or {}
        if config.get("tools") or fmt.get("type") == "json_schema":
            names.append("json-schema")
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
    # Checking tool arguments and json_schema replies (templates/chat.jinja's SCHEMA_CHECK).
    RuntimePart(name="json-schema", template="json_schema.jinja", needs=("chat",),
                dependencies=("jsonschema>=4.18,<5",), imports=("import jsonschema",)),
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


def _tool_edges(config: Any) -> list[ImpliedEdge]:
    return [ImpliedEdge("tools", tool.node, "tools") for tool in config.tools]


def _reply_shape(default: Schema) -> Callable[[ShapeContext], Schema]:
    """With a JSON reply format the output is the parsed object: its schema's
    shape (json_schema) or any object (json_object)."""

    def shape(context: ShapeContext) -> Schema:
        fmt = getattr(context.config, "response_format", None)
        if fmt is None or fmt.type == "text":
            return default
        if fmt.type == "json_schema" and fmt.json_schema is not None:
            return fmt.json_schema.shape
        return {"type": "object"}

    return shape


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
        outputs=(
            Port("output", "Text", "text", "The reply text (`content`).", field="content"),
            Port("tools", "Tools", "any", "Nodes the model may call as tools (each defined in "
                 "`tools`); they run during this node, not after it.", calls=True),
        ),
        supports_streaming=True,
        text_fields=("system_prompt", "prompt"),
        rate_limited=True,
        implied_edges=_tool_edges,
        output_shape=_reply_shape(output_schema),
        check=chat_check(provider_of),
        output_description=output_description,
        output_schema=output_schema,
        example=example,
    )
