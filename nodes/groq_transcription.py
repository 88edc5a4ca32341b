"""groqTranscription: speech to text (or to English) with Groq's Whisper models.

The audio comes from a file path, an http(s) URL (downloaded by the script,
bounded in size and time) or bytes from upstream (`{"audio_base64", "filename"}`);
its format and size are checked before anything is uploaded.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import AliasChoices, Field

from catalyst import expressions, provider_models
from catalyst.config_types import NodeConfig, SecretRef, secret_field
from catalyst.diagnostics import Diagnostic
from catalyst.registry import NodeCheckContext, NodeType, Port
from catalyst.shapes import INTEGER, NUMBER, STRING, array, closed, nullable

FORMATS = provider_models.TRANSCRIPTION_FORMATS
PROMPT_LIMIT = provider_models.TRANSCRIPTION_PROMPT_MAX_CHARACTERS
MODELS = provider_models.transcription_models_of("groq")
MODEL_IDS = [model.id for model in MODELS]
TRANSLATING = [model.id for model in MODELS if model.translates]

OUTPUT = closed(
    {
        "text": STRING,
        "language": nullable(STRING),
        "duration_s": nullable(NUMBER),
        # Only when response_format is verbose_json (words: with the word granularity).
        "segments": array(closed({"id": INTEGER, "start": NUMBER, "end": NUMBER,
                                  "text": STRING})),
        "words": array(closed({"word": STRING, "start": NUMBER, "end": NUMBER})),
        "task": STRING,
        "model": STRING,
        "cost_usd": nullable(NUMBER),
        "latency_ms": NUMBER,
    },
    description="The transcript (`text`); in English when translating.",
)


class GroqTranscriptionConfig(NodeConfig):
    """Which audio, which model, and what to return."""

    model: str = Field(
        provider_models.DEFAULT_TRANSCRIPTION_MODEL,
        description="Whisper model: whisper-large-v3-turbo (cheaper, transcription only) or "
        "whisper-large-v3 (also translates).",
        json_schema_extra={"examples": [model.id for model in MODELS]},
    )
    file: str | None = Field(
        None,
        validation_alias=AliasChoices("file", "path", "file_path", "filePath"),
        description="Path of the audio file (flac, mp3, mp4, mpeg, mpga, m4a, ogg, wav, webm; "
        "at most 100 MB); may use {{ … }} expressions.",
    )
    url: str | None = Field(
        None,
        validation_alias=AliasChoices("url", "audio_url", "audioUrl"),
        description="http(s) address the script downloads the audio from (at most 100 MB, "
        "60 s); may use {{ … }} expressions.",
    )
    language: str | None = Field(
        None, description="ISO-639-1 code of the spoken language (e.g. en): faster and surer."
    )
    prompt: str | None = Field(
        None,
        description=f"Text guiding spelling and style (at most {PROMPT_LIMIT} characters); "
        "may use {{ … }} expressions.",
    )
    response_format: Literal["json", "text", "verbose_json"] = Field(
        "json",
        validation_alias=AliasChoices("response_format", "responseFormat"),
        description="verbose_json adds `segments` (and `words`) with timestamps to the output.",
    )
    timestamp_granularities: list[Literal["word", "segment"]] | None = Field(
        None,
        validation_alias=AliasChoices("timestamp_granularities", "timestampGranularities"),
        description='verbose_json only: ["segment"] (the default), ["word"] or both.',
    )
    temperature: float | None = Field(None, ge=0, le=1, description="Sampling temperature.")
    translate: bool = Field(
        False, description="Translate into English instead (whisper-large-v3 only)."
    )
    allow_private_urls: bool = Field(
        False,
        validation_alias=AliasChoices("allow_private_urls", "allowPrivateUrls"),
        description="Let `url` reach loopback, private and link-local addresses (off: a "
        "workflow input cannot make the script probe your network).",
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


def _extension(path: str) -> str:
    name = path.replace("\\", "/").rsplit("/", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def check(config: GroqTranscriptionConfig, context: NodeCheckContext) -> Sequence[Diagnostic]:
    problems: list[Diagnostic] = []
    model = provider_models.transcription_model("groq", config.model)
    if model is None and _literal(config.model):
        problems.append(Diagnostic(
            code="unknown-model", severity="warning", node_id=context.node_id,
            path=context.pointer("model"),
            message=f"{config.model!r} is not in Catalyst's Groq speech-to-text table",
            hint=f"current models: {', '.join(MODEL_IDS)}",
        ))
    if config.translate and model is not None and not model.translates:
        problems.append(_problem(
            context, "translate", "translation-unsupported",
            f"{config.model} transcribes only; it cannot translate",
            f"set model to {' or '.join(TRANSLATING)}, or translate to false"))
    if config.translate and config.language is not None:
        problems.append(_problem(
            context, "language", "unsupported-field",
            "a translation is always into English and takes no language",
            "remove language, or set translate to false"))
    elif _literal(config.language) and not provider_models.is_language_code(
            str(config.language)):
        problems.append(_problem(
            context, "language", "invalid-language",
            f"language {config.language!r} is not an ISO-639-1 code",
            "use a two-letter code such as en, fr, de, es, ar, ja"))
    if _literal(config.prompt) and len(str(config.prompt)) > PROMPT_LIMIT:
        problems.append(_problem(
            context, "prompt", "prompt-too-long",
            f"prompt has {len(str(config.prompt))} characters; Groq takes at most {PROMPT_LIMIT}",
            f"shorten it to at most {PROMPT_LIMIT} characters"))
    if config.timestamp_granularities and config.response_format != "verbose_json":
        problems.append(_problem(
            context, "timestamp_granularities", "unsupported-field",
            "timestamp granularities need response_format verbose_json",
            "set response_format to verbose_json, or remove timestamp_granularities"))
    if config.file is not None and config.url is not None:
        problems.append(_problem(
            context, "url", "conflicting-fields", "set either file or url, not both",
            "remove file or url"))
    if _literal(config.file) and _extension(str(config.file)) not in FORMATS:
        problems.append(_problem(
            context, "file", "unsupported-format",
            f"{config.file!r} is not a format Groq transcribes",
            f"use one of: {', '.join(FORMATS)}"))
    if _literal(config.url) and not str(config.url).lower().startswith(("http://", "https://")):
        problems.append(_problem(
            context, "url", "unsupported-url", f"{config.url!r} is not an http(s) address",
            "only http:// and https:// URLs are downloaded; use `file` for a local path"))
    if config.file is None and config.url is None and "input" not in context.connected_inputs:
        problems.append(Diagnostic(
            code="missing-input", node_id=context.node_id, path=context.config_path,
            message="no audio: no `file`, no `url` and no edge into `input`",
            hint="set file (e.g. {{ input.audio }}) or url, or connect a node to `input`",
        ))
    return problems


def _data() -> Mapping[str, Any]:
    return {
        "models": provider_models.transcription_table("groq"),
        "formats": list(FORMATS),
        "max_bytes": provider_models.TRANSCRIPTION_MAX_BYTES,
        "free_tier_max_bytes": provider_models.TRANSCRIPTION_FREE_TIER_MAX_BYTES,
        "prompt_limit": PROMPT_LIMIT,
    }


NODE_TYPES = (
    NodeType(
        type="groqTranscription",
        category="ai",
        display_name="Groq transcription",
        description="Speech to text (or English translation) with Whisper on Groq.",
        icon="audio-lines",
        color="#f55036",
        config_model=GroqTranscriptionConfig,
        template="groq_transcription.jinja",
        shared_runtimes=("provider:groq",),
        inputs=(Port("input", "Audio", "any", "A file path or http(s) URL, or an object's "
                     "`path` / `url` / `audio_base64` (+ `filename`), when `file` and `url` "
                     "are not set; groqSpeech's output fits."),),
        outputs=(Port("output", "Text", "text", "The transcript (`text`).", field="text"),),
        imports=(
            "import base64",
            "import binascii",
            "import io",
            "import ipaddress",
            "import posixpath",
            "import socket",
            "import stat",
            "import wave",
            "from urllib.parse import urljoin, urlsplit",
        ),
        rate_limited=True,
        check=check,
        template_data=_data,
        output_description="{text, language, duration_s, segments?, words?, task, model, "
        "cost_usd, latency_ms}",
        output_schema=OUTPUT,
        example={"model": "whisper-large-v3-turbo", "file": "{{ input.audio }}",
                 "language": "en", "response_format": "verbose_json"},
    ),
)
