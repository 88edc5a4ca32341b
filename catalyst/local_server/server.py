"""One local server speaking Groq's, OpenAI's and Anthropic's wire protocols.

Standard library only, so generated scripts can be exercised through each
provider's real SDK without network access or an API key:
`GROQ_BASE_URL=server.base_url`, `OPENAI_BASE_URL=server.openai_base_url`
(`.../v1`), `ANTHROPIC_BASE_URL=server.anthropic_base_url`; Voyage-shaped
embeddings at `server.voyage_base_url` (`.../voyage/v1`). One process, one set
of fault switches (MockSettings) and one request recording for all of them.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from http.server import ThreadingHTTPServer
from types import TracebackType
from typing import Any

from catalyst.local_server.handler import DISCONNECTS, LocalHandler
from catalyst.local_server.settings import MockSettings, RecordedRequest
from catalyst.local_server.state import ServerState

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
_POLL_INTERVAL_S = 0.05


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    block_on_close = False
    # Fan-outs open many connections at once; the default backlog of 5
    # overflows on a busy machine and the client waits a second to retry.
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], family: socket.AddressFamily, state: ServerState
    ):
        self.address_family = family
        self.state = state
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, LocalHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls socket.getfqdn, a reverse DNS lookup that
        # can take seconds on machines without a resolver.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        self.state.count_connection()
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """Unblock handler threads parked on idle keep-alive connections."""
        with self._open_lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client hanging up is normal traffic, not something to print a
        # traceback about; anything else is a bug in the mock and is logged.
        error = sys.exc_info()[1]
        if isinstance(error, DISCONNECTS) or (
            isinstance(error, OSError) and self.state.stopping.is_set()
        ):
            return
        logger.error("local server error with %s", client_address, exc_info=error)


class LocalServer:
    """The Groq/OpenAI/Anthropic-protocol server on a loopback port, in a background thread.

    Use as a context manager, or call start() and stop().
    """

    def __init__(
        self,
        settings: MockSettings | None = None,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._host = host
        self._requested_port = port
        self._state = ServerState(settings or MockSettings(), clock)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LocalServer:
        if self._httpd is not None:
            raise RuntimeError("LocalServer is already running")
        family = socket.AF_INET6 if ":" in self._host else socket.AF_INET
        self._state.stopping.clear()
        self._httpd = _HTTPServer(
            (self._host, self._requested_port), family, self._state
        )
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": _POLL_INTERVAL_S},
            name=f"local-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        self._state.stopping.set()
        httpd.shutdown()
        httpd.close_open_connections()
        httpd.server_close()
        if thread is not None:
            thread.join()
        self._httpd = None
        self._thread = None

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("LocalServer is not running; call start() first")
        return self._httpd.server_port

    @property
    def base_url(self) -> str:
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self.port}"

    @property
    def groq_base_url(self) -> str:
        """GROQ_BASE_URL: the Groq SDK adds `/openai/v1` itself."""
        return self.base_url

    @property
    def openai_base_url(self) -> str:
        """OPENAI_BASE_URL: the OpenAI SDK's base carries `/v1`."""
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """ANTHROPIC_BASE_URL: the Anthropic SDK adds `/v1/...` itself."""
        return self.base_url

    @property
    def compatible_base_url(self) -> str:
        """An OpenAI-compatible host's base URL (TOGETHER_BASE_URL, OLLAMA_BASE_URL, …):
        OpenAI's wire, any model id."""
        return self.base_url + "/compatible/v1"

    @property
    def voyage_base_url(self) -> str:
        """Voyage-shaped embeddings (`voyageai.Client(base_url=...)`), under its own prefix."""
        return self.base_url + "/voyage/v1"

    def base_url_for(self, provider_name: str) -> str:
        """The value for a provider's base-URL variable (catalyst/provider_models.py)
        that aims its SDK at this server: Groq, OpenAI, Anthropic and Voyage by
        their own wires, any OpenAI-compatible host at /compatible/v1."""
        return {
            "groq": self.groq_base_url,
            "openai": self.openai_base_url,
            "anthropic": self.anthropic_base_url,
            "voyage": self.voyage_base_url,
        }.get(provider_name, self.compatible_base_url)

    @property
    def settings(self) -> MockSettings:
        return self._state.settings

    @settings.setter
    def settings(self, settings: MockSettings) -> None:
        self._state.settings = settings

    def update(self, **changes: Any) -> MockSettings:
        """Swap in a copy of the settings with these fields changed; returns the new settings."""
        return self._state.update(changes)

    @property
    def requests(self) -> list[RecordedRequest]:
        return self._state.records()

    def chat_requests(self) -> list[RecordedRequest]:
        """Chat requests of every protocol, in arrival order."""
        return [request for request in self._state.records() if request.is_chat]

    def embedding_requests(self) -> list[RecordedRequest]:
        return [request for request in self._state.records() if request.is_embedding]

    def audio_requests(self) -> list[RecordedRequest]:
        """Transcription, translation and speech requests, in arrival order (a
        multipart upload is recorded as its form fields, the file as its name and size)."""
        return [request for request in self._state.records() if request.is_audio]

    @property
    def max_in_flight(self) -> int:
        """The most chat, embeddings or audio requests handled at once since the start
        (or reset)."""
        with self._state.lock:
            return self._state.max_in_flight

    @property
    def connections_accepted(self) -> int:
        """TCP connections accepted since the start (or reset): one per pooled
        connection a client opens, so a client that reuses its pool adds none."""
        with self._state.lock:
            return self._state.connections_accepted

    def reset(self) -> None:
        """Forget recorded requests, counters, rate-limit windows; re-seed the faults."""
        self._state.reset()


# The name from when the server spoke Groq's protocol only; tests and the CLI use it.
MockGroqServer = LocalServer
