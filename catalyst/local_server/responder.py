"""Writing one answer: JSON, SSE streams, errors in the protocol's format, dropped sockets.

Every answer is recorded before it leaves, so a client that has its answer
always finds its request in `server.requests`.
"""

from __future__ import annotations

import json
import socket
import struct
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from catalyst.local_server.errors import ApiError
from catalyst.local_server.exchange import Exchange
from catalyst.local_server.settings import MockSettings
from catalyst.local_server.state import ServerState

if TYPE_CHECKING:
    from catalyst.local_server.protocol import Wire


class Responder:
    """The handler, the request and the protocol, for one answer."""

    def __init__(
        self,
        handler: BaseHTTPRequestHandler,
        state: ServerState,
        exchange: Exchange,
        wire: Wire,
        settings: MockSettings,
    ) -> None:
        self.handler = handler
        self.state = state
        self.exchange = exchange
        self.wire = wire
        self.settings = settings

    # -- JSON answers ------------------------------------------------------------

    def send_json(
        self,
        status: int,
        body: dict[str, Any],
        *,
        headers: dict[str, str] | None = None,
        model_id: str | None = None,
    ) -> None:
        all_headers = {
            **self.wire.rate_headers(self.state.rate_headers(model_id, 0, self.settings)),
            **(headers or {}),
        }
        if self.wire.request_id_header not in all_headers:
            all_headers[self.wire.request_id_header] = self.state.next_request_id()
        self._write_json(status, body, all_headers)

    def send_error(
        self,
        error: ApiError,
        model_id: Any = None,
        extra_headers: dict[str, str] | None = None,
    ) -> None:
        """The error in the protocol's body format; the same request id in body and header."""
        request_id = self.state.next_request_id()
        headers = {
            **dict(error.headers if extra_headers is None else extra_headers),
            self.wire.request_id_header: request_id,
        }
        self.send_json(
            error.status,
            self.wire.error_body(error, request_id),
            headers=headers,
            model_id=model_id if isinstance(model_id, str) else None,
        )

    def send_bytes(
        self, status: int, data: bytes, content_type: str, headers: dict[str, str]
    ) -> None:
        """A non-JSON answer (audio, plain text) with the headers given."""
        all_headers = dict(headers)
        if self.wire.request_id_header not in all_headers:
            all_headers[self.wire.request_id_header] = self.state.next_request_id()
        self._write(status, data, content_type, all_headers)

    def _write_json(self, status: int, body: dict[str, Any], headers: dict[str, str]) -> None:
        self._write(status, json.dumps(body).encode(), "application/json", headers)

    def _write(self, status: int, data: bytes, content_type: str, headers: dict[str, str]) -> None:
        self.state.record(self.exchange.recorded_as(status))
        handler = self.handler
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(data)
        handler.wfile.flush()

    # -- streams -----------------------------------------------------------------

    def start_stream(self, headers: dict[str, str]) -> None:
        self.state.record(self.exchange.recorded_as(200))
        handler = self.handler
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        # Chunked framing, not Connection: close, so the connection survives for
        # keep-alive and a cut stream is detectable as an incomplete body.
        handler.send_header("Transfer-Encoding", "chunked")
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()

    def write_event(self, data: bytes) -> None:
        # wfile is unbuffered (wbufsize 0), so each event leaves in one send as
        # soon as it is written; flush() keeps that true if buffering is added.
        self.handler.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))
        self.handler.wfile.flush()

    def end_stream(self) -> None:
        self.handler.wfile.write(b"0\r\n\r\n")
        self.handler.wfile.flush()

    def cut_stream(self) -> None:
        """Close without the final chunk: the client sees an incomplete body."""
        self.handler.close_connection = True

    # -- pacing and faults -------------------------------------------------------

    def pause(self, seconds: float) -> None:
        if seconds > 0:
            # Wakes at once when the server stops, so stop() never waits on a sleep.
            self.state.stopping.wait(seconds)

    def drop(self) -> None:
        self.state.record(self.exchange.recorded_as(None))
        # Linger 0 turns the close into a TCP reset, as a crashed upstream would.
        self.handler.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        self.handler.close_connection = True
