"""The HTTP side: one handler per connection; each request goes to its protocol module.

Which protocol answers is decided by the path, and for the one path two
providers share (`/v1/models`) by the request's headers: see `routing.py`.
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler
from typing import Any, Protocol
from urllib.parse import urlsplit

from catalyst.local_server.errors import ApiError, server_error
from catalyst.local_server.exchange import Exchange
from catalyst.local_server.responder import Responder
from catalyst.local_server.routing import pick_wire
from catalyst.local_server.state import ServerState

logger = logging.getLogger(__name__)

DISCONNECTS = (
    BrokenPipeError,
    ConnectionResetError,
    ConnectionAbortedError,
    TimeoutError,
)


class StateHolder(Protocol):
    state: ServerState


class LocalHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # http.server sends headers and body in separate writes; with Nagle on, each
    # response can stall ~40 ms on delayed ACKs and swamp latency measurements.
    disable_nagle_algorithm = True
    server_version = "catalyst-local-server"
    sys_version = ""
    # Idle keep-alive connections must not pin a thread forever in the CLI server.
    timeout = 120

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the server is used inside test runs and generated-script runs."""

    def send_error(
        self, code: int, message: str | None = None, explain: str | None = None
    ) -> None:
        """JSON instead of http.server's HTML page for unparsable requests.

        The request could not be parsed, so its protocol is unknown: the body
        has the `{"error": {...}}` shape the OpenAI-style SDKs read.
        """
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
        responder: Responder | None = None
        try:
            exchange = Exchange(self, path, self._read_body())
            wire = pick_wire(exchange)
            responder = Responder(self, self.state, exchange, wire, self.state.settings)
            if wire.key_accepted(exchange, responder.settings):
                wire.handle(responder)
            else:
                responder.send_error(wire.unauthorized())
        except DISCONNECTS:
            self.close_connection = True
        except Exception:
            logger.exception("local server failed on %s %s", self.command, path)
            self.close_connection = True
            if responder is not None and not responder.exchange.recorded:
                responder.send_error(server_error(500))

    def _read_body(self) -> bytes:
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""


# The old name, for code that subclassed or referenced the Groq-only handler.
GroqHandler = LocalHandler
