"""The HTTP side: one handler per connection, speaking Groq's OpenAI-compatible paths."""

from __future__ import annotations

import json
import logging
import socket
import struct
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import unquote, urlsplit

from catalyst.groq_models import chat_model
from catalyst.mock_groq.exchange import Exchange
from catalyst.mock_groq.faults import DropConnection, retry_headers
from catalyst.mock_groq.replies import Completion, build_completion
from catalyst.mock_groq.settings import (
    CHAT_PATH,
    MODELS_PATH,
    MockSettings,
)
from catalyst.mock_groq.state import ServerState
from catalyst.mock_groq.validation import ChatRequest, validate_chat
from catalyst.mock_groq.wire import (
    DEFAULT_TOKENS_PER_SECOND,
    ApiError,
    CompletionIds,
    completion_body,
    content_chunk,
    final_chunk,
    first_chunk,
    invalid_api_key,
    invalid_request,
    model_body,
    model_not_found,
    models_list_body,
    server_error,
    sse_data,
    sse_error,
    unknown_url,
    usage_body,
)

logger = logging.getLogger(__name__)

REJECTED_KEY_PREFIXES = ("bad", "invalid")
DISCONNECTS = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
)


class StateHolder(Protocol):
    state: ServerState


class GroqHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server sends headers and body in separate writes; with Nagle on, each
    # response can stall ~40 ms on delayed ACKs and swamp latency measurements.
    disable_nagle_algorithm = True
    server_version = "mock-groq"
    sys_version = ""
    # Idle keep-alive connections must not pin a thread forever in the CLI server.
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the server is used inside test runs and generated-script runs."""

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """Groq-shaped JSON instead of http.server's HTML page for unparsable requests."""
        text = message or self.responses.get(code, ("Bad Request",))[0]
        kind = "internal_server_error" if code >= 500 else "invalid_request_error"
        data = json.dumps(ApiError(code, text, kind).body()).encode()
        self.close_connection = True
        self.send_response(code, text)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    @property
    def state(self) -> ServerState:
        server: StateHolder = self.server  # type: ignore[assignment]
        return server.state

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def do_OPTIONS(self) -> None:
        self._handle()

    def _handle(self) -> None:
        path = urlsplit(self.path).path
        exchange: Exchange | None = None
        try:
            exchange = Exchange(self, path, self._read_body())
            self._route(exchange)
        except DISCONNECTS:
            self.close_connection = True
        except Exception:
            logger.exception("mock Groq server failed on %s %s", self.command, path)
            self.close_connection = True
            if exchange is not None and not exchange.recorded:
                settings = self.state.settings
                self._send_error(exchange, server_error(500), settings)

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _route(self, exchange: Exchange) -> None:
        settings = self.state.settings
        if not _key_accepted(exchange.authorization, settings):
            self._send_error(exchange, invalid_api_key(), settings)
            return
        method, path = exchange.method, exchange.path
        if method == "POST" and path == CHAT_PATH:
            self.state.enter_chat(settings.hold_until_in_flight)
            try:
                self._chat(exchange, settings)
            finally:
                self.state.leave_chat()
        elif method == "GET" and path == MODELS_PATH:
            self._send_json(exchange, 200, models_list_body(), settings)
        elif method == "GET" and path.startswith(MODELS_PATH + "/"):
            model_id = unquote(path[len(MODELS_PATH) + 1 :])
            model = chat_model(model_id)
            if model is None:
                self._send_error(exchange, model_not_found(model_id), settings)
            else:
                self._send_json(exchange, 200, model_body(model), settings)
        else:
            self._send_error(exchange, unknown_url(method, path), settings)

    def _chat(self, exchange: Exchange, settings: MockSettings) -> None:
        if exchange.body_error is not None or exchange.body is None:
            problem = invalid_request(
                f"Request body is not valid JSON: {exchange.body_error or 'empty body'}"
            )
            self._send_error(exchange, problem, settings)
            return
        checked = validate_chat(exchange.body, settings.fail_models)
        if isinstance(checked, ApiError):
            model_id = (
                exchange.body.get("model") if isinstance(exchange.body, dict) else None
            )
            headers = checked.headers
            if checked.status == 429 and "retry-after" not in headers:
                headers = {
                    **headers,
                    **retry_headers(
                        settings.retry_after_s,
                        settings.retry_after_ms,
                        settings.retry_after_date,
                    ),
                }
            self._send_error(
                exchange, checked, settings, model_id, extra_headers=headers
            )
            return
        completion = build_completion(checked.body, settings)
        admission = self.state.admit_chat(
            checked.model_id, completion.total_tokens, settings
        )
        if isinstance(admission.refusal, DropConnection):
            self._drop(exchange)
            return
        if admission.refusal is not None:
            self._send_error(
                exchange,
                admission.refusal,
                settings,
                checked.model_id,
                extra_headers={**admission.rate_headers, **admission.refusal.headers},
            )
            return
        ids = CompletionIds(
            f"chatcmpl-{admission.completion_number}",
            self.state.next_request_id(),
            checked.model_id,
        )
        headers = {**admission.rate_headers, "x-request-id": ids.request_id}
        if checked.stream:
            self._stream(exchange, checked, completion, ids, headers, settings)
        else:
            self._complete(exchange, checked, completion, ids, headers, settings)

    def _complete(
        self,
        exchange: Exchange,
        request: ChatRequest,
        completion: Completion,
        ids: CompletionIds,
        headers: dict[str, str],
        settings: MockSettings,
    ) -> None:
        # Same total time as the equivalent stream, so streamed and non-streamed
        # runs of one workflow can be compared fairly.
        gaps = max(0, completion.completion_tokens - 1)
        self._pause(settings.latency_ms / 1000 + settings.ttft_ms / 1000)
        if settings.tokens_per_second > 0:
            self._pause(gaps / settings.tokens_per_second)
        usage = _usage(request, completion, settings)
        body = completion_body(ids, completion, usage)
        self._send_json(exchange, 200, body, settings, headers=headers)

    def _stream(
        self,
        exchange: Exchange,
        request: ChatRequest,
        completion: Completion,
        ids: CompletionIds,
        headers: dict[str, str],
        settings: MockSettings,
    ) -> None:
        self._pause(settings.latency_ms / 1000)
        self.state.record(exchange.recorded_as(200))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        # Chunked framing, not Connection: close, so the connection survives for
        # keep-alive and a cut stream is detectable as an incomplete body.
        self.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self._write_chunk(sse_data(first_chunk(ids)))
        self._pause(settings.ttft_ms / 1000)
        for index, token in enumerate(completion.tokens):
            if index == settings.cut_stream_after:
                self.close_connection = True
                return
            if index == settings.stream_error_after:
                self._write_chunk(sse_error(_stream_error(index)))
                self._end_chunks()
                return
            if index > 0 and settings.tokens_per_second > 0:
                self._pause(1 / settings.tokens_per_second)
            self._write_chunk(sse_data(content_chunk(ids, token)))
        usage = _usage(request, completion, settings)
        self._write_chunk(sse_data(final_chunk(ids, completion.finish_reason, usage)))
        self._write_chunk(sse_data("[DONE]"))
        self._end_chunks()

    def _write_chunk(self, data: bytes) -> None:
        # wfile is unbuffered (wbufsize 0), so each event leaves in one send as
        # soon as it is written; flush() keeps that true if buffering is added.
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def _end_chunks(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _pause(self, seconds: float) -> None:
        if seconds > 0:
            # Wakes at once when the server stops, so stop() never waits on a sleep.
            self.state.stopping.wait(seconds)

    def _drop(self, exchange: Exchange) -> None:
        self.state.record(exchange.recorded_as(None))
        # Linger 0 turns the close into a TCP reset, as a crashed upstream would.
        self.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.close_connection = True

    def _send_error(
        self,
        exchange: Exchange,
        error: ApiError,
        settings: MockSettings,
        model_id: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        headers = dict(error.headers if extra_headers is None else extra_headers)
        self._send_json(
            exchange,
            error.status,
            error.body(),
            settings,
            headers=headers,
            model_id=model_id if isinstance(model_id, str) else None,
        )

    def _send_json(
        self,
        exchange: Exchange,
        status: int,
        body: dict[str, Any],
        settings: MockSettings,
        *,
        headers: dict[str, str] | None = None,
        model_id: str | None = None,
    ) -> None:
        data = json.dumps(body).encode()
        all_headers = {
            **self.state.rate_headers(model_id, 0, settings),
            **(headers or {}),
        }
        if "x-request-id" not in all_headers:
            all_headers["x-request-id"] = self.state.next_request_id()
        # Recorded before the answer leaves, so a client that has its answer
        # always finds its request in server.requests.
        self.state.record(exchange.recorded_as(status))
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in all_headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()


def _key_accepted(authorization: str | None, settings: MockSettings) -> bool:
    if authorization is None:
        return False
    scheme, _, key = authorization.partition(" ")
    key = key.strip()
    if scheme.lower() != "bearer" or not key:
        return False
    if settings.api_key is not None:
        return key == settings.api_key
    return not key.lower().startswith(REJECTED_KEY_PREFIXES)


def _usage(
    request: ChatRequest, completion: Completion, settings: MockSettings
) -> dict[str, Any]:
    rate = (
        settings.tokens_per_second
        or request.model.tokens_per_second
        or DEFAULT_TOKENS_PER_SECOND
    )
    return usage_body(
        completion, queue_s=settings.latency_ms / 1000, tokens_per_second=rate
    )


def _stream_error(after: int) -> ApiError:
    return ApiError(
        500,
        f"The server had an error while streaming the response (injected after {after} chunks).",
        "internal_server_error",
        "stream_error",
    )
