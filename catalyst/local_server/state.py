"""Everything the request handlers share, behind one lock."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from catalyst.local_server.errors import ApiError
from catalyst.local_server.faults import (
    SERVER_ERROR_STATUSES,
    DropConnection,
    FaultInjector,
    RateLimiter,
)
from catalyst.local_server.settings import MockSettings, RecordedRequest

# How long a held chat request waits for the others (hold_until_in_flight).
HOLD_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Admission:
    """The outcome of the shared checks for one valid chat or embeddings request."""

    refusal: ApiError | DropConnection | None
    completion_number: int
    rate_headers: dict[str, str]


class ServerState:
    def __init__(self, settings: MockSettings, clock: Callable[[], float]) -> None:
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._settings = settings
        self._records: list[RecordedRequest] = []
        self._limiter = RateLimiter(clock)
        self._faults = FaultInjector(settings.seed)
        self._request_count = 0
        self._completion_count = 0
        self._in_flight = 0
        self._in_flight_changed = threading.Condition(self.lock)
        self._hold_generation = 0
        self.max_in_flight = 0
        # TCP connections accepted: how a test sees whether clients reuse a pool.
        self.connections_accepted = 0

    @property
    def settings(self) -> MockSettings:
        with self.lock:
            return self._settings

    @settings.setter
    def settings(self, settings: MockSettings) -> None:
        with self.lock:
            if settings.seed != self._settings.seed:
                self._faults.reset(settings.seed)
            self._settings = settings

    def update(self, changes: dict[str, Any]) -> MockSettings:
        with self.lock:
            settings = dataclasses.replace(self._settings, **changes)
            if settings.seed != self._settings.seed:
                self._faults.reset(settings.seed)
            self._settings = settings
            return settings

    def reset(self) -> None:
        with self.lock:
            self._records.clear()
            self._limiter.reset()
            self._faults.reset(self._settings.seed)
            self._request_count = 0
            self._completion_count = 0
            self.max_in_flight = self._in_flight
            self.connections_accepted = 0

    def enter_chat(self, hold_until: int) -> None:
        """Count a chat request in flight; hold it until `hold_until` are."""
        with self._in_flight_changed:
            self._in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self._in_flight)
            if not hold_until:
                return
            if self._in_flight >= hold_until:
                # Release every waiter at once: one that wakes after another
                # already left would otherwise see the count below the bar again.
                self._hold_generation += 1
                self._in_flight_changed.notify_all()
                return
            generation = self._hold_generation
            self._in_flight_changed.wait_for(
                lambda: self._hold_generation != generation or self.stopping.is_set(),
                timeout=HOLD_TIMEOUT_S,
            )

    def count_connection(self) -> None:
        with self.lock:
            self.connections_accepted += 1

    def leave_chat(self) -> None:
        with self.lock:
            self._in_flight -= 1

    def next_request_id(self) -> str:
        with self.lock:
            self._request_count += 1
            return f"req_mock_{self._request_count}"

    def record(self, request: RecordedRequest) -> None:
        with self.lock:
            self._records.append(request)

    def records(self) -> list[RecordedRequest]:
        with self.lock:
            return list(self._records)

    def rate_headers(
        self, model_id: str | None, tokens: int, settings: MockSettings
    ) -> dict[str, str]:
        with self.lock:
            return self._limiter.headers(model_id, tokens, settings)

    def admit_chat(
        self,
        model_id: str,
        tokens: int,
        settings: MockSettings,
        server_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES,
    ) -> Admission:
        """Real rate limits first, then injected faults; a survivor spends its tokens.

        `server_statuses` are the 5xx codes the protocol's injected errors use
        (Anthropic's include 529 overloaded).
        """
        with self.lock:
            refusal: ApiError | DropConnection | None = self._limiter.admit(
                model_id, tokens, settings
            )
            if refusal is None:
                refusal = self._faults.next_fault(model_id, settings, server_statuses)
            number = 0
            if refusal is None:
                self._limiter.spend_tokens(model_id, tokens)
                self._completion_count += 1
                number = self._completion_count
            headers = self._limiter.headers(model_id, tokens, settings)
            return Admission(refusal, number, headers)
