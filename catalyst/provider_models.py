"""Every provider Catalyst speaks to, and its models: the one table of ids,
limits, prices, speeds and retirements.

Facts as gathered in November 2026 (GROQ_FACTS.md, PROVIDER_FACTS.md). Providers
change these often; when a live API disagrees, update this table and nothing
else: the validator, the generated scripts, `catalyst upgrade`, the router and
the local server all read it.

Where the figures come from:
- prices: each vendor's list price in US$ per million tokens (input, output);
- audio prices: Groq's list prices per hour of audio (speech to text) and per
  million characters (text to speech); the audio models' request budgets are
  assumptions, like the chat models' starting budgets;
- `tokens_per_second`: Groq publishes its models' output speeds; for OpenAI and
  Anthropic there is no published figure, so these are Catalyst's estimates of
  typical output speed (third-party measurements of 2026, rounded) and only
  order models for llmRouter's `speed` strategy;
- `quality_rank`: Catalyst's own stated ranking for llmRouter's `quality`
  strategy (1 is best), by each vendor's positioning of the model (flagship,
  mid, small) and public benchmark standings in November 2026. It is an
  opinion, written down so that routing is predictable; override it by
  listing models in the order you want and using `load_balance` or `cost`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Provider:
    """Where a provider's API is and which environment variables reach it.

    A preset for an OpenAI-compatible host is exactly this: a base URL and the
    name of the variable holding its key. `base_url_env` overrides the URL
    (for the first-party SDKs it is the SDK's own variable, which the SDK reads
    itself); `key_optional` hosts (local servers) accept any key.
    """

    name: str
    label: str
    # Which SDK speaks to it: "groq", "openai" or "anthropic" (Voyage's
    # embeddings endpoint is OpenAI-shaped, so the openai SDK speaks to it too).
    sdk: str
    key_env: str
    base_url_env: str
    base_url: str
    key_optional: bool = False
    # What it is used for: "chat", "embeddings".
    serves: tuple[str, ...] = ("chat",)


PROVIDERS: tuple[Provider, ...] = (
    Provider("groq", "Groq", "groq", "GROQ_API_KEY", "GROQ_BASE_URL", "https://api.groq.com"),
    Provider("openai", "OpenAI", "openai", "OPENAI_API_KEY", "OPENAI_BASE_URL",
             "https://api.openai.com/v1", serves=("chat", "embeddings")),
    Provider("anthropic", "Anthropic", "anthropic", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL",
             "https://api.anthropic.com"),
    Provider("together", "Together", "openai", "TOGETHER_API_KEY", "TOGETHER_BASE_URL",
             "https://api.together.ai/v1", serves=("chat", "embeddings")),
    Provider("fireworks", "Fireworks", "openai", "FIREWORKS_API_KEY", "FIREWORKS_BASE_URL",
             "https://api.fireworks.ai/inference/v1", serves=("chat", "embeddings")),
    Provider("openrouter", "OpenRouter", "openai", "OPENROUTER_API_KEY", "OPENROUTER_BASE_URL",
             "https://openrouter.ai/api/v1"),
    Provider("deepinfra", "DeepInfra", "openai", "DEEPINFRA_API_KEY", "DEEPINFRA_BASE_URL",
             "https://api.deepinfra.com/v1/openai", serves=("chat", "embeddings")),
    Provider("ollama", "Ollama", "openai", "OLLAMA_API_KEY", "OLLAMA_BASE_URL",
             "http://localhost:11434/v1", key_optional=True, serves=("chat", "embeddings")),
    Provider("vllm", "vLLM", "openai", "VLLM_API_KEY", "VLLM_BASE_URL",
             "http://localhost:8000/v1", key_optional=True, serves=("chat", "embeddings")),
    Provider("voyage", "Voyage AI", "openai", "VOYAGE_API_KEY", "VOYAGE_BASE_URL",
             "https://api.voyageai.com/v1", serves=("embeddings",)),
)  # fmt: skip

# OpenAI-compatible chat hosts reached through the openai SDK with their base URL.
COMPATIBLE_PRESETS: tuple[str, ...] = tuple(
    p.name for p in PROVIDERS if p.sdk == "openai" and p.name != "openai" and "chat" in p.serves
)
CHAT_PROVIDER_NAMES: tuple[str, ...] = tuple(p.name for p in PROVIDERS if "chat" in p.serves)
EMBEDDING_PROVIDER_NAMES: tuple[str, ...] = tuple(
    p.name for p in PROVIDERS if "embeddings" in p.serves
)


@dataclass(frozen=True)
class ChatModel:
    """A chat model its provider serves today."""

    provider: str
    id: str
    context_window: int
    max_completion_tokens: int
    usd_per_million_input: float | None
    usd_per_million_output: float | None
    # Output tokens per second: published (Groq) or estimated (see the module doc).
    tokens_per_second: int | None
    quality_rank: int | None
    owned_by: str
    display_name: str = ""
    # Starting client-side budgets (assumed: the vendor's entry tier). The
    # generated limiter also pauses on 429s and on spent-budget headers and
    # adapts to them; `--rpm` / `--tpm` override both numbers.
    requests_per_minute: int = 1_000
    tokens_per_minute: int = 250_000
    # What it accepts beyond plain chat: `reasoning_effort` values; Groq's
    # `reasoning_format` (hidden, raw, parsed) and `include_reasoning`
    # (mutually exclusive); `response_format` json_schema (strict); tools.
    reasoning_efforts: tuple[str, ...] = ()
    reasoning_format: bool = False
    include_reasoning: bool = False
    json_schema: bool = True
    tools: bool = True


@dataclass(frozen=True)
class EmbeddingModel:
    """An embedding model, with the per-request limits requests are split under."""

    provider: str
    id: str
    dimensions: int
    usd_per_million: float | None
    max_inputs: int
    max_tokens_per_request: int
    # OpenAI's text-embedding-3-* shorten to any size up to the native one;
    # ada-002 cannot; Voyage offers a fixed set of sizes.
    shortenable: bool = True
    allowed_dimensions: tuple[int, ...] = ()


@dataclass(frozen=True)
class RetiredModel:
    """A model id old workflows still name, and what to use instead."""

    provider: str
    id: str
    replacement: str
    retired_on: str | None = None


_GPT_OSS_EFFORTS = ("low", "medium", "high")
_GPT_5_EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")

CHAT_MODELS: tuple[ChatModel, ...] = (
    ChatModel("groq", "openai/gpt-oss-120b", 131_072, 65_536, 0.15, 0.60, 500, 8, "OpenAI",
              reasoning_efforts=_GPT_OSS_EFFORTS, include_reasoning=True),
    ChatModel("groq", "openai/gpt-oss-20b", 131_072, 65_536, 0.075, 0.30, 1000, 13, "OpenAI",
              reasoning_efforts=_GPT_OSS_EFFORTS, include_reasoning=True),
    ChatModel("groq", "qwen/qwen3.8-27b", 131_072, 16_384, 0.80, 4.00, 450, 10, "Alibaba Cloud",
              reasoning_efforts=("none", "default", "low", "medium", "high"),
              reasoning_format=True, include_reasoning=True, json_schema=False),
    ChatModel("groq", "groq/compound", 131_072, 8_192, None, None, None, None, "Groq",
              requests_per_minute=200, tokens_per_minute=200_000, json_schema=False,
              tools=False),
    ChatModel("groq", "groq/compound-mini", 131_072, 8_192, None, None, None, None, "Groq",
              requests_per_minute=200, tokens_per_minute=200_000, json_schema=False,
              tools=False),
    ChatModel("openai", "gpt-5.5", 400_000, 128_000, 5.00, 30.00, 60, 2, "system",
              reasoning_efforts=_GPT_5_EFFORTS),
    ChatModel("openai", "gpt-5.4", 400_000, 128_000, 2.50, 15.00, 70, 5, "system",
              reasoning_efforts=_GPT_5_EFFORTS),
    ChatModel("openai", "gpt-5.4-mini", 400_000, 128_000, 0.75, 4.50, 120, 9, "system",
              reasoning_efforts=_GPT_5_EFFORTS),
    ChatModel("openai", "gpt-5.4-nano", 400_000, 128_000, 0.20, 1.25, 150, 15, "system",
              reasoning_efforts=_GPT_5_EFFORTS),
    ChatModel("openai", "gpt-4.1", 1_047_576, 32_768, 2.00, 8.00, 80, 11, "system"),
    ChatModel("openai", "gpt-4.1-mini", 1_047_576, 32_768, 0.40, 1.60, 100, 14, "system"),
    ChatModel("anthropic", "claude-fable-5", 1_000_000, 128_000, 10.00, 50.00, 40, 1,
              "anthropic", "Claude Fable 5"),
    ChatModel("anthropic", "claude-opus-4-8", 1_000_000, 128_000, 5.00, 25.00, 45, 3,
              "anthropic", "Claude Opus 4.8"),
    ChatModel("anthropic", "claude-opus-4-7", 1_000_000, 128_000, 5.00, 25.00, 45, 6,
              "anthropic", "Claude Opus 4.7"),
    ChatModel("anthropic", "claude-sonnet-5", 1_000_000, 128_000, 3.00, 15.00, 60, 4,
              "anthropic", "Claude Sonnet 5"),
    ChatModel("anthropic", "claude-sonnet-4-6", 1_000_000, 64_000, 3.00, 15.00, 60, 7,
              "anthropic", "Claude Sonnet 4.6"),
    ChatModel("anthropic", "claude-haiku-4-5", 200_000, 64_000, 1.00, 5.00, 110, 12,
              "anthropic", "Claude Haiku 4.5"),
    ChatModel("anthropic", "claude-haiku-4-5-20251001", 200_000, 64_000, 1.00, 5.00, 110, 12,
              "anthropic", "Claude Haiku 4.5"),
)  # fmt: skip

DEFAULT_CHAT_MODELS: dict[str, str] = {
    "groq": "openai/gpt-oss-20b",
    "openai": "gpt-5.4-mini",
    "anthropic": "claude-sonnet-4-6",
}

# Anthropic requires max_tokens on every request; this is sent when a node sets none.
ANTHROPIC_DEFAULT_MAX_TOKENS = 4096

RETIRED_MODELS: tuple[RetiredModel, ...] = (
    RetiredModel("groq", "llama-3.1-8b-instant", "openai/gpt-oss-20b", "2026-08-16"),
    RetiredModel("groq", "llama-3.3-70b-versatile", "openai/gpt-oss-120b", "2026-08-16"),
    RetiredModel("groq", "llama-3.1-70b-versatile", "openai/gpt-oss-120b"),
    RetiredModel("groq", "mixtral-8x7b-32768", "openai/gpt-oss-20b"),
    RetiredModel("groq", "gemma2-9b-it", "openai/gpt-oss-20b"),
    RetiredModel("groq", "llama3-8b-8192", "openai/gpt-oss-20b"),
    RetiredModel("groq", "llama3-70b-8192", "openai/gpt-oss-120b"),
    RetiredModel("groq", "qwen/qwen3-32b", "qwen/qwen3.8-27b"),
    RetiredModel("groq", "meta-llama/llama-4-scout-17b-16e-instruct", "openai/gpt-oss-20b"),
    RetiredModel("groq", "meta-llama/llama-4-maverick-17b-128e-instruct", "openai/gpt-oss-120b"),
    RetiredModel("groq", "moonshotai/kimi-k2-instruct", "openai/gpt-oss-120b"),
    RetiredModel("groq", "moonshotai/kimi-k2-instruct-0905", "openai/gpt-oss-120b"),
    RetiredModel("openai", "gpt-4-turbo-preview", "gpt-5.4", "2026-03-26"),
    RetiredModel("openai", "gpt-4-0125-preview", "gpt-5.4", "2026-03-26"),
    RetiredModel("openai", "gpt-4-1106-preview", "gpt-5.4", "2026-03-26"),
    RetiredModel("openai", "gpt-4-0314", "gpt-5.4", "2026-03-26"),
    RetiredModel("openai", "gpt-4", "gpt-5.4", "2026-10-23"),
    RetiredModel("openai", "gpt-4-0613", "gpt-5.4", "2026-10-23"),
    RetiredModel("openai", "gpt-3.5-turbo", "gpt-4.1-mini", "2026-10-23"),
    RetiredModel("openai", "gpt-3.5-turbo-0125", "gpt-4.1-mini", "2026-10-23"),
    RetiredModel("openai", "chatgpt-4o-latest", "gpt-5.4", "2026-02-17"),
    RetiredModel("anthropic", "claude-3-5-sonnet-20241022", "claude-sonnet-4-6", "2025-10-22"),
    RetiredModel("anthropic", "claude-3-5-sonnet-20240620", "claude-sonnet-4-6", "2025-10-22"),
    RetiredModel("anthropic", "claude-3-opus-20240229", "claude-opus-4-8", "2026-01-05"),
    RetiredModel("anthropic", "claude-3-7-sonnet-20250219", "claude-sonnet-4-6", "2026-02-19"),
    RetiredModel("anthropic", "claude-3-5-haiku-20241022", "claude-haiku-4-5", "2026-02-19"),
    RetiredModel("anthropic", "claude-3-haiku-20240307", "claude-haiku-4-5", "2026-04-20"),
    RetiredModel("anthropic", "claude-sonnet-4-20250514", "claude-sonnet-4-6", "2026-06-15"),
    RetiredModel("anthropic", "claude-sonnet-4-0", "claude-sonnet-4-6", "2026-06-15"),
    RetiredModel("anthropic", "claude-opus-4-20250514", "claude-opus-4-8", "2026-06-15"),
    RetiredModel("anthropic", "claude-opus-4-0", "claude-opus-4-8", "2026-06-15"),
)  # fmt: skip

EMBEDDING_MODELS: tuple[EmbeddingModel, ...] = (
    EmbeddingModel("openai", "text-embedding-3-small", 1536, 0.02, 2048, 300_000),
    EmbeddingModel("openai", "text-embedding-3-large", 3072, 0.13, 2048, 300_000),
    EmbeddingModel("openai", "text-embedding-ada-002", 1536, 0.10, 2048, 300_000,
                   shortenable=False),
    *(
        EmbeddingModel("voyage", name, 1024, price, 1000, tokens,
                       allowed_dimensions=(256, 512, 1024, 2048))
        for name, price, tokens in (
            ("voyage-4-large", 0.12, 120_000),
            ("voyage-4", 0.06, 320_000),
            ("voyage-4-lite", 0.02, 1_000_000),
            ("voyage-3.5", 0.06, 320_000),
            ("voyage-3.5-lite", 0.02, 1_000_000),
            ("voyage-3-large", 0.18, 120_000),
            ("voyage-code-3", 0.18, 120_000),
        )
    ),
)  # fmt: skip

DEFAULT_EMBEDDING_MODELS: dict[str, str] = {
    "openai": "text-embedding-3-small",
    "voyage": "voyage-4-lite",
}

# Speech to text (Groq's Whisper): the formats and sizes the API takes.
TRANSCRIPTION_FORMATS: tuple[str, ...] = (
    "flac", "mp3", "mp4", "mpeg", "mpga", "m4a", "ogg", "wav", "webm",
)  # fmt: skip
# Bytes per upload (decimal megabytes, the safe reading of "100 MB"); the free
# tier takes 25 MB and answers 413 above that.
TRANSCRIPTION_MAX_BYTES = 100_000_000
TRANSCRIPTION_FREE_TIER_MAX_BYTES = 25_000_000
TRANSCRIPTION_PROMPT_MAX_CHARACTERS = 896
# An ISO-639-1 code (two letters), or the three-letter ones Whisper also knows (haw, yue).
LANGUAGE_CODE = r"[a-z]{2,3}"


@dataclass(frozen=True)
class TranscriptionModel:
    """A speech-to-text model, priced by the hour of audio."""

    provider: str
    id: str
    usd_per_hour: float
    # Only some models translate (into English) as well as transcribe.
    translates: bool
    # Starting client-side request budget (assumed, as for chat models).
    requests_per_minute: int = 300


@dataclass(frozen=True)
class SpeechModel:
    """A text-to-speech model: its voices, price and per-request input limit."""

    provider: str
    id: str
    voices: tuple[str, ...]
    usd_per_million_characters: float
    # Characters one request may carry; longer texts are split and the audio joined.
    max_input_characters: int
    language: str
    # Starting client-side budgets (assumed): requests, and characters per
    # minute (the runtime's "tokens" for speech).
    requests_per_minute: int = 300
    characters_per_minute: int = 100_000


TRANSCRIPTION_MODELS: tuple[TranscriptionModel, ...] = (
    TranscriptionModel("groq", "whisper-large-v3", 0.111, translates=True),
    TranscriptionModel("groq", "whisper-large-v3-turbo", 0.04, translates=False),
)

SPEECH_MODELS: tuple[SpeechModel, ...] = (
    SpeechModel("groq", "canopylabs/orpheus-v1-english",
                ("autumn", "diana", "hannah", "austin", "daniel", "troy"), 22.00, 200, "en"),
    SpeechModel("groq", "canopylabs/orpheus-arabic-saudi",
                ("abdullah", "fahad", "sultan", "lulwa", "noura", "aisha"), 40.00, 200, "ar"),
)  # fmt: skip

# Kept apart from RETIRED_MODELS: chat nodes and their scripts never name them.
RETIRED_SPEECH_MODELS: tuple[RetiredModel, ...] = (
    RetiredModel("groq", "playai-tts", "canopylabs/orpheus-v1-english", "2025-12-31"),
    RetiredModel("groq", "playai-tts-arabic", "canopylabs/orpheus-arabic-saudi", "2025-12-31"),
)

DEFAULT_TRANSCRIPTION_MODEL = "whisper-large-v3-turbo"
DEFAULT_SPEECH_MODEL = "canopylabs/orpheus-v1-english"

_PROVIDERS = {provider.name: provider for provider in PROVIDERS}
_CHAT = {(model.provider, model.id): model for model in CHAT_MODELS}
_RETIRED = {(model.provider, model.id): model for model in RETIRED_MODELS}
_EMBEDDING = {(model.provider, model.id): model for model in EMBEDDING_MODELS}
_TRANSCRIPTION = {(model.provider, model.id): model for model in TRANSCRIPTION_MODELS}
_SPEECH = {(model.provider, model.id): model for model in SPEECH_MODELS}
_RETIRED_SPEECH = {(model.provider, model.id): model for model in RETIRED_SPEECH_MODELS}


def provider(name: str) -> Provider | None:
    return _PROVIDERS.get(name)


def chat_model(provider_name: str, model_id: str) -> ChatModel | None:
    """The current chat model with this id, if the provider still serves it."""
    return _CHAT.get((provider_name, model_id))


def retired_model(provider_name: str, model_id: str) -> RetiredModel | None:
    """The retirement record for this id, if the provider has retired it."""
    return _RETIRED.get((provider_name, model_id))


def retired_anywhere(model_id: str) -> RetiredModel | None:
    """The retirement record for an id whichever provider retired it (ids differ
    between providers, so an id alone tells)."""
    return next((model for model in RETIRED_MODELS if model.id == model_id), None)


def chat_model_ids(provider_name: str) -> list[str]:
    """Current chat model ids of one provider, in table order (stable for messages)."""
    return [model.id for model in CHAT_MODELS if model.provider == provider_name]


def chat_models_of(provider_name: str) -> tuple[ChatModel, ...]:
    return tuple(model for model in CHAT_MODELS if model.provider == provider_name)


def retired_models_of(provider_name: str) -> tuple[RetiredModel, ...]:
    return tuple(model for model in RETIRED_MODELS if model.provider == provider_name)


def embedding_model(provider_name: str, model_id: str) -> EmbeddingModel | None:
    return _EMBEDDING.get((provider_name, model_id))


def embedding_models_of(provider_name: str) -> tuple[EmbeddingModel, ...]:
    return tuple(model for model in EMBEDDING_MODELS if model.provider == provider_name)


def chat_table(provider_name: str) -> dict[str, dict[str, object]]:
    """A provider's models as generated scripts carry them: limits, prices, budgets."""
    return {
        model.id: {
            "context_window": model.context_window,
            "usd_per_million": [model.usd_per_million_input, model.usd_per_million_output],
            "requests_per_minute": model.requests_per_minute,
            "tokens_per_minute": model.tokens_per_minute,
        }
        for model in chat_models_of(provider_name)
    }


