"""Rate-limit budgets and injected faults, the same for every protocol.

Not thread-safe: the server holds its lock. Budgets are per model id, so a Groq,
an OpenAI and an Anthropic model never share one.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from catalyst.local_server.errors import ApiError, go_duration, retry_headers, server_error
from catalyst.local_server.settings import MockSettings

WINDOW_S = 60.0

# The wording of Groq's rate-limit messages; the other protocols reuse the text
# (clients read the status and headers, not the sentence).
ORGANIZATION = "org_mock"
SERVICE_TIER = "on_demand"
RATE_LIMIT_DOCS = (
    "Visit https://console.groq.com/docs/rate-limits for more information."
)

# Plausible figures for the rate-limit headers when no limit is configured:
# Groq reports requests per day and tokens per minute.
DEFAULT_REQUESTS_LIMIT = 500_000
DEFAULT_TOKENS_LIMIT = 250_000
DEFAULT_RPM_FOR_MESSAGES = 1_000
DEFAULT_RESET_REQUESTS = "172.8ms"
DEFAULT_RESET_TOKENS = "120ms"

SERVER_ERROR_STATUSES = (500, 502, 503)


class SlidingWindow:
    """Amounts spent in the last WINDOW_S seconds."""

    def __init__(self) -> None:
        self._entries: deque[tuple[float, int]] = deque()

    def _prune(self, now: float) -> None:
        while self._entries and self._entries[0][0] + WINDOW_S <= now:
            self._entries.popleft()

    def used(self, now: float) -> int:
        self._prune(now)
        return sum(amount for _, amount in self._entries)

    def add(self, now: float, amount: int) -> None:
        self._entries.append((now, amount))

    def wait_to_fit(self, now: float, limit: int, amount: int) -> float:
        """Seconds until `amount` more fits under `limit` (0 if it fits now)."""
        excess = self.used(now) + amount - limit
        if excess <= 0:
            return 0.0
        for spent_at, spent in self._entries:
            excess -= spent
            if excess <= 0:
                return spent_at + WINDOW_S - now
        return WINDOW_S

    def until_empty(self, now: float) -> float:
        """Seconds until the whole budget is back, which is what Groq's reset headers mean."""
        self._prune(now)
        if not self._entries:
            return 0.0
        return self._entries[-1][0] + WINDOW_S - now


@dataclass
class _ModelBudget:
    requests: SlidingWindow
    tokens: SlidingWindow



def rate_limit_error(
    model_id: str,
    kind: str,
    limit: int,
    used: int,
    requested: int,
    wait_s: float,
    headers: dict[str, str],
) -> ApiError:
    unit = (
        "requests per minute (RPM)" if kind == "requests" else "tokens per minute (TPM)"
    )
    return ApiError(
        429,
        f"Rate limit reached for model `{model_id}` in organization `{ORGANIZATION}` "
        f"service tier `{SERVICE_TIER}` on {unit}: Limit {limit}, Used {used}, "
        f"Requested {requested}. Please try again in {go_duration(wait_s)}. {RATE_LIMIT_DOCS}",
        kind,
        "rate_limit_exceeded",
        headers=headers,
    )


