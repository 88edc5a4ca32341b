"""What a protocol module supplies to the provider-neutral core.

A protocol knows its paths, request validation, JSON bodies, SSE framing and
error bodies. Everything else (HTTP, faults, rate limits, recording, token
counting, reply text, embedding vectors) lives in the core and is the same for
all of them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from catalyst.local_server.errors import ApiError, invalid_api_key
from catalyst.local_server.faults import SERVER_ERROR_STATUSES
from catalyst.local_server.replies import Completion
from catalyst.local_server.settings import MockSettings

if TYPE_CHECKING:
    from catalyst.local_server.exchange import Exchange
    from catalyst.local_server.responder import Responder

REJECTED_KEY_PREFIXES = ("bad", "invalid")


@dataclass(frozen=True)
class ChatRequest:
    """A chat request that passed the protocol's validation."""

    body: dict[str, Any]
    model_id: str
    stream: bool
    # OpenAI-shaped view the reply and token rules read (see replies.py).
    reply_input: dict[str, Any]
    tokens_per_second: float | None = None


@dataclass(frozen=True)
class EmbeddingRequest:
    """An embeddings request that passed validation: texts in order, vector size, encoding."""

    model_id: str
    texts: tuple[str, ...]
    dimensions: int
    base64: bool
    tokens: int


@dataclass(frozen=True)
class CompletionIds:
    """The ids one completion carries: its own id and the request id (`req_mock_<n>`)."""

    completion_id: str
    request_id: str
    model: str


def key_accepted(key: str | None, settings: MockSettings) -> bool:
    """Any non-empty key not starting `bad`/`invalid`, or exactly `settings.api_key`."""
    if not key:
        return False
    if settings.api_key is not None:
        return key == settings.api_key
    return not key.lower().startswith(REJECTED_KEY_PREFIXES)


def bearer_key(exchange: Exchange) -> str | None:
    scheme, _, key = (exchange.authorization or "").partition(" ")
    return key.strip() if scheme.lower() == "bearer" else None


class Wire(ABC):
    """One provider's wire protocol."""

    name: ClassVar[str]
    request_id_header: ClassVar[str] = "x-request-id"
    # 5xx codes the server_error_share switch picks from for this protocol.
    server_statuses: ClassVar[tuple[int, ...]] = SERVER_ERROR_STATUSES

    def key_accepted(self, exchange: Exchange, settings: MockSettings) -> bool:
        return key_accepted(bearer_key(exchange), settings)

    def unauthorized(self) -> ApiError:
        return invalid_api_key()

    @abstractmethod
    def error_body(self, error: ApiError, request_id: str) -> dict[str, Any]:
        """The JSON body of an error response."""

    def rate_headers(self, headers: dict[str, str]) -> dict[str, str]:
        """The core's x-ratelimit-* headers in this protocol's names."""
        return headers

    @abstractmethod
    def handle(self, responder: Responder) -> None:
        """Answer one authorised request (route by method and path)."""


class ChatWire(Wire):
    """A protocol with a chat endpoint: validation, bodies and stream events."""

    completion_prefix: ClassVar[str] = "chatcmpl-"
    # Status of the injected mid-stream error (stream_error_after).
    stream_error_status: ClassVar[int] = 500

    @abstractmethod
    def validate_chat(self, body: Any, settings: MockSettings) -> ChatRequest | ApiError:
        """The first problem the provider would report, or the accepted request."""

    @abstractmethod
    def reply_body(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> dict[str, Any]:
        """The non-streamed answer."""

    @abstractmethod
    def stream_open(
        self, ids: CompletionIds, request: ChatRequest, completion: Completion
    ) -> list[bytes]:
        """SSE events before the first token."""

    @abstractmethod
    def stream_token(self, ids: CompletionIds, request: ChatRequest, token: str) -> bytes:
        """The SSE event carrying one token."""

    @abstractmethod
    def stream_close(
        self,
        ids: CompletionIds,
        request: ChatRequest,
        completion: Completion,
        settings: MockSettings,
    ) -> list[bytes]:
        """SSE events after the last token (finish reason, usage, terminator)."""

    @abstractmethod
    def stream_error(self, error: ApiError) -> bytes:
        """An error event sent after the 200 (stream_error_after)."""


class EmbeddingWire(Wire):
    """A protocol with an embeddings endpoint."""

    @abstractmethod
    def validate_embeddings(self, body: Any) -> EmbeddingRequest | ApiError:
        """The first problem the provider would report, or the accepted request."""

    @abstractmethod
    def embeddings_body(
        self, request: EmbeddingRequest, vectors: list[list[float]]
    ) -> dict[str, Any]:
        """The answer carrying one vector per text, in input order."""