def retired_table(provider_name: str) -> dict[str, str]:
    return {model.id: model.replacement for model in retired_models_of(provider_name)}


def transcription_model(provider_name: str, model_id: str) -> TranscriptionModel | None:
    return _TRANSCRIPTION.get((provider_name, model_id))


def transcription_models_of(provider_name: str) -> tuple[TranscriptionModel, ...]:
    return tuple(model for model in TRANSCRIPTION_MODELS if model.provider == provider_name)


def speech_model(provider_name: str, model_id: str) -> SpeechModel | None:
    return _SPEECH.get((provider_name, model_id))


def speech_models_of(provider_name: str) -> tuple[SpeechModel, ...]:
    return tuple(model for model in SPEECH_MODELS if model.provider == provider_name)


def retired_speech_model(provider_name: str, model_id: str) -> RetiredModel | None:
    """The retirement record of a text-to-speech id (PlayAI's), with its replacement."""
    return _RETIRED_SPEECH.get((provider_name, model_id))


def transcription_table(provider_name: str) -> dict[str, dict[str, object]]:
    """A provider's speech-to-text models as generated scripts carry them."""
    return {
        model.id: {
            "usd_per_hour": model.usd_per_hour,
            "translates": model.translates,
            "requests_per_minute": model.requests_per_minute,
        }
        for model in transcription_models_of(provider_name)
    }


def speech_table(provider_name: str) -> dict[str, dict[str, object]]:
    """A provider's text-to-speech models as generated scripts carry them."""
    return {
        model.id: {
            "voices": list(model.voices),
            "usd_per_million_characters": model.usd_per_million_characters,
            "max_input_characters": model.max_input_characters,
            "requests_per_minute": model.requests_per_minute,
            "characters_per_minute": model.characters_per_minute,
        }
        for model in speech_models_of(provider_name)
    }


def is_language_code(text: str) -> bool:
    return re.fullmatch(LANGUAGE_CODE, text) is not None
