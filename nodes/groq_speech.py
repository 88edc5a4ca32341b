"""groqSpeech: text to speech with Groq's Orpheus models, written as one WAV file.

Text longer than a request may carry is split at sentence ends (an over-long
sentence at spaces between words), the requests go out concurrently within the
model's rate budget, and the parts are joined in order into one WAV, written
atomically (never through a symbolic link, never over a file that is not its own
earlier output).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import AliasChoices, Field

from catalyst import expressions, provider_models
from catalyst.config_types import NodeConfig, SecretRef, secret_field
from catalyst.diagnostics import Diagnostic
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import INTEGER, NUMBER, STRING, closed, nullable

MODELS = provider_models.speech_models_of("groq")
MODEL_IDS = [model.id for model in MODELS]
DEFAULT_MAX_CHARACTERS = 10_000

OUTPUT = closed(
    {
        "path": STRING,
        "duration_s": NUMBER,
        "characters": INTEGER,
        "requests": INTEGER,
        "model": STRING,
        "voice": STRING,
        "cost_usd": nullable(NUMBER),
        "latency_ms": NUMBER,
    },
    description="Where the WAV was written, how long it lasts, what it cost.",
)


class GroqSpeechConfig(NodeConfig):
    """What to say, in which voice, and where the WAV goes."""

    model: str = Field(
        provider_models.DEFAULT_SPEECH_MODEL,
        description="Orpheus model: canopylabs/orpheus-v1-english or "
        "canopylabs/orpheus-arabic-saudi.",
        json_schema_extra={"examples": [model.id for model in MODELS]},
    )
    voice: str | None = Field(
        None,
        description="One of the model's voices (default: its first). English: "
        f"{', '.join(MODELS[0].voices)}; Arabic: {', '.join(MODELS[1].voices)}.",
    )
    text: str | None = Field(
        None,
        description="What to say; may use {{ … }} expressions and bracketed directions such "
        "as [cheerful]. Without it, what arrives on `input` (a text, or an object's "
        "`text` / `content`).",
    )
    path: str | None = Field(
        None,
        validation_alias=AliasChoices("path", "output_path", "outputPath", "file"),
        description="The .wav file to write (its folder must exist); may use {{ … }} "
        "expressions. Without it, an object's `path` on `input`.",
    )
    overwrite: bool = Field(
        True,
        description="Replace this node's own earlier output at `path` (never any other "
        "file, never through a symbolic link); false refuses any existing file.",
    )
    max_characters: int = Field(
        DEFAULT_MAX_CHARACTERS,
        ge=1,
        le=1_000_000,
        validation_alias=AliasChoices("max_characters", "maxCharacters"),
        description="Longest text spoken (cost guard: a longer one fails before any request).",
    )
    api_key: SecretRef = secret_field(
        "GROQ_API_KEY", 'Environment variable with the Groq API key: "NAME" or '
        '{"$secret": "NAME"}.', "api_key", "apiKey",
    )


def _literal(value: Any) -> bool:
    return isinstance(value, str) and not expressions.is_template(value)


def _problem(context: NodeCheckContext, field: str, code: str, message: str,
             hint: str) -> Diagnostic:
    return Diagnostic(code=code, node_id=context.node_id, path=context.pointer(field),
                      message=message, hint=hint)


def _voices(model_id: str) -> str:
    model = provider_models.speech_model("groq", model_id)
    return ", ".join(model.voices) if model else ""


def check(config: GroqSpeechConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems: list[Diagnostic] = []
    retired = provider_models.retired_speech_model("groq", config.model)
    model = provider_models.speech_model("groq", config.model)
    if retired is not None:
        problems.append(Diagnostic(
            code="model-decommissioned", severity="warning", node_id=context.node_id,
            path=context.pointer("model"),
            message=f"Groq retired {config.model!r} on {retired.retired_on}; calls to it fail",
            hint=f"use {retired.replacement!r} instead (voices: {_voices(retired.replacement)})",
        ))
    elif model is None and _literal(config.model):
        problems.append(Diagnostic(
            code="unknown-model", severity="warning", node_id=context.node_id,
            path=context.pointer("model"),
            message=f"{config.model!r} is not in Catalyst's Groq text-to-speech table",
            hint=f"current models: {', '.join(MODEL_IDS)}",
        ))
    if model is not None and _literal(config.voice) and config.voice not in model.voices:
        problems.append(_problem(
            context, "voice", "unknown-voice", f"{model.id} has no voice {config.voice!r}",
            f"voices of {model.id}: {', '.join(model.voices)}"))
    if _literal(config.path) and not str(config.path).lower().endswith(".wav"):
        problems.append(_problem(
            context, "path", "unsupported-format", f"{config.path!r} is not a .wav file",
            "the node writes WAV: end the path in .wav"))
    if _literal(config.text) and len(str(config.text)) > config.max_characters:
        problems.append(_problem(
            context, "text", "text-too-long",
            f"text has {len(str(config.text))} characters, more than max_characters "
            f"({config.max_characters})",
            "shorten the text, or raise max_characters"))
    wired = "input" in context.connected_inputs
    if config.text is None and not wired:
        problems.append(Diagnostic(
            code="missing-input", node_id=context.node_id, path=context.config_path,
            message="nothing to say: no `text` and no edge into `input`",
            hint="set text (e.g. {{ input.text }}) or connect a node to `input`",
        ))
    if config.path is None and not wired:
        problems.append(Diagnostic(
            code="missing-path", node_id=context.node_id, path=context.config_path,
            message="no file to write the speech to",
            hint="set path (e.g. speech.wav or {{ input.out }})",
        ))
    return problems


def _data() -> Mapping[str, Any]:
    return {
        "models": provider_models.speech_table("groq"),
        "retired": {model.id: model.replacement
                    for model in provider_models.RETIRED_SPEECH_MODELS},
    }


NODE_TYPES = (
    NodeType(
        type="groqSpeech",
        category="ai",
        display_name="Groq speech",
        description="Text to speech with Orpheus on Groq, written as one WAV file.",
        icon="volume-2",
        color="#f55036",
        config_model=GroqSpeechConfig,
        template="groq_speech.jinja",
        shared_runtimes=("provider:groq",),
        inputs=(Port("input", "Text", "any", "The text to say (when `text` is not set), or an "
                     "object's `text` / `content` and `path`."),),
        outputs=(Port("output", "Audio", "json", "{path, duration_s, characters, cost_usd}"),),
        imports=(
            "import contextlib",
            "import io",
            "import stat",
            "import tempfile",
            "import wave",
        ),
        text_fields=("text",),
        rate_limited=True,
        check=check,
        template_data=_data,
        output_description="{path, duration_s, characters, requests, model, voice, cost_usd, "
        "latency_ms}",
        output_schema=OUTPUT,
        example={"model": provider_models.DEFAULT_SPEECH_MODEL, "voice": "troy",
                 "text": "{{ nodes.summary.output.content }}", "path": "summary.wav"},
    ),
)