class RateLimiter:
    """Per-model sliding-window RPM/TPM budgets, as Groq applies them per model."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._budgets: dict[str, _ModelBudget] = {}

    def reset(self) -> None:
        self._budgets.clear()

    def _budget(self, model_id: str) -> _ModelBudget:
        budget = self._budgets.get(model_id)
        if budget is None:
            budget = _ModelBudget(SlidingWindow(), SlidingWindow())
            self._budgets[model_id] = budget
        return budget

    def admit(
        self, model_id: str, tokens: int, settings: MockSettings
    ) -> ApiError | None:
        """Count the request against the RPM budget, or the 429/413 Groq would send.

        A refused request spends nothing. Tokens are spent later, by `spend_tokens`,
        only when a completion is actually produced.
        """
        now = self._clock()
        budget = self._budget(model_id)
        rpm, tpm = settings.rpm_limit, settings.tpm_limit
        if tpm is not None and tokens > tpm:
            return ApiError(
                413,
                f"Request too large for model `{model_id}` in organization `{ORGANIZATION}` "
                f"service tier `{SERVICE_TIER}` on tokens per minute (TPM): Limit {tpm}, "
                f"Requested {tokens}, please reduce your message size and try again. "
                f"{RATE_LIMIT_DOCS}",
                "tokens",
                "rate_limit_exceeded",
            )
        if rpm is not None:
            wait = budget.requests.wait_to_fit(now, rpm, 1)
            if wait > 0:
                used = budget.requests.used(now)
                return self._refusal(model_id, "requests", rpm, used, 1, wait, settings)
        if tpm is not None:
            wait = budget.tokens.wait_to_fit(now, tpm, tokens)
            if wait > 0:
                used = budget.tokens.used(now)
                return self._refusal(
                    model_id, "tokens", tpm, used, tokens, wait, settings
                )
        budget.requests.add(now, 1)
        return None

    def _refusal(
        self,
        model_id: str,
        kind: str,
        limit: int,
        used: int,
        requested: int,
        wait: float,
        settings: MockSettings,
    ) -> ApiError:
        wait_ms = (
            math.ceil(wait * 1000) if settings.retry_after_ms is not None else None
        )
        headers = retry_headers(wait, wait_ms, settings.retry_after_date)
        return rate_limit_error(model_id, kind, limit, used, requested, wait, headers)

    def spend_tokens(self, model_id: str, tokens: int) -> None:
        self._budget(model_id).tokens.add(self._clock(), tokens)

    def headers(
        self, model_id: str | None, tokens: int, settings: MockSettings
    ) -> dict[str, str]:
        """Groq's x-ratelimit-* headers; real figures for whichever limits are configured."""
        now = self._clock()
        budget = self._budgets.get(model_id) if model_id is not None else None
        headers = {
            "x-ratelimit-limit-requests": str(DEFAULT_REQUESTS_LIMIT),
            "x-ratelimit-limit-tokens": str(DEFAULT_TOKENS_LIMIT),
            "x-ratelimit-remaining-requests": str(DEFAULT_REQUESTS_LIMIT - 1),
            "x-ratelimit-remaining-tokens": str(max(0, DEFAULT_TOKENS_LIMIT - tokens)),
            "x-ratelimit-reset-requests": DEFAULT_RESET_REQUESTS,
            "x-ratelimit-reset-tokens": DEFAULT_RESET_TOKENS,
        }
        if settings.rpm_limit is not None:
            used = budget.requests.used(now) if budget else 0
            reset = budget.requests.until_empty(now) if budget else 0.0
            headers["x-ratelimit-limit-requests"] = str(settings.rpm_limit)
            headers["x-ratelimit-remaining-requests"] = str(
                max(0, settings.rpm_limit - used)
            )
            headers["x-ratelimit-reset-requests"] = go_duration(reset)
        if settings.tpm_limit is not None:
            used = budget.tokens.used(now) if budget else 0
            reset = budget.tokens.until_empty(now) if budget else 0.0
            headers["x-ratelimit-limit-tokens"] = str(settings.tpm_limit)
            headers["x-ratelimit-remaining-tokens"] = str(
                max(0, settings.tpm_limit - used)
            )
            headers["x-ratelimit-reset-tokens"] = go_duration(reset)
        headers.update(settings.rate_limit_headers)
        return headers


class DropConnection:
    """Marker: close the socket without answering."""


DROP = DropConnection()


class FaultInjector:
    """Decides, per admitted chat request, whether to fail it on purpose."""

    def __init__(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._seen = 0

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._seen = 0

    def next_fault(
        self,
        model_id: str,
        settings: MockSettings,
        server_statuses: tuple[int, ...] = SERVER_ERROR_STATUSES,
    ) -> ApiError | DropConnection | None:
        self._seen += 1
        # One draw per request whatever the settings, so the n-th request meets
        # the same fault whichever other knobs a test turns.
        draw = self._rng.random()
        every = settings.rate_limit_every
        if every and self._seen % every == 0:
            return self._injected_rate_limit(model_id, settings)
        threshold = settings.reset_share
        if draw < threshold:
            return DROP
        threshold += settings.server_error_share
        if draw < threshold:
            return server_error(self._rng.choice(server_statuses))
        threshold += settings.rate_limit_share
        if draw < threshold:
            return self._injected_rate_limit(model_id, settings)
        return None

    @staticmethod
    def _injected_rate_limit(model_id: str, settings: MockSettings) -> ApiError:
        wait_ms = settings.retry_after_ms
        wait = wait_ms / 1000 if wait_ms is not None else settings.retry_after_s
        headers = retry_headers(settings.retry_after_s, wait_ms, settings.retry_after_date)
        limit = settings.rpm_limit or DEFAULT_RPM_FOR_MESSAGES
        return rate_limit_error(model_id, "requests", limit, limit, 1, wait, headers)
