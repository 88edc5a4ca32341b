"""What the local server is told to do, and what it remembers about each request."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

ReplyFunction = Callable[[dict[str, Any]], str]
"""Builds the reply text from the chat request, OpenAI-shaped whatever the protocol.

For Anthropic's `/v1/messages` it sees `messages` with `system` as a first
system message, `max_completion_tokens` for `max_tokens`, `stop` for
`stop_sequences`, and the original body under `anthropic_body`.
"""

ForcedError = tuple[int, str, str]
"""(HTTP status, error code, message) forced for one model."""


@dataclass(frozen=True)
class MockSettings:
    """Pacing, replies, auth and fault injection for one LocalServer (all protocols).

    Every fault is deterministic: shares are drawn from `random.Random(seed)`,
    so the same sequence of requests meets the same sequence of faults.
    """

    latency_ms: float = 0.0
    ttft_ms: float = 0.0
    tokens_per_second: float = 0.0
    reply: str | ReplyFunction | None = None
    api_key: str | None = None
    seed: int = 0
    rate_limit_every: int = 0
    rate_limit_share: float = 0.0
    retry_after_s: float = 1.0
    retry_after_ms: float | None = None
    # Groq's other forms of the same facts, so clients' parsers for them run:
    # retry-after as an HTTP date instead of seconds, and x-ratelimit-* values
    # sent instead of the computed ones (a spent budget, "2m59.56s", "120ms").
    retry_after_date: bool = False
    rate_limit_headers: Mapping[str, str] = field(default_factory=dict)
    # Hold each chat request until this many are in flight at once (at most
    # HOLD_TIMEOUT_S): proves a client sends them concurrently whatever the load.
    hold_until_in_flight: int = 0
    server_error_share: float = 0.0
    reset_share: float = 0.0
    cut_stream_after: int | None = None
    stream_error_after: int | None = None
    rpm_limit: int | None = None
    tpm_limit: int | None = None
    fail_models: Mapping[str, ForcedError] = field(default_factory=dict)
    # Bytes an audio upload may have before the answer is 413: Groq's 100 MB
    # (set 25_000_000 to play the free tier).
    max_audio_bytes: int = 100_000_000

    def __post_init__(self) -> None:
        # A typo such as rate_limit_share=30 (meaning 30 %) would otherwise fail
        # every request and look like a client bug.
        for name in ("rate_limit_share", "server_error_share", "reset_share"):
            share = getattr(self, name)
            if not 0.0 <= share <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {share!r}")
        for name in ("latency_ms", "ttft_ms", "tokens_per_second", "retry_after_s"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must not be negative")
        if self.retry_after_ms is not None and self.retry_after_ms < 0:
            raise ValueError("retry_after_ms must not be negative")
        for name in self.rate_limit_headers:
            if not name.startswith("x-ratelimit-"):
                raise ValueError(f"rate_limit_headers takes x-ratelimit-* headers, got {name!r}")
        if self.hold_until_in_flight < 0:
            raise ValueError("hold_until_in_flight must not be negative")
        if self.rate_limit_every < 0:
            raise ValueError("rate_limit_every must not be negative")
        for name in ("cut_stream_after", "stream_error_after"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must not be negative")
        for name in ("rpm_limit", "tpm_limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be at least 1 (use None for no limit)")
        if self.max_audio_bytes < 1:
            raise ValueError("max_audio_bytes must be at least 1")
        for model_id, forced in self.fail_models.items():
            status = forced[0]
            if not 400 <= status <= 599:
                raise ValueError(f"fail_models[{model_id!r}] status must be 4xx or 5xx")


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it. Credentials are never kept."""

    method: str
    path: str
    headers: dict[str, str]
    authorization_present: bool
    body: Any
    retry_count: int
    status: int | None
    received_at: float

    @property
    def is_chat(self) -> bool:
        """A chat request in any protocol (Groq, OpenAI or Anthropic)."""
        return self.method == "POST" and self.path in CHAT_PATHS

    @property
    def is_embedding(self) -> bool:
        return self.method == "POST" and self.path in EMBEDDING_PATHS

    @property
    def is_audio(self) -> bool:
        """A transcription, translation or speech request."""
        return self.method == "POST" and self.path in AUDIO_PATHS


CHAT_PATH = "/openai/v1/chat/completions"
MODELS_PATH = "/openai/v1/models"
OPENAI_CHAT_PATH = "/v1/chat/completions"
ANTHROPIC_MESSAGES_PATH = "/v1/messages"
OPENAI_EMBEDDINGS_PATH = "/v1/embeddings"
VOYAGE_EMBEDDINGS_PATH = "/voyage/v1/embeddings"
# An OpenAI-compatible host (Together, Ollama, …): OpenAI's paths under this
# prefix, any model id accepted (each host names models its own way).
COMPATIBLE_PREFIX = "/compatible"
CHAT_PATHS = frozenset({CHAT_PATH, OPENAI_CHAT_PATH, ANTHROPIC_MESSAGES_PATH,
                        COMPATIBLE_PREFIX + OPENAI_CHAT_PATH})
EMBEDDING_PATHS = frozenset({OPENAI_EMBEDDINGS_PATH, VOYAGE_EMBEDDINGS_PATH,
                             COMPATIBLE_PREFIX + OPENAI_EMBEDDINGS_PATH})
TRANSCRIPTIONS_PATH = "/openai/v1/audio/transcriptions"
TRANSLATIONS_PATH = "/openai/v1/audio/translations"
SPEECH_PATH = "/openai/v1/audio/speech"
AUDIO_PATHS = frozenset({TRANSCRIPTIONS_PATH, TRANSLATIONS_PATH, SPEECH_PATH})
