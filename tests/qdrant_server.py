"""A small stand-in for a Qdrant server, for the url path of the qdrant nodes.

No Qdrant server binary can be had here, so this serves the few REST endpoints the
nodes call (collection exists / info / list / create, upsert, query) in Qdrant's
JSON envelope, backed by qdrant-client's own embedded Qdrant. It is a fake: it
proves the script speaks REST through qdrant-client, sends the API key and maps
error statuses; it proves nothing about a real server's behaviour beyond that.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from qdrant_client import QdrantClient, models

_COLLECTION = re.compile(r"^/collections/(?P<name>[^/]+)(?P<rest>/.*)?$")


@dataclass
class Request:
    method: str
    path: str
    api_key: str | None


@dataclass
class FakeQdrant:
    """Settings and the record of what arrived."""

    api_key: str | None = None
    # Statuses to answer the next requests with, in order, before serving normally.
    failures: list[int] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)
    store: QdrantClient = field(default_factory=lambda: QdrantClient(location=":memory:"))
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeQdrantServer:
    """`with FakeQdrantServer() as server:` then `server.url`."""

    def __init__(self, fake: FakeQdrant | None = None) -> None:
        self.fake = fake or FakeQdrant()
        handler = type("Handler", (_Handler,), {"fake": self.fake})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FakeQdrantServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self.fake.store.close()


class _Handler(BaseHTTPRequestHandler):
    fake: FakeQdrant
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"null")
        path = urlsplit(self.path).path
        fake = self.fake
        with fake.lock:
            fake.requests.append(Request(self.command, path, self.headers.get("api-key")))
            status, result, error = self._answer(path, body)
        self._reply(status, result=result, error=error)

    def _answer(self, path: str, body: Any) -> tuple[int, Any, str | None]:
        fake = self.fake
        failure = fake.failures.pop(0) if fake.failures else None
        if failure is not None:
            return failure, None, f"injected {failure}"
        if fake.api_key is not None and self.headers.get("api-key") != fake.api_key:
            return 401, None, "Must provide an API key or an Authorization bearer token"
        try:
            return 200, self._route(self.command, path, body), None
        except LookupError as exc:
            return 404, None, str(exc)
        except ValueError as exc:
            return 400, None, f"Wrong input: {exc}"

    def _route(self, method: str, path: str, body: Any) -> Any:
        store = self.fake.store
        if (method, path) == ("GET", "/collections"):
            return store.get_collections().model_dump(mode="json")
        match = _COLLECTION.match(path)
        if match is None:
            raise LookupError(f"no route {method} {path}")
        name, rest = match["name"], match["rest"] or ""
        if (method, rest) == ("GET", "/exists"):
            return {"exists": store.collection_exists(name)}
        if (method, rest) == ("PUT", ""):
            create = models.CreateCollection.model_validate(body)
            return store.create_collection(name, vectors_config=create.vectors)
        if not store.collection_exists(name):
            raise LookupError(f"Not found: Collection `{name}` doesn't exist!")
        if (method, rest) == ("GET", ""):
            return store.get_collection(name).model_dump(mode="json")
        if (method, rest) == ("PUT", "/points"):
            points = models.PointsList.model_validate(body)
            return store.upsert(name, points=points.points).model_dump(mode="json")
        if (method, rest) == ("POST", "/points/query"):
            query = models.QueryRequest.model_validate(body)
            response = store.query_points(
                name, query=query.query, using=query.using, query_filter=query.filter,
                limit=query.limit or 10, score_threshold=query.score_threshold,
                with_payload=query.with_payload if query.with_payload is not None else True,
            )
            return response.model_dump(mode="json")
        raise LookupError(f"no route {method} {path}")

    def _reply(self, status: int, *, result: Any = None, error: str | None = None) -> None:
        envelope: dict[str, Any] = {"time": 0.0}
        if error is None:
            envelope.update(result=result, status="ok")
        else:
            envelope["status"] = {"error": error}
        data = json.dumps(envelope).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
