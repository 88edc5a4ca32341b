"""The record of one request. Credentials are never kept."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler
from typing import Any

from catalyst.local_server.settings import RecordedRequest

# Headers that can carry credentials; none of them is ever recorded.
SECRET_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)


class Exchange:
    """What one request carried, so it can be recorded once its answer is known."""

    def __init__(
        self, handler: BaseHTTPRequestHandler, path: str, raw_body: bytes
    ) -> None:
        self.received_at = time.monotonic()
        self.method = handler.command
        self.path = path
        self.headers = {
            name.lower(): value
            for name, value in handler.headers.items()
            if name.lower() not in SECRET_HEADERS
        }
        # Kept for the key check only, never recorded: Bearer for Groq, OpenAI
        # and Voyage, x-api-key for Anthropic.
        self.authorization = handler.headers.get("authorization")
        self.api_key = handler.headers.get("x-api-key")
        self.body: Any = None
        self.body_error: str | None = None
        # The bytes as they came: a multipart upload is not JSON; its protocol
        # parses it (and sets `body` to what is worth recording).
        self.raw_body = raw_body
        self.content_type = handler.headers.get("content-type")
        if raw_body and (self.content_type or "").lower().startswith("multipart/"):
            self.body_error = "a multipart body is not JSON"
        elif raw_body:
            try:
                self.body = json.loads(raw_body)
            except ValueError as error:
                self.body_error = str(error)
        try:
            self.retry_count = int(handler.headers.get("x-stainless-retry-count", "0"))
        except ValueError:
            self.retry_count = 0
        self.recorded = False

    def recorded_as(self, status: int | None) -> RecordedRequest:
        self.recorded = True
        return RecordedRequest(
            method=self.method,
            path=self.path,
            headers=self.headers,
            authorization_present=self.authorization is not None or self.api_key is not None,
            body=self.body,
            retry_count=self.retry_count,
            status=status,
            received_at=self.received_at,
        )
